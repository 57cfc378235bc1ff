import { useEffect, useMemo, useState } from 'react';
import {
  Alert,
  App,
  Button,
  Card,
  Col,
  DatePicker,
  Descriptions,
  Form,
  Input,
  InputNumber,
  List,
  Modal,
  Popconfirm,
  Result,
  Row,
  Select,
  Space,
  Spin,
  Tag,
  Typography,
  Upload,
} from 'antd';
import { CheckOutlined, DiffOutlined, RollbackOutlined, SendOutlined, UploadOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import OrgTreeSelect from '../components/OrgTreeSelect';
import PlanEstimation from '../components/PlanEstimation';
import ApprovalTimeline, { downloadWithToken } from '../components/plans/ApprovalTimeline';
import { BENEFITS, CHANNELS, LINES, MODES, PlanStatusTag, STAGES, useLabel, type Plan } from '../components/plans/labels';
import { dayjs, formatDateTime, formatFen } from '../lib/format';

type Suggestion = Schemas['FieldSuggestion'];
type FormValues = {
  title: string;
  objective?: string | null;
  lifecycle_stage?: string | null;
  business_line?: string | null;
  audience_description?: string | null;
  audience_tags?: string[];
  channels?: string[];
  benefit_type?: string | null;
  benefits?: string | null;
  mode?: string | null;
  budget_yuan?: number | null;
  expected_reach?: number | null;
  expected_conversion_pct?: number | null;
  expected_output?: string | null;
  dates?: [dayjs.Dayjs | null, dayjs.Dayjs | null] | null;
  owner_org_id?: number;
  note?: string;
};
type PlanBody = Schemas['PlanCreate'];
const EDITABLE = new Set(['draft', 'rejected', 'withdrawn']);

function toForm(plan: Plan): FormValues {
  return {
    title: plan.title,
    objective: plan.objective,
    lifecycle_stage: plan.lifecycle_stage,
    business_line: plan.business_line,
    audience_description: plan.audience_description,
    audience_tags: plan.audience_tags,
    channels: plan.channels,
    benefit_type: plan.benefit_type,
    benefits: plan.benefits,
    mode: plan.mode,
    budget_yuan: plan.budget_fen == null ? null : plan.budget_fen / 100,
    expected_reach: plan.expected_reach,
    expected_conversion_pct: plan.expected_conversion_rate == null ? null : Math.round(plan.expected_conversion_rate * 10000) / 100,
    expected_output: plan.expected_output,
    dates: plan.start_date ? [dayjs(plan.start_date), plan.end_date ? dayjs(plan.end_date) : null] : null,
    owner_org_id: plan.owner_org_id,
  };
}

function toBody(v: FormValues): PlanBody {
  const day = (d: dayjs.Dayjs | null | undefined) => (d ? d.format('YYYY-MM-DD') : null);
  return {
    title: v.title,
    objective: v.objective || null,
    lifecycle_stage: (v.lifecycle_stage || null) as PlanBody['lifecycle_stage'],
    business_line: (v.business_line || null) as PlanBody['business_line'],
    audience_description: v.audience_description || null,
    audience_tags: v.audience_tags ?? [],
    channels: (v.channels ?? []) as PlanBody['channels'],
    benefit_type: (v.benefit_type || null) as PlanBody['benefit_type'],
    benefits: v.benefits || null,
    mode: (v.mode || null) as PlanBody['mode'],
    // 元 with two decimals → integer fen, without float drift
    budget_fen: v.budget_yuan == null ? null : Math.round(v.budget_yuan * 100),
    expected_reach: v.expected_reach ?? null,
    expected_conversion_rate: v.expected_conversion_pct == null ? null : Math.round(v.expected_conversion_pct * 100) / 10000,
    expected_output: v.expected_output || null,
    start_date: day(v.dates?.[0]),
    end_date: day(v.dates?.[1]),
    owner_org_id: v.owner_org_id,
  };
}

/** The plan editor (活动方案制定): fields, uploaded documents with proposed fields, submit / withdraw, timeline. */
export default function PlanEditorPage() {
  const { planId } = useParams();
  const isNew = !planId || planId === 'new';
  const id = isNew ? 0 : Number(planId);
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { can } = useAuth();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<FormValues>();
  const [suggestions, setSuggestions] = useState<Suggestion[]>([]);
  const [applied, setApplied] = useState<Set<string>>(new Set());
  const [submitOpen, setSubmitOpen] = useState(false);

  const plan = useQuery({
    queryKey: ['plans', 'one', id],
    queryFn: () => unwrap(api.GET('/api/plans/{plan_id}', { params: { path: { plan_id: id } } })),
    enabled: !isNew,
  });
  const approvals = useQuery({
    queryKey: ['plans', 'approvals', id],
    queryFn: () => unwrap(api.GET('/api/plans/{plan_id}/approvals', { params: { path: { plan_id: id } } })),
    enabled: !isNew,
  });
  const documents = useQuery({
    queryKey: ['plans', 'documents', id],
    queryFn: () => unwrap(api.GET('/api/plans/{plan_id}/documents', { params: { path: { plan_id: id } } })),
    enabled: !isNew,
  });

  useEffect(() => {
    if (plan.data) form.setFieldsValue(toForm(plan.data) as Parameters<typeof form.setFieldsValue>[0]);
  }, [plan.data, form]);

  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['plans'] });
  const onError = (err: unknown) => void message.error(errorMessage(err));
  const editable = can('plans.manage') && (isNew || (plan.data ? EDITABLE.has(plan.data.status) : false));

  const save = useMutation({
    mutationFn: async (values: FormValues) => {
      const body = toBody(values);
      if (isNew) return unwrap(api.POST('/api/plans', { body }));
      return unwrap(api.PATCH('/api/plans/{plan_id}', { params: { path: { plan_id: id } }, body: { ...body, note: values.note || null } }));
    },
    onSuccess: (saved) => {
      message.success(isNew ? t('plans.created') : t('plans.saved'));
      form.setFieldValue('note', undefined);
      refresh();
      if (isNew) navigate(`/plans/${saved.id}`, { replace: true });
    },
    onError,
  });
  const upload = useMutation({
    mutationFn: (file: File) =>
      unwrap(
        api.POST('/api/plans/{plan_id}/documents', {
          params: { path: { plan_id: id } },
          body: { file: file as unknown as string },
          bodySerializer: (body) => {
            const data = new FormData();
            data.append('file', body.file as unknown as Blob, file.name);
            return data;
          },
        }),
      ),
    onSuccess: (result) => {
      message.success(t('plans.uploaded'));
      setSuggestions(result.suggestions);
      setApplied(new Set());
      void documents.refetch();
    },
    onError,
  });
  const submit = useMutation({
    mutationFn: (body: Schemas['SubmitRequest']) =>
      unwrap(api.POST('/api/plans/{plan_id}/submit', { params: { path: { plan_id: id } }, body })),
    onSuccess: () => {
      message.success(t('plans.submitted'));
      setSubmitOpen(false);
      refresh();
    },
    onError,
  });
  const withdraw = useMutation({
    mutationFn: () => unwrap(api.POST('/api/plans/{plan_id}/withdraw', { params: { path: { plan_id: id } }, body: {} })),
    onSuccess: () => {
      message.success(t('plans.withdrawn'));
      refresh();
    },
    onError,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/plans/{plan_id}', { params: { path: { plan_id: id } } })),
    onSuccess: () => {
      message.success(t('plans.deleted'));
      refresh();
      navigate('/plans');
    },
    onError,
  });

  const applySuggestion = (s: Suggestion) => {
    const v = s.value as unknown;
    if (s.field === 'budget_fen') form.setFieldValue('budget_yuan', Number(v) / 100);
    else if (s.field === 'start_date' || s.field === 'end_date') {
      const dates = form.getFieldValue('dates') ?? [null, null];
      const next: [dayjs.Dayjs | null, dayjs.Dayjs | null] = [dates[0] ?? null, dates[1] ?? null];
      next[s.field === 'start_date' ? 0 : 1] = dayjs(String(v));
      form.setFieldValue('dates', next);
    } else form.setFieldValue(s.field as keyof FormValues, v as never);
    setApplied((prev) => new Set(prev).add(s.field));
  };

  if (!isNew && plan.error instanceof ApiError && plan.error.status === 404) {
    return <Result status="404" title={t('app.notFound')} extra={<Link to="/plans">{t('app.back')}</Link>} />;
  }
  if (!isNew && !plan.data) return <Spin style={{ display: 'block', margin: 48 }} />;
  const current = plan.data;
  const inReview = current?.status === 'in_review';
  const submittedBefore = (approvals.data?.instances.length ?? 0) > 0;

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <Card>
        <Space style={{ width: '100%', justifyContent: 'space-between' }} align="start" wrap>
          <Space direction="vertical" size={4}>
            <Typography.Title level={4} style={{ margin: 0 }} data-testid="plan-title">
              {isNew ? t('plans.newTitle') : current?.title}
            </Typography.Title>
            {current && (
              <Space size={8} wrap>
                <PlanStatusTag status={current.status} />
                <Tag>v{current.version}</Tag>
                {current.source_type && (
                  <Tag color="purple">
                    {t('plans.fromAlert')}: {current.source_ref}
                  </Tag>
                )}
                {current.campaign_code && (
                  <Link to={`/campaigns?code=${current.campaign_code}`} data-testid="plan-campaign">
                    {t('plans.campaignCreated')}: {current.campaign_code}
                  </Link>
                )}
              </Space>
            )}
          </Space>
          {current && (
            <Space wrap>
              <Link to={`/plans/${current.id}/versions`}>
                <Button icon={<DiffOutlined />}>{t('plans.versions')}</Button>
              </Link>
              {can('plans.manage') && EDITABLE.has(current.status) && (
                <Button type="primary" icon={<SendOutlined />} onClick={() => setSubmitOpen(true)} data-testid="plan-submit">
                  {submittedBefore ? t('plans.resubmit') : t('plans.submit')}
                </Button>
              )}
              {can('plans.manage') && inReview && (
                <Popconfirm title={t('plans.withdrawConfirm')} onConfirm={() => withdraw.mutate()}>
                  <Button icon={<RollbackOutlined />} loading={withdraw.isPending} data-testid="plan-withdraw">
                    {t('plans.withdraw')}
                  </Button>
                </Popconfirm>
              )}
              {can('plans.manage') && current.status === 'draft' && !current.submitted_at && (
                <Popconfirm title={t('plans.deleteConfirm')} onConfirm={() => remove.mutate()}>
                  <Button danger>{t('plans.delete')}</Button>
                </Popconfirm>
              )}
            </Space>
          )}
        </Space>
        {current && !editable && (
          <Alert style={{ marginTop: 12 }} type="info" showIcon message={t('plans.readOnlyHint', { status: t(`plans.statuses.${current.status}`) })} />
        )}
      </Card>

      <Row gutter={16}>
        <Col xs={24} xl={current ? 15 : 24}>
          <Card>
            <PlanForm form={form} disabled={!editable} isNew={isNew} onFinish={(v) => save.mutate(v)} saving={save.isPending} />
          </Card>
        </Col>
        {current && (
          <Col xs={24} xl={9}>
            <Card title={t('plans.documents')} style={{ marginBottom: 16 }}>
              {editable && (
                <div data-testid="plan-upload">
                <Upload.Dragger
                  accept=".docx,.pdf,.xlsx,.txt,.md"
                  showUploadList={false}
                  disabled={upload.isPending}
                  beforeUpload={(file) => {
                    upload.mutate(file);
                    return false;
                  }}
                >
                  <p className="ant-upload-drag-icon">
                    <UploadOutlined />
                  </p>
                  <p>{t('plans.upload')}</p>
                  <p className="ant-upload-hint">{t('plans.uploadHint')}</p>
                </Upload.Dragger>
                </div>
              )}
              {suggestions.length > 0 && (
                <Card size="small" type="inner" title={t('plans.suggestions')} style={{ marginTop: 12 }} data-testid="plan-suggestions"
                  extra={editable && <Button size="small" onClick={() => suggestions.forEach(applySuggestion)}>{t('plans.applyAll')}</Button>}>
                  <Typography.Paragraph type="secondary">{t('plans.suggestionsHint')}</Typography.Paragraph>
                  <List
                    size="small"
                    dataSource={suggestions}
                    renderItem={(s) => (
                      <List.Item
                        actions={[
                          applied.has(s.field) ? (
                            <Tag color="green" icon={<CheckOutlined />}>{t('plans.applied')}</Tag>
                          ) : !s.differs ? (
                            <Tag>{t('plans.same')}</Tag>
                          ) : (
                            <Button size="small" type="link" disabled={!editable} onClick={() => applySuggestion(s)} data-testid={`apply-${s.field}`}>
                              {t('plans.apply')}
                            </Button>
                          ),
                        ]}
                      >
                        <List.Item.Meta
                          title={<SuggestionValue s={s} />}
                          description={
                            <Typography.Text type="secondary" ellipsis={{ tooltip: s.evidence }}>
                              {t('plans.evidence')}: {s.evidence}
                            </Typography.Text>
                          }
                        />
                      </List.Item>
                    )}
                  />
                </Card>
              )}
              <List
                size="small"
                style={{ marginTop: 12 }}
                dataSource={documents.data ?? []}
                renderItem={(d) => (
                  <List.Item
                    actions={[
                      <a key="dl" href={`/api/plans/documents/${d.id}/download`} onClick={(ev) => downloadWithToken(ev, d.id, d.filename)}>
                        {t('plans.download')}
                      </a>,
                    ]}
                  >
                    <List.Item.Meta
                      title={d.filename}
                      description={`${d.file_type.toUpperCase()} · ${t('plans.textChars', { count: d.text_chars })} · v${d.plan_version} · ${formatDateTime(d.created_at)}`}
                    />
                  </List.Item>
                )}
              />
            </Card>
            <Card title={t('plans.timeline')}>
              <ApprovalTimeline data={approvals.data} />
            </Card>
          </Col>
        )}
      </Row>
      <PlanEstimation planId={current?.id ?? null} formValues={() => toBody(form.getFieldsValue(true))} />
      {current && <SubmitModal open={submitOpen} onClose={() => setSubmitOpen(false)} onSubmit={(b) => submit.mutate(b)} loading={submit.isPending} />}
    </Space>
  );
}

