import { useEffect, useMemo, useState } from 'react';
import {
  Alert, App, Button, Card, DatePicker, Descriptions, Empty, Form, Input, InputNumber, List, Popconfirm, Radio, Select, Slider, Space,
  Steps, Table, Tag, Typography,
} from 'antd';
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { dayjs, formatDateTime, formatInt, shanghaiIso } from '../lib/format';

type Campaign = Schemas['CampaignRead'];
type Config = Schemas['ConfigUpdate'];
type Wave = Schemas['WaveRead'];

const STEPS = ['info', 'mode', 'audience', 'benefit', 'channels', 'templates', 'success', 'cells', 'review'] as const;
const CHANNELS = ['app_push', 'sms', 'in_app', 'wechat', 'wecom', 'outbound_call', 'email', 'rm_task', 'webhook', 'sink'] as const;

/** Problems of a 422 invalid_campaign_config, one line each, in the console's language. */
function problemText(err: unknown, zh: boolean): string {
  if (err instanceof ApiError && Array.isArray(err.details)) {
    const lines = (err.details as { msg?: string; msg_zh?: string }[]).map((d) => (zh ? d.msg_zh ?? d.msg : d.msg)).filter(Boolean);
    if (lines.length) return lines.join('；');
  }
  return errorMessage(err);
}

/** Campaign wizard (要素配置): info → mode/waves → audience → benefit → channels → templates → success → test/control → review. */
export default function CampaignWizardPage() {
  const { t, i18n } = useTranslation();
  const zh = !i18n.language.startsWith('en');
  const { message } = App.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const campaignId = Number(useParams().campaignId);
  const [step, setStep] = useState(0);
  const campaign = useQuery({
    queryKey: ['campaign', campaignId],
    queryFn: () => unwrap(api.GET('/api/campaigns/{campaign_id}', { params: { path: { campaign_id: campaignId } } })),
  });
  const save = useMutation({
    mutationFn: (body: Config) => unwrap(api.PATCH('/api/campaigns/{campaign_id}/config', { params: { path: { campaign_id: campaignId } }, body })),
    onSuccess: (data) => {
      queryClient.setQueryData(['campaign', campaignId], data);
      message.success(t('campaignExec.saved'));
      setStep((s) => Math.min(s + 1, STEPS.length - 1));
    },
    onError: (err) => void message.error(problemText(err, zh)),
  });
  const c = campaign.data;
  if (!c) return <Card loading={campaign.isLoading} />;
  const editable = ['draft', 'ready', 'paused'].includes(c.status);
  const props = { campaign: c, save: (body: Config) => save.mutate(body), saving: save.isPending, editable };
  return (
    <Card
      title={
        <Space>
          <Typography.Text code>{c.code}</Typography.Text>
          <span data-testid="wizard-title">{c.name}</span>
          <Tag>{t(`campaignExec.statuses.${c.status}` as never, { defaultValue: c.status }) as string}</Tag>
        </Space>
      }
      extra={<Link to={`/campaigns/${c.id}`}>{t('campaignExec.detail')}</Link>}
    >
      <Steps
        size="small"
        current={step}
        onChange={setStep}
        items={STEPS.map((s) => ({ title: t(`campaignExec.steps.${s}`) }))}
        style={{ marginBottom: 24 }}
        data-testid="wizard-steps"
      />
      {!editable && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('campaignExec.statuses.' + c.status as never) as string} />}
      {step > 0 && (
        <Button style={{ marginBottom: 16 }} onClick={() => setStep(step - 1)}>
          {t('campaignExec.prev')}
        </Button>
      )}
      {STEPS[step] === 'info' && <InfoStep {...props} />}
      {STEPS[step] === 'mode' && <ModeStep {...props} />}
      {STEPS[step] === 'audience' && <AudienceStep {...props} />}
      {STEPS[step] === 'benefit' && <BenefitStep {...props} />}
      {STEPS[step] === 'channels' && <ChannelsStep {...props} />}
      {STEPS[step] === 'templates' && <TemplatesStep {...props} />}
      {STEPS[step] === 'success' && <SuccessStep {...props} />}
      {STEPS[step] === 'cells' && <CellsStep {...props} />}
      {STEPS[step] === 'review' && <ReviewStep campaign={c} onDone={() => navigate(`/campaigns/${c.id}`)} />}
    </Card>
  );
}

