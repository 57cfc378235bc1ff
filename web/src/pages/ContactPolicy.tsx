import { useState } from 'react';
import { Alert, App, Button, Card, Col, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tag, TimePicker, Typography } from 'antd';
import type { TableProps } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { currentLanguage } from '../i18n';
import { dayjs, formatDateTime } from '../lib/format';

type Rule = Schemas['ContactRuleRead'];
type Kind = Rule['kind'];
type DecideResult = Schemas['DecideResult'];
const CHANNELS = ['app_push', 'sms', 'in_app', 'wechat', 'wecom', 'outbound_call', 'email', 'rm_task', 'webhook'] as const;
type Channel = (typeof CHANNELS)[number];

interface RuleForm {
  kind: 'cap' | 'min_interval' | 'quiet_hours';
  name: string;
  channel?: Channel | null;
  campaign_type?: 'marketing' | 'service' | 'care' | null;
  window_hours?: number | null;
  max_contacts?: number | null;
  min_interval_hours?: number | null;
  quiet?: [dayjs.Dayjs, dayjs.Dayjs];
  timezone: string;
  enabled: boolean;
  description?: string | null;
}

function toBody(v: RuleForm) {
  return {
    kind: v.kind, name: v.name, channel: v.channel ?? null, campaign_type: v.campaign_type ?? null,
    window_hours: v.kind === 'cap' ? v.window_hours ?? null : null,
    max_contacts: v.kind === 'cap' ? v.max_contacts ?? null : null,
    min_interval_hours: v.kind === 'min_interval' ? v.min_interval_hours ?? null : null,
    quiet_start: v.kind === 'quiet_hours' && v.quiet ? v.quiet[0].format('HH:mm:00') : null,
    quiet_end: v.kind === 'quiet_hours' && v.quiet ? v.quiet[1].format('HH:mm:00') : null,
    timezone: v.timezone, enabled: v.enabled, description: v.description || null,
  };
}