function SuggestionValue({ s }: { s: Suggestion }) {
  const { t } = useTranslation();
  const label = useLabel();
  const name = t(`plans.fields.${s.field}` as never, { defaultValue: s.field }) as string;
  let value: string;
  if (s.field === 'budget_fen') value = formatFen(Number(s.value));
  else if (s.field === 'channels') value = (s.value as string[]).map((c) => label('channelNames', c)).join('、');
  else if (s.field === 'lifecycle_stage') value = label('stages', String(s.value));
  else if (s.field === 'benefit_type') value = label('benefitTypes', String(s.value));
  else value = String(s.value);
  return (
    <span>
      <Typography.Text strong>{name}</Typography.Text>：{value}
    </span>
  );
}

function SubmitModal({ open, onClose, onSubmit, loading }: { open: boolean; onClose: () => void; onSubmit: (b: Schemas['SubmitRequest']) => void; loading: boolean }) {
  const { t } = useTranslation();
  const templates = useQuery({
    queryKey: ['approval-templates'],
    queryFn: () => unwrap(api.GET('/api/approvals/templates')),
    enabled: open,
  });
  const active = useMemo(() => (templates.data ?? []).filter((x) => x.active), [templates.data]);
  const [form] = Form.useForm<Schemas['SubmitRequest']>();
  return (
    <Modal title={t('plans.submit')} open={open} onCancel={onClose} onOk={() => form.submit()} confirmLoading={loading} destroyOnHidden okButtonProps={{ 'data-testid': 'submit-confirm' } as never}>
      <Form form={form} layout="vertical" onFinish={(v) => onSubmit(v)} initialValues={{ template_id: active.find((x) => x.is_default)?.id }}>
        <Form.Item name="template_id" label={t('plans.template')}>
          <Select allowClear loading={templates.isLoading} placeholder={active.find((x) => x.is_default)?.name}
            options={active.map((x) => ({ value: x.id, label: x.name }))} />
        </Form.Item>
        {active.length > 0 && (
          <Descriptions size="small" column={1} bordered style={{ marginBottom: 16 }}>
            {(active.find((x) => x.id === form.getFieldValue('template_id')) ?? active.find((x) => x.is_default) ?? active[0]).steps.map((s, i) => (
              <Descriptions.Item key={i} label={`${i + 1}. ${s.name}`}>
                {t(`plans.approval.stepModes.${s.mode ?? 'single'}`, { n: s.required ?? 1 })}
              </Descriptions.Item>
            ))}
          </Descriptions>
        )}
        <Form.Item name="comment" label={t('plans.submitComment')}>
          <Input.TextArea rows={3} maxLength={2000} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

function PlanForm({ form, disabled, isNew, onFinish, saving }: {
  form: ReturnType<typeof Form.useForm<FormValues>>[0];
  disabled: boolean;
  isNew: boolean;
  onFinish: (v: FormValues) => void;
  saving: boolean;
}) {
  const { t } = useTranslation();
  const label = useLabel();
  const options = <T extends string>(group: 'stages' | 'lines' | 'channelNames' | 'benefitTypes' | 'modes', codes: readonly T[]) =>
    codes.map((c) => ({ value: c, label: label(group, c) }));
  return (
    <Form form={form} layout="vertical" disabled={disabled} onFinish={onFinish} data-testid="plan-form">
      <Typography.Title level={5}>{t('plans.basics')}</Typography.Title>
      <Form.Item name="title" label={t('plans.planTitle')} rules={[{ required: true, whitespace: true, message: t('plans.titleRequired') }]}>
        <Input maxLength={200} id="plan-title-input" />
      </Form.Item>
      <Form.Item name="objective" label={t('plans.objective')}>
        <Input.TextArea rows={2} maxLength={5000} />
      </Form.Item>
      <Row gutter={16}>
        <Col span={8}>
          <Form.Item name="lifecycle_stage" label={t('plans.lifecycleStage')}>
            <Select allowClear options={options('stages', STAGES)} />
          </Form.Item>
        </Col>
        <Col span={8}>
          <Form.Item name="business_line" label={t('plans.businessLine')}>
            <Select allowClear options={options('lines', LINES)} />
          </Form.Item>
        </Col>
        <Col span={8}>
          <Form.Item name="owner_org_id" label={t('plans.ownerOrg')}>
            <OrgTreeSelect allowClear={isNew} />
          </Form.Item>
        </Col>
      </Row>
      <Form.Item name="dates" label={t('plans.dates')}>
        <DatePicker.RangePicker allowEmpty={[true, true]} style={{ width: '100%' }} />
      </Form.Item>
      <Typography.Title level={5}>{t('plans.audienceAndChannels')}</Typography.Title>
      <Form.Item name="audience_description" label={t('plans.audienceDescription')}>
        <Input.TextArea rows={2} maxLength={5000} />
      </Form.Item>
      <Form.Item name="audience_tags" label={t('plans.audienceTags')} tooltip={t('plans.audienceTagsHint')}>
        <Select mode="tags" tokenSeparators={[',', '，', ' ']} maxCount={50} />
      </Form.Item>
      <Row gutter={16}>
        <Col span={12}>
          <Form.Item name="channels" label={t('plans.channels')}>
            <Select mode="multiple" allowClear options={options('channelNames', CHANNELS)} data-testid="plan-channels" />
          </Form.Item>
        </Col>
        <Col span={12}>
          <Form.Item name="mode" label={t('plans.mode')}>
            <Select allowClear options={options('modes', MODES)} />
          </Form.Item>
        </Col>
      </Row>
      <Row gutter={16}>
        <Col span={8}>
          <Form.Item name="benefit_type" label={t('plans.benefitType')}>
            <Select allowClear options={options('benefitTypes', BENEFITS)} />
          </Form.Item>
        </Col>
        <Col span={16}>
          <Form.Item name="benefits" label={t('plans.benefits')}>
            <Input maxLength={5000} />
          </Form.Item>
        </Col>
      </Row>
      <Typography.Title level={5}>{t('plans.budgetAndOutput')}</Typography.Title>
      <Row gutter={16}>
        <Col span={8}>
          <Form.Item name="budget_yuan" label={t('plans.budget')}>
            <InputNumber min={0} max={10_000_000_000_000} precision={2} style={{ width: '100%' }} id="plan-budget" />
          </Form.Item>
        </Col>
        <Col span={8}>
          <Form.Item name="expected_reach" label={t('plans.expectedReach')}>
            <InputNumber min={0} max={10_000_000_000} precision={0} style={{ width: '100%' }} />
          </Form.Item>
        </Col>
        <Col span={8}>
          <Form.Item name="expected_conversion_pct" label={t('plans.expectedConversion')}>
            <InputNumber min={0} max={100} precision={2} style={{ width: '100%' }} />
          </Form.Item>
        </Col>
      </Row>
      <Form.Item name="expected_output" label={t('plans.expectedOutput')}>
        <Input.TextArea rows={2} maxLength={5000} />
      </Form.Item>
      {!isNew && (
        <Form.Item name="note" label={t('plans.note')}>
          <Input maxLength={500} placeholder={t('plans.notePlaceholder')} />
        </Form.Item>
      )}
      {!disabled && (
        <Button type="primary" htmlType="submit" loading={saving} data-testid="plan-save">
          {t('plans.save')}
        </Button>
      )}
    </Form>
  );
}
