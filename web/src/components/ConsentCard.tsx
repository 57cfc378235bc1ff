import { useState } from 'react';
import { Alert, App, Button, Card, Form, Input, Modal, Select, Space, Table, Tag, Typography } from 'antd';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime } from '../lib/format';

type State = Schemas['ConsentState'];
type Consent = Schemas['ConsentRead'];
type Body = Schemas['ConsentCreate'];
const SOURCES = ['branch', 'app', 'web', 'sms_reply', 'console', 'import', 'api'] as const;

/** 营销授权 on the customer 360: current consent per channel (PIPL), DND / list membership, history, record. */
export default function ConsentCard({ customerNo }: { customerNo: string }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [form] = Form.useForm<Body>();
  const query = useQuery({
    queryKey: ['customer-consents', customerNo],
    queryFn: () => unwrap(api.GET('/api/customers/{customer_no}/consents', { params: { path: { customer_no: customerNo } } })),
  });
  const save = useMutation({
    mutationFn: (body: Body) => unwrap(api.POST('/api/customers/{customer_no}/consents', { params: { path: { customer_no: customerNo } }, body })),
    onSuccess: () => {
      setOpen(false);
      void client.invalidateQueries({ queryKey: ['customer-consents', customerNo] });
      void client.invalidateQueries({ queryKey: ['customer-contacts', customerNo] });
    },
    onError: (err) => message.error(errorMessage(err)),
  });
  const channelName = (c: string) => t(`contacts.channelNames.${c}` as 'contacts.channelNames.sms', { defaultValue: c });
  const data = query.data;
  return (
    <Card title={t('contacts.consentCard')} style={{ height: '100%' }}
          extra={can('consents.manage') && <Button size="small" onClick={() => { form.setFieldsValue({ channel: 'sms', status: 'withdrawn', source: 'branch' }); setOpen(true); }} data-testid="record-consent">{t('contacts.record')}</Button>}>
      {data?.dnd && <Alert type="error" showIcon style={{ marginBottom: 8 }} message={t('contacts.onDnd')} />}
      {data && data.lists.length > 0 && (
        <Typography.Paragraph>{t('contacts.onLists')}: {data.lists.map((l) => <Tag key={l}>{l}</Tag>)}</Typography.Paragraph>)}
      <Table<State> size="small" rowKey="channel" pagination={false} loading={query.isLoading} dataSource={data?.current ?? []} data-testid="c360-consents"
                    columns={[
                      { title: t('contacts.channel'), dataIndex: 'channel', render: channelName },
                      { title: t('contacts.status'), dataIndex: 'status', render: (s: State['status']) => (s ? t(`contacts.statuses.${s}` as 'contacts.statuses.granted') : <Typography.Text type="secondary">{t('contacts.noRecord')}</Typography.Text>) },
                      { title: t('contacts.effective'), dataIndex: 'effective', render: (e: boolean) => <Tag color={e ? 'green' : 'red'}>{e ? t('contacts.allowed') : t('contacts.blocked')}</Tag> },
                      { title: t('contacts.source'), dataIndex: 'source', render: (s: string | null) => (s ? t(`contacts.sources.${s}` as 'contacts.sources.app', { defaultValue: s }) : '-') },
                      { title: t('contacts.time'), dataIndex: 'recorded_at', render: (d: string | null) => (d ? formatDateTime(d) : '-') },
                    ]} />
      {data && data.history.length > 0 && (
        <details style={{ marginTop: 8 }}>
          <summary>{t('contacts.history')} ({data.history.length})</summary>
          <Table<Consent> size="small" rowKey="id" pagination={{ pageSize: 10, hideOnSinglePage: true }} dataSource={data.history}
                          columns={[
                            { title: t('contacts.time'), dataIndex: 'recorded_at', render: formatDateTime },
                            { title: t('contacts.channel'), dataIndex: 'channel', render: channelName },
                            { title: t('contacts.status'), dataIndex: 'status', render: (s: string) => t(`contacts.statuses.${s}` as 'contacts.statuses.granted', { defaultValue: s }) },
                            { title: t('contacts.source'), dataIndex: 'source', render: (s: string) => t(`contacts.sources.${s}` as 'contacts.sources.app', { defaultValue: s }) },
                            { title: t('contacts.note'), dataIndex: 'note', render: (n: string | null) => n ?? '-' },
                          ]} />
        </details>)}
      <Modal open={open} title={t('contacts.record')} onCancel={() => setOpen(false)} onOk={() => form.submit()} confirmLoading={save.isPending}
             okText={t('app.save')} cancelText={t('app.cancel')} destroyOnClose>
        <Form form={form} layout="vertical" onFinish={(v) => save.mutate(v)}>
          <Space wrap>
            <Form.Item name="channel" label={t('contacts.channel')} rules={[{ required: true }]}>
              <Select style={{ width: 160 }} options={['all', 'sms', 'app_push', 'in_app', 'wechat', 'wecom', 'outbound_call', 'email', 'rm_task', 'webhook'].map((c) => ({ value: c, label: channelName(c) }))} />
            </Form.Item>
            <Form.Item name="status" label={t('contacts.status')} rules={[{ required: true }]}>
              <Select style={{ width: 120 }} options={(['withdrawn', 'granted'] as const).map((s) => ({ value: s, label: t(`contacts.statuses.${s}`) }))} data-testid="consent-status" />
            </Form.Item>
            <Form.Item name="source" label={t('contacts.source')} rules={[{ required: true }]}>
              <Select style={{ width: 140 }} options={SOURCES.map((s) => ({ value: s, label: t(`contacts.sources.${s}`) }))} />
            </Form.Item>
          </Space>
          <Form.Item name="note" label={t('contacts.note')}><Input maxLength={500} /></Form.Item>
        </Form>
      </Modal>
    </Card>
  );
}