/** 接触策略: rolling caps, minimum intervals and quiet hours; consent defaults; a dry-run decision. */
export default function ContactPolicyPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const zh = currentLanguage() === 'zh-CN';
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const [form] = Form.useForm<RuleForm>();
  const kind = Form.useWatch('kind', form);
  const rules = useQuery({ queryKey: ['contact-rules'], queryFn: () => unwrap(api.GET('/api/contact-rules')) });
  const meta = useQuery({ queryKey: ['contact-policy-meta'], queryFn: () => unwrap(api.GET('/api/contact-policy/meta')) });
  const refresh = () => client.invalidateQueries({ queryKey: ['contact-rules'] });
  const save = useMutation({
    mutationFn: (v: RuleForm) => {
      const body = toBody(v);
      if (editing && editing !== 'new') {
        const { kind: _kind, ...update } = body;
        return unwrap(api.PATCH('/api/contact-rules/{rule_id}', { params: { path: { rule_id: editing.id } }, body: update }));
      }
      return unwrap(api.POST('/api/contact-rules', { body }));
    },
    onSuccess: () => { void message.success(t('contacts.saved')); setEditing(null); void refresh(); },
    onError: (err) => message.error(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE('/api/contact-rules/{rule_id}', { params: { path: { rule_id: id } } })),
    onSuccess: refresh,
    onError: (err) => message.error(errorMessage(err)),
  });
  const toggle = useMutation({
    mutationFn: (r: Rule) => unwrap(api.PATCH('/api/contact-rules/{rule_id}', { params: { path: { rule_id: r.id } }, body: { enabled: !r.enabled } })),
    onSuccess: refresh,
    onError: (err) => message.error(errorMessage(err)),
  });

  const open = (rule: Rule | 'new') => {
    setEditing(rule);
    if (rule === 'new') {
      form.setFieldsValue({ kind: 'cap', name: '', channel: null, campaign_type: null, window_hours: 168, max_contacts: 2,
                            timezone: 'Asia/Shanghai', enabled: true, quiet: undefined, min_interval_hours: 24, description: null });
    } else {
      form.setFieldsValue({
        kind: rule.kind as RuleForm['kind'], name: rule.name, channel: (rule.channel as Channel | null) ?? null,
        campaign_type: (rule.campaign_type as RuleForm['campaign_type']) ?? null, window_hours: rule.window_hours,
        max_contacts: rule.max_contacts, min_interval_hours: rule.min_interval_hours, timezone: rule.timezone,
        enabled: rule.enabled, description: rule.description,
        quiet: rule.quiet_start && rule.quiet_end ? [dayjs(rule.quiet_start, 'HH:mm:ss'), dayjs(rule.quiet_end, 'HH:mm:ss')] : undefined,
      });
    }
  };

  const channelName = (c: string | null | undefined) => (c ? t(`contacts.channelNames.${c}` as 'contacts.channelNames.sms', { defaultValue: c }) : t('contacts.allChannels'));
  const columns: TableProps<Rule>['columns'] = [
    { title: t('contacts.kind'), dataIndex: 'kind', width: 120, render: (k: Kind) => <Tag color={k === 'cap' ? 'blue' : k === 'quiet_hours' ? 'purple' : 'gold'}>{t(`contacts.kinds.${k}` as 'contacts.kinds.cap')}</Tag> },
    { title: t('contacts.name'), dataIndex: 'name' },
    { title: t('contacts.rule'), key: 'summary', render: (_, r) => (
      <Space size={4} wrap>
        <span>{zh ? r.summary_zh : r.summary_en}</span>
        {r.kind === 'cap' && <Tag color="cyan">{t('contacts.rolling')}</Tag>}
      </Space>) },
    { title: t('contacts.channel'), dataIndex: 'channel', width: 120, render: channelName },
    { title: t('contacts.enabled'), dataIndex: 'enabled', width: 80, render: (_: boolean, r) => <Switch size="small" checked={r.enabled} onChange={() => toggle.mutate(r)} data-testid={`rule-enabled-${r.id}`} /> },
    { title: t('app.actions'), key: 'actions', width: 150, render: (_, r) => (
      <Space size={0}>
        <Button size="small" type="link" onClick={() => open(r)}>{t('contacts.editRule')}</Button>
        <Popconfirm title={t('contacts.deleteConfirm')} onConfirm={() => remove.mutate(r.id)}><Button size="small" type="link" danger>{t('contacts.remove')}</Button></Popconfirm>
      </Space>) },
  ];

  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Card>
        <Typography.Title level={4} className="ol-page-title">{t('contacts.policyTitle')}</Typography.Title>
        <Alert type="info" showIcon style={{ marginBottom: 12 }} message={t('contacts.rolling')} description={t('contacts.policyHint')} />
        <Button type="primary" icon={<PlusOutlined />} onClick={() => open('new')} style={{ marginBottom: 12 }} data-testid="add-contact-rule">{t('contacts.addRule')}</Button>
        <Table<Rule> rowKey="id" size="small" data-testid="contact-rules-table" columns={columns} dataSource={rules.data?.items ?? []}
                     loading={rules.isFetching && !rules.data} pagination={false} />
      </Card>
      <Row gutter={16}>
        <Col xs={24} lg={10}>
          <Card title={t('contacts.consentTitle')} size="small">
            <Table size="small" rowKey="channel" pagination={false} dataSource={meta.data?.consent_defaults ?? []}
                   columns={[
                     { title: t('contacts.channel'), dataIndex: 'channel', render: channelName },
                     { title: t('contacts.consentDefault'), dataIndex: 'default', render: (d: string) => <Tag color={d === 'allowed' ? 'green' : 'red'}>{d === 'allowed' ? t('contacts.allowed') : t('contacts.blocked')}</Tag> },
                     { title: t('contacts.withdrawalBlocks'), dataIndex: 'withdrawal_blocks', render: (b: boolean) => (b ? t('app.yes') : t('app.no')) },
                     { title: t('contacts.adapter'), key: 'adapter', render: (_: unknown, r: { channel: string }) => meta.data?.adapters[r.channel] ?? '-' },
                   ]} />
          </Card>
        </Col>
        <Col xs={24} lg={14}><DecideCard channelName={channelName} /></Col>
      </Row>
      <Modal open={editing !== null} title={editing === 'new' ? t('contacts.addRule') : t('contacts.editRule')} onCancel={() => setEditing(null)}
             onOk={() => form.submit()} confirmLoading={save.isPending} okText={t('app.save')} cancelText={t('app.cancel')} destroyOnClose>
        <Form form={form} layout="vertical" onFinish={(v) => save.mutate(v)} data-testid="contact-rule-form">
          <Form.Item name="kind" label={t('contacts.kind')} rules={[{ required: true }]}>
            <Select disabled={editing !== 'new'} options={(['cap', 'min_interval', 'quiet_hours'] as const).map((k) => ({ value: k, label: t(`contacts.kinds.${k}`) }))} />
          </Form.Item>
          <Form.Item name="name" label={t('contacts.name')} rules={[{ required: true, whitespace: true }]}><Input maxLength={100} data-testid="rule-name" /></Form.Item>
          <Space wrap>
            <Form.Item name="channel" label={t('contacts.channel')}>
              <Select style={{ width: 160 }} allowClear placeholder={t('contacts.allChannels')} options={CHANNELS.map((c) => ({ value: c, label: channelName(c) }))} />
            </Form.Item>
            <Form.Item name="campaign_type" label={t('contacts.campaignType')}>
              <Select style={{ width: 140 }} allowClear placeholder={t('contacts.anyType')} options={(['marketing', 'service', 'care'] as const).map((c) => ({ value: c, label: t(`contacts.campaignTypes.${c}`) }))} />
            </Form.Item>
          </Space>
          {kind === 'cap' && (
            <Space wrap>
              <Form.Item name="window_hours" label={t('contacts.window')} rules={[{ required: true }]} extra={t('contacts.rolling')}>
                <Select style={{ width: 160 }} options={[24, 168, 720].map((h) => ({ value: h, label: t(`contacts.windows.${h}` as 'contacts.windows.24') }))} />
              </Form.Item>
              <Form.Item name="max_contacts" label={t('contacts.maxContacts')} rules={[{ required: true }]}><InputNumber min={0} max={1000} data-testid="rule-max" /></Form.Item>
            </Space>
          )}
          {kind === 'min_interval' && (
            <Form.Item name="min_interval_hours" label={t('contacts.minInterval')} rules={[{ required: true }]}><InputNumber min={1} max={8784} /></Form.Item>
          )}
          {kind === 'quiet_hours' && (
            <Space wrap>
              <Form.Item name="quiet" label={`${t('contacts.quietStart')} – ${t('contacts.quietEnd')}`} rules={[{ required: true }]}>
                <TimePicker.RangePicker format="HH:mm" order={false} />
              </Form.Item>
              <Form.Item name="timezone" label={t('contacts.timezone')}><Input style={{ width: 160 }} /></Form.Item>
            </Space>
          )}
          <Form.Item name="enabled" label={t('contacts.enabled')} valuePropName="checked"><Switch /></Form.Item>
          <Form.Item name="description" label={t('contacts.description')}><Input.TextArea rows={2} maxLength={500} /></Form.Item>
        </Form>
      </Modal>
    </Space>
  );
}