type StepProps = { campaign: Campaign; save: (body: Config) => void; saving: boolean; editable: boolean };

function NextButton({ saving, editable }: { saving: boolean; editable: boolean }) {
  const { t } = useTranslation();
  return (
    <Button type="primary" htmlType="submit" loading={saving} disabled={!editable} data-testid="wizard-next">
      {t('campaignExec.saveNext')}
    </Button>
  );
}

function InfoStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  type V = { name: string; description?: string; dates?: [dayjs.Dayjs | null, dayjs.Dayjs | null]; campaign_type: Config['campaign_type']; priority: number; expected_value?: number | null; lifecycle_stage?: string; business_line?: string };
  return (
    <Form<V>
      layout="vertical"
      style={{ maxWidth: 720 }}
      initialValues={{
        name: c.name, description: c.description ?? '', campaign_type: c.campaign_type as Config['campaign_type'], priority: c.priority ?? 5,
        expected_value: c.expected_value_fen != null ? c.expected_value_fen / 100 : null, lifecycle_stage: c.lifecycle_stage ?? '', business_line: c.business_line ?? '',
        dates: [c.start_date ? dayjs(c.start_date) : null, c.end_date ? dayjs(c.end_date) : null],
      }}
      onFinish={(v) =>
        save({
          name: v.name, description: v.description ?? null, campaign_type: v.campaign_type, priority: v.priority,
          expected_value_fen: v.expected_value != null ? Math.round(v.expected_value * 100) : null,
          lifecycle_stage: v.lifecycle_stage || null, business_line: v.business_line || null,
          start_date: v.dates?.[0]?.format('YYYY-MM-DD') ?? null, end_date: v.dates?.[1]?.format('YYYY-MM-DD') ?? null,
        })
      }
    >
      <Form.Item name="name" label={t('plans.campaign.name')} rules={[{ required: true, whitespace: true }]}>
        <Input maxLength={200} />
      </Form.Item>
      <Form.Item name="dates" label={t('plans.campaign.dates')}>
        <DatePicker.RangePicker allowEmpty={[true, true]} />
      </Form.Item>
      <Form.Item name="description" label={t('plans.campaign.description')}>
        <Input.TextArea rows={4} maxLength={5000} />
      </Form.Item>
      <Space wrap size="large">
        <Form.Item name="campaign_type" label={t('campaignExec.fields.campaignType')}>
          <Radio.Group options={(['marketing', 'service', 'care'] as const).map((v) => ({ value: v, label: t(`campaignExec.types.${v}`) }))} />
        </Form.Item>
        <Form.Item name="priority" label={t('campaignExec.fields.priority')}>
          <InputNumber min={1} max={9} />
        </Form.Item>
        <Form.Item name="expected_value" label={t('campaignExec.fields.expectedValue')}>
          <InputNumber min={0} step={1} />
        </Form.Item>
        <Form.Item name="lifecycle_stage" label={t('campaignExec.fields.lifecycleStage')}>
          <Input maxLength={16} style={{ width: 140 }} />
        </Form.Item>
        <Form.Item name="business_line" label={t('campaignExec.fields.businessLine')}>
          <Input maxLength={32} style={{ width: 160 }} />
        </Form.Item>
      </Space>
      <NextButton saving={saving} editable={editable} />
    </Form>
  );
}

function ModeStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [mode, setMode] = useState(c.mode);
  const [triggerId, setTriggerId] = useState<number | null>(c.trigger_id ?? null);
  const triggers = useQuery({
    queryKey: ['triggers', 'wizard'],
    queryFn: () => unwrap(api.GET('/api/triggers', { params: { query: { page_size: 100 } } })),
    enabled: mode === 'triggered',
  });
  const waves = useQuery({
    queryKey: ['campaign-waves', c.id],
    queryFn: () => unwrap(api.GET('/api/campaigns/{campaign_id}/waves', { params: { path: { campaign_id: c.id } } })),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['campaign-waves', c.id] });
  const addWave = useMutation({
    mutationFn: (body: Schemas['WaveCreate']) => unwrap(api.POST('/api/campaigns/{campaign_id}/waves', { params: { path: { campaign_id: c.id } }, body })),
    onSuccess: refresh,
    onError: (err) => void message.error(errorMessage(err)),
  });
  const deleteWave = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE('/api/campaigns/{campaign_id}/waves/{wave_id}', { params: { path: { campaign_id: c.id, wave_id: id } } })),
    onSuccess: () => {
      message.success(t('campaignExec.wave.deleted'));
      refresh();
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const [form] = Form.useForm<{ name: string; kind: 'test' | 'full'; scheduled_at?: dayjs.Dayjs | null }>();
  return (
    <Space direction="vertical" size="large" style={{ width: '100%' }}>
      <Form layout="vertical" style={{ maxWidth: 720 }}>
        <Form.Item label={t('campaignExec.fields.mode')}>
          <Radio.Group
            value={mode}
            onChange={(e) => setMode(e.target.value)}
            data-testid="wizard-mode"
            options={(['batch', 'realtime', 'triggered'] as const).map((v) => ({ value: v, label: t(`campaignExec.modes.${v}`) }))}
          />
        </Form.Item>
        {mode === 'triggered' && (
          <Form.Item label={t('campaignExec.fields.trigger')} required>
            <Select
              style={{ width: 360 }}
              value={triggerId ?? undefined}
              onChange={setTriggerId}
              loading={triggers.isFetching}
              options={(triggers.data?.items ?? []).map((tr) => ({ value: tr.id, label: tr.name }))}
            />
          </Form.Item>
        )}
      </Form>
      {mode === 'batch' && (
        <Card size="small" title={t('campaignExec.waves')}>
          <Table<Wave>
            rowKey="id"
            size="small"
            pagination={false}
            data-testid="wizard-waves"
            dataSource={waves.data ?? []}
            columns={[
              { title: t('campaignExec.wave.seq'), dataIndex: 'seq', width: 60 },
              { title: t('campaignExec.wave.name'), dataIndex: 'name' },
              { title: t('campaignExec.wave.kind'), dataIndex: 'kind', render: (k: string) => t(`campaignExec.kinds.${k}` as never) as string },
              { title: t('campaignExec.wave.scheduledAt'), dataIndex: 'scheduled_at', render: (v: string | null) => (v ? formatDateTime(v) : t('campaignExec.wave.now')) },
              { title: t('campaignExec.wave.status'), dataIndex: 'status', render: (s: string) => t(`campaignExec.waveStatuses.${s}` as never) as string },
              {
                title: t('app.actions'), key: 'a', width: 80,
                render: (_: unknown, w) => w.status === 'scheduled' && (
                  <Popconfirm title={t('campaignExec.remove')} onConfirm={() => deleteWave.mutate(w.id)}>
                    <Button size="small" type="link" danger icon={<DeleteOutlined />} />
                  </Popconfirm>
                ),
              },
            ]}
          />
          <Form
            form={form}
            layout="inline"
            style={{ marginTop: 12 }}
            initialValues={{ kind: 'full' }}
            onFinish={(v) => {
              addWave.mutate({ name: v.name, kind: v.kind, scheduled_at: v.scheduled_at ? shanghaiIso(v.scheduled_at) : null });
              form.resetFields();
            }}
          >
            <Form.Item name="name" rules={[{ required: true, whitespace: true }]}>
              <Input placeholder={t('campaignExec.wave.name')} maxLength={100} data-testid="wave-name" />
            </Form.Item>
            <Form.Item name="kind">
              <Select style={{ width: 120 }} options={(['test', 'full'] as const).map((k) => ({ value: k, label: t(`campaignExec.kinds.${k}`) }))} />
            </Form.Item>
            <Form.Item name="scheduled_at">
              <DatePicker showTime placeholder={t('campaignExec.wave.now')} />
            </Form.Item>
            <Button htmlType="submit" icon={<PlusOutlined />} loading={addWave.isPending} disabled={['stopped', 'completed'].includes(c.status)} data-testid="wave-add">
              {t('campaignExec.wave.add')}
            </Button>
          </Form>
        </Card>
      )}
      <Button type="primary" loading={saving} disabled={!editable} data-testid="wizard-next" onClick={() => save({ mode: mode as Config['mode'], trigger_id: mode === 'triggered' ? triggerId : c.trigger_id ?? null })}>
        {t('campaignExec.saveNext')}
      </Button>
    </Space>
  );
}

function AudienceStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  const audiences = useQuery({
    queryKey: ['audiences', 'wizard'],
    queryFn: () => unwrap(api.GET('/api/audiences', { params: { query: { page_size: 100 } } })),
  });
  const lists = useQuery({
    queryKey: ['suppression-lists', 'wizard'],
    queryFn: () => unwrap(api.GET('/api/suppression-lists', { params: { query: { page_size: 100 } } })),
  });
  type V = { audience_id?: number; filters?: string; suppression_list_ids?: number[] };
  return (
    <Form<V>
      layout="vertical"
      style={{ maxWidth: 720 }}
      initialValues={{ audience_id: c.audience_id ?? undefined, filters: c.filters ? JSON.stringify(c.filters, null, 2) : '', suppression_list_ids: c.suppression_list_ids ?? [] }}
      onFinish={(v) => save({ audience_id: v.audience_id ?? null, filters: v.filters?.trim() ? JSON.parse(v.filters) : null, suppression_list_ids: v.suppression_list_ids ?? [] })}
    >
      <Form.Item name="audience_id" label={t('campaignExec.fields.audience')} rules={[{ required: c.mode !== 'triggered' }]}>
        <Select
          showSearch
          optionFilterProp="label"
          loading={audiences.isFetching}
          data-testid="wizard-audience"
          options={(audiences.data?.items ?? []).map((a) => ({ value: a.id, label: `${a.name}${a.last_total != null ? ` · ${formatInt(a.last_total)}` : ''}` }))}
        />
      </Form.Item>
      <Form.Item name="suppression_list_ids" label={t('campaignExec.fields.suppressionLists')}>
        <Select
          mode="multiple"
          allowClear
          loading={lists.isFetching}
          data-testid="wizard-suppression"
          options={(lists.data?.items ?? [])
            .filter((l) => l.campaign_id == null || l.campaign_id === c.id)
            .map((l) => ({ value: l.id, label: `${l.name} · ${formatInt(l.entry_count)}` }))}
        />
      </Form.Item>
      <Form.Item
        name="filters"
        label={t('campaignExec.fields.filters')}
        rules={[{ validator: async (_, v: string) => { if (v && v.trim()) JSON.parse(v); } }]}
      >
        <Input.TextArea rows={4} placeholder='{"op": "tag", "tag": "employee", "values": [true]}' />
      </Form.Item>
      <NextButton saving={saving} editable={editable} />
    </Form>
  );
}

function BenefitStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  const benefits = useQuery({
    queryKey: ['benefits', 'wizard'],
    queryFn: () => unwrap(api.GET('/api/benefits', { params: { query: { status: 'active', page_size: 100 } } })),
  });
  const [value, setValue] = useState<number | null>(c.benefit_id ?? null);
  return (
    <Form layout="vertical" style={{ maxWidth: 720 }} onFinish={() => save({ benefit_id: value })}>
      <Form.Item label={t('campaignExec.fields.benefit')}>
        <Select
          allowClear
          value={value ?? undefined}
          placeholder={t('campaignExec.fields.noBenefit')}
          onChange={(v) => setValue(v ?? null)}
          loading={benefits.isFetching}
          data-testid="wizard-benefit"
          options={(benefits.data?.items ?? []).map((b) => ({ value: b.id, label: `${b.name}（${b.code}）· ${formatInt(b.inventory_left)}/${formatInt(b.inventory_total)}` }))}
        />
      </Form.Item>
      <NextButton saving={saving} editable={editable} />
    </Form>
  );
}

function ChannelsStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  const [channels, setChannels] = useState<string[]>(c.channels ?? []);
  const [timeout, setTimeoutMinutes] = useState<number>(c.fallback_timeout_minutes ?? 30);
  const move = (i: number, d: number) => {
    const next = [...channels];
    [next[i], next[i + d]] = [next[i + d], next[i]];
    setChannels(next);
  };
  const free = CHANNELS.filter((ch) => !channels.includes(ch));
  return (
    <Space direction="vertical" style={{ maxWidth: 720, width: '100%' }}>
      <Typography.Text type="secondary">{t('campaignExec.fallbackHint')}</Typography.Text>
      <List
        bordered
        data-testid="wizard-channels"
        dataSource={channels}
        locale={{ emptyText: t('campaignExec.none') }}
        renderItem={(ch, i) => (
          <List.Item
            actions={[
              <Button key="u" size="small" icon={<ArrowUpOutlined />} disabled={i === 0} onClick={() => move(i, -1)} aria-label={t('campaignExec.up')} />,
              <Button key="d" size="small" icon={<ArrowDownOutlined />} disabled={i === channels.length - 1} onClick={() => move(i, 1)} aria-label={t('campaignExec.down')} />,
              <Button key="r" size="small" danger icon={<DeleteOutlined />} onClick={() => setChannels(channels.filter((x) => x !== ch))} aria-label={t('campaignExec.remove')} />,
            ]}
          >
            <Space>
              <Tag color="blue">{i + 1}</Tag>
              {t(`campaignExec.channels.${ch}` as never) as string}
            </Space>
          </List.Item>
        )}
      />
      <Select<string>
        style={{ width: 240 }}
        placeholder={t('campaignExec.addChannel')}
        value={null as unknown as string}
        onChange={(v) => setChannels([...channels, v])}
        options={free.map((ch) => ({ value: ch, label: t(`campaignExec.channels.${ch}`) }))}
        data-testid="wizard-add-channel"
      />
      <Space>
        {t('campaignExec.fields.fallbackTimeout')}
        <InputNumber min={1} max={10080} value={timeout} onChange={(v) => setTimeoutMinutes(v ?? 30)} />
      </Space>
      <Button type="primary" loading={saving} disabled={!editable || !channels.length} data-testid="wizard-next" onClick={() => save({ channels, fallback_timeout_minutes: timeout })}>
        {t('campaignExec.saveNext')}
      </Button>
    </Space>
  );
}

function TemplatePreview({ templateId, channel, benefitId }: { templateId?: number; channel: string; benefitId?: number | null }) {
  const template = useQuery({
    queryKey: ['message-template', templateId],
    queryFn: () => unwrap(api.GET('/api/message-templates/{template_id}', { params: { path: { template_id: templateId! } } })),
    enabled: !!templateId,
  });
  const current = (template.data as { current?: { subject?: string | null; body?: string; fields?: Record<string, string> | null } } | undefined)?.current;
  const preview = useQuery({
    queryKey: ['template-preview', templateId, benefitId, current?.body],
    queryFn: () =>
      unwrap(api.POST('/api/message-templates/preview', {
        body: { channel: channel as Schemas['PreviewRequest']['channel'], subject: current?.subject ?? null, body: current?.body ?? '', fields: current?.fields ?? null, sample_size: 1, purpose: 'marketing', benefit_id: benefitId ?? null },
      })),
    enabled: !!current?.body,
  });
  const sample = preview.data?.samples?.[0];
  if (!templateId) return null;
  return (
    <Alert
      type={preview.data?.problems?.length ? 'warning' : 'info'}
      data-testid={`template-preview-${channel}`}
      message={sample?.subject ?? null}
      description={
        <Space direction="vertical">
          <span style={{ whiteSpace: 'pre-wrap' }}>{sample?.body ?? sample?.error ?? (preview.isFetching ? '…' : '')}</span>
          {(preview.data?.problems ?? []).map((p, i) => (
            <Typography.Text key={i} type="warning">{(p as { message_zh?: string; message?: string }).message_zh ?? JSON.stringify(p)}</Typography.Text>
          ))}
        </Space>
      }
    />
  );
}

function TemplatesStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  const [ids, setIds] = useState<Record<string, number>>({ ...(c.template_ids ?? {}) });
  const templates = useQuery({
    queryKey: ['message-templates', 'wizard'],
    queryFn: () => unwrap(api.GET('/api/message-templates', { params: { query: { status: 'active', page_size: 100 } } })),
  });
  if (!c.channels?.length) return <Empty description={t('campaignExec.steps.channels')} />;
  return (
    <Space direction="vertical" size="large" style={{ width: '100%', maxWidth: 900 }}>
      {c.channels.map((ch) => (
        <Card key={ch} size="small" title={t(`campaignExec.channels.${ch}` as never) as string}>
          <Space direction="vertical" style={{ width: '100%' }}>
            <Select
              style={{ width: 360 }}
              value={ids[ch]}
              onChange={(v) => setIds({ ...ids, [ch]: v })}
              placeholder={t('campaignExec.fields.template')}
              data-testid={`wizard-template-${ch}`}
              options={(templates.data?.items ?? []).filter((tp) => tp.channel === ch).map((tp) => ({ value: tp.id, label: `${tp.name}（${tp.code}）` }))}
            />
            <TemplatePreview templateId={ids[ch]} channel={ch} benefitId={c.benefit_id} />
          </Space>
        </Card>
      ))}
      <Button type="primary" loading={saving} disabled={!editable} data-testid="wizard-next" onClick={() => save({ template_ids: Object.fromEntries(Object.entries(ids).filter(([ch]) => c.channels.includes(ch))) })}>
        {t('campaignExec.saveNext')}
      </Button>
    </Space>
  );
}

function SuccessStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  const rules = useQuery({
    queryKey: ['success-rules', 'wizard'],
    queryFn: () => unwrap(api.GET('/api/success-rules', { params: { query: { page_size: 100 } } })),
  });
  const [value, setValue] = useState<number | null>(c.success_rule_id ?? null);
  return (
    <Form layout="vertical" style={{ maxWidth: 720 }} onFinish={() => save({ success_rule_id: value })}>
      <Form.Item label={t('campaignExec.fields.successRule')}>
        <Select
          allowClear
          value={value ?? undefined}
          onChange={(v) => setValue(v ?? null)}
          data-testid="wizard-success"
          options={(rules.data?.items ?? []).map((r) => ({ value: r.id, label: `${r.name} · ${r.event_name} · ${r.window_days}d` }))}
        />
      </Form.Item>
      <NextButton saving={saving} editable={editable} />
    </Form>
  );
}

function CellsStep({ campaign: c, save, saving, editable }: StepProps) {
  const { t } = useTranslation();
  const [testPct, setTestPct] = useState(c.test_pct ?? 0);
  const [controlPct, setControlPct] = useState(c.control_pct ?? 0);
  const holdout = useQuery({ queryKey: ['holdout-settings'], queryFn: () => unwrap(api.GET('/api/holdout-settings')) });
  return (
    <Form layout="vertical" style={{ maxWidth: 560 }} onFinish={() => save({ test_pct: testPct, control_pct: controlPct })}>
      <Form.Item label={`${t('campaignExec.fields.testPct')}: ${testPct}%`}>
        <Slider min={0} max={10} value={testPct} onChange={setTestPct} data-testid="wizard-test-pct" />
      </Form.Item>
      <Form.Item label={`${t('campaignExec.fields.controlPct')}: ${controlPct}%`}>
        <Slider min={0} max={50} value={controlPct} onChange={setControlPct} data-testid="wizard-control-pct" />
      </Form.Item>
      <Form.Item label={t('campaignExec.fields.holdout')}>
        {holdout.data?.enabled ? t('campaignExec.holdoutOn', { pct: holdout.data.pct }) : t('campaignExec.holdoutOff')}
      </Form.Item>
      <NextButton saving={saving} editable={editable} />
    </Form>
  );
}

export function FunnelTable({ funnel }: { funnel: Schemas['FunnelStep'][] }) {
  const { t, i18n } = useTranslation();
  const en = i18n.language.startsWith('en');
  return (
    <Table<Schemas['FunnelStep']>
      rowKey="step"
      size="small"
      pagination={false}
      data-testid="preview-funnel"
      dataSource={funnel}
      columns={[
        { title: t('campaignExec.funnelStep'), key: 's', render: (_: unknown, s) => (en ? s.label_en : s.label_zh) },
        { title: t('campaignExec.removed'), dataIndex: 'removed', align: 'right', render: (n: number) => (n ? `−${formatInt(n)}` : '') },
        { title: t('campaignExec.remaining'), dataIndex: 'remaining', align: 'right', render: formatInt },
        {
          title: t('campaignExec.reasons'), key: 'r',
          render: (_: unknown, s) => Object.entries(s.reasons ?? {}).map(([k, v]) => <Tag key={k}>{`${k}: ${formatInt(v)}`}</Tag>),
        },
      ]}
    />
  );
}

