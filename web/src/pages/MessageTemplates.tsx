import { useEffect, useState } from 'react';
import { Alert, App, Badge, Button, Card, Col, Drawer, Empty, Form, Input, List, Popconfirm, Row, Select, Space, Table, Tabs, Tag, Timeline, Typography } from 'antd';
import type { TableProps } from 'antd';
import { EditOutlined, HistoryOutlined, MinusCircleOutlined, PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime } from '../lib/format';

type Template = Schemas['MessageTemplateRead'];
type Channel = Schemas['MessageTemplateCreate']['channel'];
type Purpose = Schemas['MessageTemplateCreate']['purpose'];
type Problem = Schemas['Problem'];
type Preview = Schemas['PreviewResult'];
const CHANNELS: Channel[] = ['app_push', 'sms', 'wechat', 'email', 'rm_task'];
const WITH_SUBJECT: Channel[] = ['app_push', 'email', 'rm_task'];

interface Draft {
  code: string;
  name: string;
  channel: Channel;
  purpose: Purpose;
  subject?: string;
  body: string;
  fields?: { key: string; value: string }[];
}

const toFields = (rows?: { key: string; value: string }[]) =>
  rows && rows.length ? Object.fromEntries(rows.filter((r) => r && r.key).map((r) => [r.key, r.value ?? ''])) : null;

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

export function ProblemList({ problems, testId }: { problems: Problem[]; testId?: string }) {
  const { i18n } = useTranslation();
  if (!problems.length) return null;
  return (
    <div data-testid={testId}>
      {problems.map((p, i) => (
        <Alert key={`${p.code}-${i}`} showIcon type={p.severity === 'error' ? 'error' : 'warning'} style={{ marginBottom: 6 }}
               message={<span data-problem={p.code}>{i18n.language === 'en' ? p.message_en : p.message_zh}{p.field ? <Typography.Text type="secondary"> · {p.field}</Typography.Text> : null}</span>} />
      ))}
    </div>
  );
}

function PreviewPanel({ preview, loading, channel }: { preview: Preview | undefined; loading: boolean; channel: Channel }) {
  const { t } = useTranslation();
  const { i18n } = useTranslation();
  if (!preview) return <Card size="small" loading={loading} title={t('elements.templates.preview')}><Empty /></Card>;
  const segments = preview.longest.sms;
  return (
    <Card size="small" title={t('elements.templates.preview')} data-testid="template-preview"
          extra={channel === 'sms' && segments ? (
            <Tag color={segments.segments > 1 ? 'orange' : 'green'} data-testid="sms-segments">
              {t('elements.templates.segments', { units: segments.units, segments: segments.segments })}
            </Tag>) : null}>
      <ProblemList problems={preview.problems} testId="template-problems" />
      {!preview.problems.length && <Alert type="success" showIcon message={t('elements.templates.noProblems')} style={{ marginBottom: 8 }} />}
      <Typography.Text type="secondary">{t('elements.templates.variablesUsed')}: </Typography.Text>
      {preview.variables.map((v) => <Tag key={v}>{v}</Tag>)}
      <List size="small" style={{ marginTop: 8 }} dataSource={preview.samples} locale={{ emptyText: t('elements.templates.noSamples') }}
            renderItem={(s) => (
              <List.Item>
                <Space direction="vertical" style={{ width: '100%' }} size={2}>
                  <Typography.Text type="secondary">{s.customer_name} · {s.customer_no}
                    {s.sms ? <Tag style={{ marginLeft: 8 }}>{t('elements.templates.segments', { units: s.sms.units, segments: s.sms.segments })}</Tag> : null}</Typography.Text>
                  {s.error ? <Typography.Text type="danger">{s.error}</Typography.Text> : (
                    <>
                      {s.subject ? <Typography.Text strong>{s.subject}</Typography.Text> : null}
                      {s.body ? <Typography.Paragraph style={{ whiteSpace: 'pre-wrap', marginBottom: 0 }} data-testid="preview-body">{s.body}</Typography.Paragraph> : null}
                      {s.fields ? Object.entries(s.fields).map(([k, v]) => <Typography.Text key={k}><Tag>{k}</Tag>{String(v)}</Typography.Text>) : null}
                      {s.problems?.filter((p) => !preview.problems.some((q) => q.code === p.code)).map((p, i) => (
                        <Typography.Text key={i} type="warning">{i18n.language === 'en' ? p.message_en : p.message_zh}</Typography.Text>))}
                    </>)}
                </Space>
              </List.Item>)} />
    </Card>
  );
}