function DecideCard({ channelName }: { channelName: (c: string | null | undefined) => string }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const zh = currentLanguage() === 'zh-CN';
  const [form] = Form.useForm<{ customers: string; channels: Channel[]; priority: number }>();
  const decide = useMutation({
    mutationFn: (v: { customers: string; channels: Channel[]; priority: number }) => unwrap(api.POST('/api/contacts/decide', { body: {
      customer_nos: v.customers.split(/[\s,，]+/).filter(Boolean).slice(0, 100), channels: v.channels, priority: v.priority, campaign_type: 'marketing', expected_value_fen: 0,
    } })),
    onError: (err) => message.error(errorMessage(err)),
  });
  return (
    <Card title={t('contacts.decideTitle')} size="small">
      <Typography.Paragraph type="secondary">{t('contacts.decideHint')}</Typography.Paragraph>
      <Form form={form} layout="vertical" initialValues={{ channels: ['app_push', 'sms'], priority: 5 }} onFinish={(v) => decide.mutate(v)}>
        <Form.Item name="customers" label={t('contacts.customerNos')} rules={[{ required: true, whitespace: true }]}><Input.TextArea rows={2} data-testid="decide-customers" /></Form.Item>
        <Space wrap align="end">
          <Form.Item name="channels" label={t('contacts.channels')} rules={[{ required: true }]}>
            <Select mode="multiple" style={{ minWidth: 240 }} options={CHANNELS.map((c) => ({ value: c, label: channelName(c) }))} />
          </Form.Item>
          <Form.Item name="priority" label={t('contacts.priority')}><InputNumber min={1} max={9} /></Form.Item>
          <Form.Item><Button type="primary" htmlType="submit" loading={decide.isPending} data-testid="decide-submit">{t('contacts.decide')}</Button></Form.Item>
        </Space>
      </Form>
      {decide.data && (
        <>
          <Table<DecideResult> size="small" rowKey="customer_no" pagination={false} dataSource={decide.data.results} data-testid="decide-results"
                 columns={[
                   { title: t('customers.customerNo'), dataIndex: 'customer_no' },
                   { title: t('contacts.outcome'), dataIndex: 'outcome', render: (o: string) => <Tag color={o === 'allowed' ? 'green' : o === 'deferred' ? 'orange' : 'red'}>{t(`contacts.outcomes.${o}` as 'contacts.outcomes.allowed')}</Tag> },
                   { title: t('contacts.channel'), dataIndex: 'channel', render: (c: string | null) => (c ? channelName(c) : '-') },
                   { title: t('contacts.reason'), key: 'reason', render: (_, r) => (r.reason ? (zh ? r.reason_zh : r.reason_en) : '-') },
                   { title: t('contacts.deferUntil'), dataIndex: 'defer_until', render: (d: string | null) => (d ? formatDateTime(d) : '-') },
                 ]}
                 expandable={{ expandedRowRender: (r) => <pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{JSON.stringify(r.detail, null, 2)}</pre>, rowExpandable: (r) => !!r.detail }} />
          {decide.data.unknown.length > 0 && <Alert type="warning" style={{ marginTop: 8 }} message={`${t('contacts.unknown')}: ${decide.data.unknown.join(', ')}`} />}
        </>
      )}
    </Card>
  );
}