function ReviewStep({ campaign: c, onDone }: { campaign: Campaign; onDone: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const preview = useMutation({
    mutationFn: (kind: 'test' | 'full') => unwrap(api.POST('/api/campaigns/{campaign_id}/preview', { params: { path: { campaign_id: c.id }, query: { wave_kind: kind } } })),
    onError: (err) => void message.error(errorMessage(err)),
  });
  const ready = useMutation({
    mutationFn: () => unwrap(api.POST('/api/campaigns/{campaign_id}/ready', { params: { path: { campaign_id: c.id } } })),
    onSuccess: () => {
      message.success(t('campaignExec.done'));
      void queryClient.invalidateQueries({ queryKey: ['campaign', c.id] });
      onDone();
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const { mutate } = preview;
  useEffect(() => {
    if (c.audience_id || c.trigger_id) mutate('full');
  }, [c.id, c.audience_id, c.trigger_id, mutate]);
  const data = preview.data;
  const missing = useMemo(() => c.missing ?? [], [c.missing]);
  return (
    <Space direction="vertical" size="large" style={{ width: '100%' }}>
      <Descriptions size="small" bordered column={2}>
        <Descriptions.Item label={t('campaignExec.fields.mode')}>{t(`campaignExec.modes.${c.mode}` as never) as string}</Descriptions.Item>
        <Descriptions.Item label={t('campaignExec.fields.channels')}>{(c.channels ?? []).map((ch) => t(`campaignExec.channels.${ch}` as never) as string).join(' → ') || '-'}</Descriptions.Item>
        <Descriptions.Item label={t('campaignExec.fields.testPct')}>{c.test_pct}%</Descriptions.Item>
        <Descriptions.Item label={t('campaignExec.fields.controlPct')}>{c.control_pct}%</Descriptions.Item>
      </Descriptions>
      {missing.length > 0 && <Alert type="warning" showIcon data-testid="wizard-missing" message={`${t('campaignExec.missing')}: ${missing.join(', ')}`} />}
      <Typography.Text type="secondary">{t('campaignExec.previewHint')}</Typography.Text>
      <Space>
        <Button onClick={() => mutate('full')} loading={preview.isPending} data-testid="preview-run">
          {t('campaignExec.preview')}
        </Button>
        <Button onClick={() => mutate('test')} loading={preview.isPending} disabled={!c.test_pct}>
          {t('campaignExec.preview')} · {t('campaignExec.cells.test')}
        </Button>
      </Space>
      {data && (
        <>
          {data.policy_sampled && <Alert type="info" message={t('campaignExec.sampled', { n: data.policy_sample_size })} />}
          {data.notes.map((n) => <Alert key={n} type="info" message={n} />)}
          <FunnelTable funnel={data.funnel} />
          <Card size="small" title={t('campaignExec.byChannel')}>
            <Space wrap data-testid="preview-channels">
              {Object.entries(data.channels).map(([ch, n]) => (
                <Tag key={ch} color="blue">{`${t(`campaignExec.channels.${ch}` as never, { defaultValue: ch }) as string}: ${formatInt(n)}`}</Tag>
              ))}
            </Space>
          </Card>
          <Card size="small" title={t('campaignExec.samples')}>
            <List
              dataSource={data.samples}
              renderItem={(s) => (
                <List.Item>
                  <List.Item.Meta title={`${t(`campaignExec.channels.${s.channel}` as never, { defaultValue: s.channel }) as string} · ${s.customer_no ?? ''}`} description={<span style={{ whiteSpace: 'pre-wrap' }}>{s.subject ? `【${s.subject}】` : ''}{s.body ?? s.error}</span>} />
                </List.Item>
              )}
            />
          </Card>
        </>
      )}
      {c.status === 'draft' && (
        <Button type="primary" disabled={missing.length > 0} loading={ready.isPending} onClick={() => ready.mutate()} data-testid="wizard-ready">
          {t('campaignExec.markReady')}
        </Button>
      )}
      {c.status !== 'draft' && <Button type="primary" onClick={onDone}>{t('campaignExec.detail')}</Button>}
    </Space>
  );
}