function Editor({ template, onClose }: { template: Template | 'new' | null; onClose: () => void }) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const [form] = Form.useForm<Draft>();
  const values = Form.useWatch([], form) as Draft | undefined;
  const debounced = useDebounced(values, 400);
  const isNew = template === 'new';
  const variables = useQuery({ queryKey: ['template-variables'], queryFn: () => unwrap(api.GET('/api/message-templates/variables')), staleTime: Infinity });

  useEffect(() => {
    if (template === null) return;
    form.resetFields();
    if (template !== 'new') {
      form.setFieldsValue({
        code: template.code, name: template.name, channel: template.channel, purpose: template.purpose,
        subject: template.current?.subject ?? undefined, body: template.current?.body ?? '',
        fields: Object.entries(template.current?.fields ?? {}).map(([key, value]) => ({ key, value: String(value) })),
      });
    }
  }, [template, form]);

  const channel = (values?.channel ?? 'sms') as Channel;
  const preview = useQuery({
    queryKey: ['template-preview', debounced],
    enabled: template !== null && !!debounced?.channel,
    queryFn: () => unwrap(api.POST('/api/message-templates/preview', { body: {
      channel: debounced!.channel, purpose: debounced!.purpose ?? 'marketing', subject: debounced!.subject || null,
      body: debounced!.body ?? '', fields: toFields(debounced!.fields), sample_size: 3,
    } })),
    placeholderData: keepPreviousData,
  });
  const save = useMutation({
    mutationFn: (v: Draft) => {
      const content = { subject: v.subject || null, body: v.body ?? '', fields: toFields(v.fields) };
      if (isNew) return unwrap(api.POST('/api/message-templates', { body: { code: v.code, name: v.name, channel: v.channel, purpose: v.purpose, ...content } }));
      return unwrap(api.PATCH('/api/message-templates/{template_id}', {
        params: { path: { template_id: (template as Template).id } }, body: { name: v.name, purpose: v.purpose, ...content },
      }));
    },
    onSuccess: () => { message.success(t('app.savedOk')); client.invalidateQueries({ queryKey: ['message-templates'] }); onClose(); },
    onError: (err) => {
      // template_problems lists each problem (code, message_zh, message_en): show them, not field paths.
      const problems = err instanceof ApiError && err.code === 'template_problems' && Array.isArray(err.details) ? (err.details as Problem[]) : [];
      message.error(problems.length ? `${err instanceof ApiError ? err.localized() : ''}：${problems.map((p) => (i18n.language === 'en' ? p.message_en : p.message_zh)).join('；')}` : errorMessage(err));
    },
  });
  const submit = () => {
    form.validateFields()
      .then(() => save.mutate(form.getFieldsValue(true) as Draft))
      .catch((err: { errorFields?: { errors: string[] }[] }) => message.error(err.errorFields?.flatMap((f) => f.errors).join('; ') || errorMessage(err)));
  };
  const insert = (name: string) => {
    const body = form.getFieldValue('body') ?? '';
    form.setFieldValue('body', `${body}{{ ${name} }}`);
  };

  return (
    <Drawer open={template !== null} onClose={onClose} width={1100} destroyOnHidden
            title={isNew ? t('elements.templates.create') : `${t('elements.templates.editTitle')} · ${(template as Template | null)?.name ?? ''}`}
            extra={<Button type="primary" disabled={save.isPending} onClick={submit} data-testid="save-template">{t('app.save')}</Button>}>
      <Row gutter={16}>
        <Col span={13}>
          <Form form={form} layout="vertical" initialValues={{ channel: 'sms', purpose: 'marketing', body: '' }} onFinish={submit}>
            <Space.Compact block>
              <Form.Item name="code" label={t('elements.templates.code')} style={{ width: '40%' }} rules={[{ required: true, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, message: t('elements.codeRule') }]}>
                <Input disabled={!isNew} data-testid="template-code" />
              </Form.Item>
              <Form.Item name="name" label={t('elements.templates.name')} style={{ width: '60%' }} rules={[{ required: true, whitespace: true }]}>
                <Input maxLength={100} data-testid="template-name" />
              </Form.Item>
            </Space.Compact>
            <Space>
              <Form.Item name="channel" label={t('elements.templates.channel')}>
                <Select style={{ width: 160 }} disabled={!isNew} data-testid="template-channel" options={CHANNELS.map((c) => ({ value: c, label: t(`elements.channels.${c}`) }))} />
              </Form.Item>
              <Form.Item name="purpose" label={t('elements.templates.purpose')}>
                <Select style={{ width: 160 }} options={[{ value: 'marketing', label: t('elements.purposes.marketing') }, { value: 'service', label: t('elements.purposes.service') }]} />
              </Form.Item>
            </Space>
            {WITH_SUBJECT.includes(channel) && (
              <Form.Item name="subject" label={t(`elements.templates.subject_${channel as 'app_push' | 'email' | 'rm_task'}`)}><Input maxLength={200} data-testid="template-subject" /></Form.Item>)}
            {channel !== 'wechat' && (
              <Form.Item name="body" label={t('elements.templates.body')} extra={channel === 'sms' ? t('elements.templates.smsHint') : undefined}>
                <Input.TextArea rows={6} maxLength={5000} data-testid="template-body" />
              </Form.Item>)}
            {channel === 'wechat' && (
              <Form.List name="fields">
                {(rows, { add, remove }) => (
                  <>
                    <Typography.Paragraph type="secondary">{t('elements.templates.wechatHint')}</Typography.Paragraph>
                    {rows.map((row) => (
                      <Space key={row.key} align="baseline">
                        <Form.Item name={[row.name, 'key']} rules={[{ required: true }]}><Input placeholder="thing1" style={{ width: 120 }} /></Form.Item>
                        <Form.Item name={[row.name, 'value']}><Input placeholder="{{ benefit.name }}" style={{ width: 360 }} /></Form.Item>
                        <MinusCircleOutlined onClick={() => remove(row.name)} />
                      </Space>))}
                    <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ key: `thing${rows.length + 1}`, value: '' })}>{t('elements.templates.addField')}</Button>
                  </>)}
              </Form.List>)}
          </Form>
          <Typography.Title level={5} style={{ marginTop: 16 }}>{t('elements.templates.variables')}</Typography.Title>
          <Space wrap size={[4, 4]}>
            {(variables.data ?? []).map((v) => (
              <Tag key={v.name} style={{ cursor: 'pointer' }} onClick={() => insert(v.name)} title={v.sample}>
                {t('elements.templates.varLabel', { label: v.label_zh, en: v.label_en })} <Typography.Text code>{v.name}</Typography.Text>
              </Tag>))}
          </Space>
        </Col>
        <Col span={11}><PreviewPanel preview={preview.data} loading={preview.isFetching} channel={channel} /></Col>
      </Row>
    </Drawer>
  );
}

function Versions({ template, onClose }: { template: Template | null; onClose: () => void }) {
  const { t } = useTranslation();
  const query = useQuery({
    queryKey: ['template-versions', template?.id],
    enabled: template !== null,
    queryFn: () => unwrap(api.GET('/api/message-templates/{template_id}/versions', { params: { path: { template_id: template!.id } } })),
  });
  return (
    <Drawer open={template !== null} onClose={onClose} width={640} title={`${t('elements.templates.versions')} · ${template?.name ?? ''}`}>
      <Timeline items={(query.data ?? []).map((v) => ({
        color: v.version === template?.current_version ? 'green' : 'gray',
        children: (
          <div data-testid={`version-${v.version}`}>
            <Typography.Text strong>v{v.version}</Typography.Text> <Typography.Text type="secondary">{formatDateTime(v.created_at)} {v.created_by_name ?? ''}</Typography.Text>
            {v.subject ? <div><Typography.Text>{v.subject}</Typography.Text></div> : null}
            <Typography.Paragraph style={{ whiteSpace: 'pre-wrap' }} type="secondary">{v.body || JSON.stringify(v.fields)}</Typography.Paragraph>
          </div>),
      }))} />
    </Drawer>
  );
}

/** 模板库: message templates per channel, versioned, with a live preview on sample customers while typing. */
export default function MessageTemplatesPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const client = useQueryClient();
  const manage = can('elements.manage');
  const [channel, setChannel] = useState<string>('all');
  const [archived, setArchived] = useState(false);
  const [page, setPage] = useState(1);
  const [q, setQ] = useState<string | undefined>();
  const [editing, setEditing] = useState<Template | 'new' | null>(null);
  const [versionsOf, setVersionsOf] = useState<Template | null>(null);
  const query = useQuery({
    queryKey: ['message-templates', channel, archived, page, q],
    queryFn: () => unwrap(api.GET('/api/message-templates', { params: { query: {
      page, page_size: 20, q, channel: channel === 'all' ? undefined : (channel as Channel), status: archived ? 'archived' : 'active',
    } } })),
    placeholderData: keepPreviousData,
  });
  const setStatus = useMutation({
    mutationFn: ({ id, status }: { id: number; status: 'active' | 'archived' }) =>
      unwrap(api.PATCH('/api/message-templates/{template_id}', { params: { path: { template_id: id } }, body: { status } })),
    onSuccess: () => client.invalidateQueries({ queryKey: ['message-templates'] }),
    onError: (err) => message.error(errorMessage(err)),
  });
  const columns: TableProps<Template>['columns'] = [
    { title: t('elements.templates.name'), key: 'name', width: 220,
      render: (_, x) => <Space direction="vertical" size={0}><Typography.Text strong>{x.name}</Typography.Text><Typography.Text type="secondary" style={{ fontSize: 12 }}>{x.code}</Typography.Text></Space> },
    { title: t('elements.templates.channel'), dataIndex: 'channel', width: 100, render: (c: Channel) => <Tag color="blue">{t(`elements.channels.${c}`)}</Tag> },
    { title: t('elements.templates.purpose'), dataIndex: 'purpose', width: 90, render: (p: Purpose) => t(`elements.purposes.${p}`) },
    { title: t('elements.templates.content'), key: 'content', ellipsis: true,
      render: (_, x) => <Typography.Text type="secondary">{x.current?.subject ? `【${x.current.subject}】` : ''}{x.current?.body || JSON.stringify(x.current?.fields ?? {})}</Typography.Text> },
    { title: t('elements.templates.version'), dataIndex: 'current_version', width: 80, render: (v: number) => <Badge count={`v${v}`} color="geekblue" /> },
    { title: t('elements.templates.owner'), dataIndex: 'owner_org_name', width: 110 },
    { title: t('elements.updatedAt'), dataIndex: 'updated_at', width: 170, render: formatDateTime },
    { title: t('app.actions'), key: 'actions', width: 240, fixed: 'right',
      render: (_, x) => (
        <Space size={4}>
          <Button size="small" icon={<HistoryOutlined />} onClick={() => setVersionsOf(x)}>{t('elements.templates.versions')}</Button>
          {manage && x.editable && <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(x)}>{t('elements.edit')}</Button>}
          {manage && x.editable && (x.status === 'active'
            ? <Popconfirm title={t('elements.templates.archiveConfirm')} onConfirm={() => setStatus.mutate({ id: x.id, status: 'archived' })}><Button size="small" type="text" danger>{t('elements.templates.archive')}</Button></Popconfirm>
            : <Button size="small" type="text" onClick={() => setStatus.mutate({ id: x.id, status: 'active' })}>{t('elements.templates.restore')}</Button>)}
        </Space>) },
  ];
  return (
    <Card>
      {manage && <Button type="primary" icon={<PlusOutlined />} style={{ float: 'right' }} onClick={() => setEditing('new')} data-testid="new-template">{t('elements.templates.create')}</Button>}
      <Typography.Title level={4} className="ol-page-title">{t('elements.templates.title')}</Typography.Title>
      <Typography.Paragraph type="secondary">{t('elements.templates.hint')}</Typography.Paragraph>
      <Tabs activeKey={channel} onChange={(k) => { setChannel(k); setPage(1); }}
            items={[{ key: 'all', label: t('app.all') }, ...CHANNELS.map((c) => ({ key: c, label: t(`elements.channels.${c}`) }))]} />
      <Space style={{ marginBottom: 12 }}>
        <Input.Search allowClear placeholder={t('elements.templates.search')} style={{ width: 240 }} onSearch={(v) => { setQ(v.trim() || undefined); setPage(1); }} />
        <Select value={archived ? 'archived' : 'active'} style={{ width: 120 }} onChange={(v) => { setArchived(v === 'archived'); setPage(1); }}
                options={[{ value: 'active', label: t('elements.templates.activeOnes') }, { value: 'archived', label: t('elements.templates.archivedOnes') }]} />
      </Space>
      <Table<Template> rowKey="id" size="middle" data-testid="templates-table" columns={columns} dataSource={query.data?.items ?? []}
                       loading={query.isFetching && !query.data} scroll={{ x: 1200 }} locale={{ emptyText: t('elements.templates.empty') }}
                       pagination={{ current: page, pageSize: 20, total: query.data?.total ?? 0, onChange: setPage, showTotal: (total) => t('app.total', { count: total }) }} />
      <Editor template={editing} onClose={() => setEditing(null)} />
      <Versions template={versionsOf} onClose={() => setVersionsOf(null)} />
    </Card>
  );
}
