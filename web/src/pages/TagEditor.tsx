import { useEffect, useMemo, useState } from 'react';
import {
  Alert,
  App,
  AutoComplete,
  Breadcrumb,
  Button,
  Card,
  Col,
  Collapse,
  Dropdown,
  Form,
  Input,
  InputNumber,
  Radio,
  Result,
  Row,
  Select,
  Skeleton,
  Space,
  Spin,
  Switch,
  Table,
  Tag,
  Typography,
} from 'antd';
import { ArrowLeftOutlined, CheckCircleFilled, CloseCircleFilled, DeleteOutlined, DownOutlined, PlusOutlined, SaveOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatInt } from '../lib/format';
import ListUpload from '../components/tags/ListUpload';
import ScoreUpload from '../components/tags/ScoreUpload';
import { FeatureChips, ProblemHelp, RuleInput } from '../components/tags/RuleField';
import { useDebounced, useTagCatalog } from '../components/tags/hooks';
import { CATEGORIES, LIFECYCLE_CODES, useTagLabels, type Category, type Source, type ValueType } from '../components/tags/labels';
import { isFieldPath, namePath, problemsFromError, type Problem } from '../components/tags/problems';

type Json = Record<string, unknown>;
type Feature = Schemas['FeatureInfo'];

interface BucketForm {
  value?: string;
  label_zh?: string;
  label_en?: string;
  min?: number | null;
  max?: number | null;
}
interface CaseForm {
  value?: string;
  label_zh?: string;
  label_en?: string;
  rule?: string;
}
interface DefinitionForm {
  rule?: string;
  cases?: CaseForm[];
  else?: { value?: string; label_zh?: string; label_en?: string };
  feature?: string;
  buckets?: BucketForm[];
  list_id?: number;
  model?: string;
  threshold?: number | null;
  event?: string;
  event_type?: string;
  trigger_id?: number | null;
  within_days?: number | null;
  filter?: { property?: string; op?: string; value?: string };
}
interface FormValues {
  code?: string;
  name_zh?: string;
  name_en?: string;
  description?: string;
  category?: Category;
  source?: Source;
  value_type?: ValueType;
  schedule?: string;
  else_on?: boolean;
  filter_on?: boolean;
  /** event source: count an event, or the firings of a trigger (B3) */
  event_basis?: 'event' | 'trigger';
  definition?: DefinitionForm;
}

const CODE_PATTERN = /^[a-z][a-z0-9_]{1,63}$/;
const CRON_PRESETS = ['0 2 * * *', '0 6 * * *', '0 3 * * 1', '0 4 1 * *'] as const;
const CRON_LABELS = ['tags.editor.cronDaily2', 'tags.editor.cronDaily6', 'tags.editor.cronWeekly', 'tags.editor.cronMonthly'] as const;
const EVENT_TYPES = ['track', 'page', 'screen', 'identify'];
const NUMERIC_KINDS = ['integer', 'money', 'ratio'];
const ALLOWED: Record<Source, ValueType[]> = { rule: ['boolean', 'enum', 'numeric'], list: ['boolean'], model_score: ['numeric', 'boolean'], event: ['boolean', 'numeric'] };

const emptyBucket: BucketForm = { value: '', label_zh: '', label_en: '', min: null, max: null };
const emptyCase: CaseForm = { value: '', label_zh: '', label_en: '', rule: '' };

const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
const orNull = (v: unknown) => (v === undefined || v === null || v === '' ? null : v);

function buckets(raw: BucketForm[] | undefined) {
  return (raw ?? []).map((b) => ({
    value: str(b?.value),
    label_zh: str(b?.label_zh) || undefined,
    label_en: str(b?.label_en) || undefined,
    min: orNull(b?.min),
    max: orNull(b?.max),
  }));
}

/** The form's values as the API's definition for the chosen source and value type (see tags/definitions.py). */
function buildDefinition(source: Source | undefined, valueType: ValueType | undefined, v: FormValues): Json {
  const d = v.definition ?? {};
  if (source === 'rule' && valueType === 'boolean') return { rule: d.rule ?? '' };
  if (source === 'rule' && valueType === 'enum') {
    const out: Json = {
      cases: (d.cases ?? []).map((c) => ({
        value: str(c?.value),
        label_zh: str(c?.label_zh) || undefined,
        label_en: str(c?.label_en) || undefined,
        rule: c?.rule ?? '',
      })),
    };
    if (v.else_on) out.else = { value: str(d.else?.value), label_zh: str(d.else?.label_zh) || undefined, label_en: str(d.else?.label_en) || undefined };
    return out;
  }
  if (source === 'rule') return { feature: d.feature ?? null, buckets: buckets(d.buckets) };
  if (source === 'list') return { list_id: d.list_id ?? null };
  if (source === 'model_score') {
    const model = str(d.model) || undefined;
    return valueType === 'boolean' ? { model, threshold: orNull(d.threshold) } : { model, buckets: buckets(d.buckets) };
  }
  if (v.event_basis === 'trigger') {
    const out: Json = { trigger_id: d.trigger_id ?? null, within_days: orNull(d.within_days) };
    if (valueType === 'numeric') out.buckets = buckets(d.buckets);
    return out;
  }
  const out: Json = { event: str(d.event), within_days: orNull(d.within_days) };
  if (str(d.event_type)) out.event_type = str(d.event_type);
  if (v.filter_on) {
    const op = d.filter?.op ?? '=';
    const raw = d.filter?.value ?? '';
    let value: unknown = raw;
    if (op === 'in') value = raw.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
    else if (op === 'exists') value = undefined;
    out.filter = { property: str(d.filter?.property), op, value };
  }
  if (valueType === 'numeric') out.buckets = buckets(d.buckets);
  return out;
}

/** The value at an antd name path inside plain data. */
function valueAt(data: unknown, path: (string | number)[]): unknown {
  let here = data;
  for (const key of path) {
    if (!here || typeof here !== 'object') return undefined;
    here = (here as Record<string | number, unknown>)[key];
  }
  return here;
}

/** The inverse of buildDefinition, for editing a saved tag. */
function formOf(tag: Schemas['TagDetail']): FormValues {
  const d = (tag.definition ?? {}) as Json & DefinitionForm & { filter?: { property?: string; op?: string; value?: unknown } };
  const filter = d.filter && typeof d.filter === 'object' ? d.filter : undefined;
  const definition: DefinitionForm = { ...(d as DefinitionForm) };
  if (filter) {
    definition.filter = {
      property: filter.property,
      op: filter.op ?? '=',
      value: Array.isArray(filter.value) ? filter.value.join(', ') : filter.value === undefined || filter.value === null ? '' : String(filter.value),
    };
  }
  return {
    code: tag.code,
    name_zh: tag.name_zh,
    name_en: tag.name_en,
    description: tag.description ?? '',
    category: tag.category,
    source: tag.source,
    value_type: tag.value_type,
    schedule: tag.schedule ?? '',
    else_on: !!d.else,
    filter_on: !!filter,
    event_basis: d.trigger_id != null ? 'trigger' : 'event',
    definition,
  };
}

function defaultsFor(source: Source, valueType: ValueType): DefinitionForm {
  if (source === 'rule' && valueType === 'boolean') return { rule: '' };
  if (source === 'rule' && valueType === 'enum') return { cases: [{ ...emptyCase }] };
  if (source === 'rule') return { buckets: [{ ...emptyBucket }, { ...emptyBucket }] };
  if (source === 'list') return {};
  if (source === 'model_score') return valueType === 'boolean' ? { threshold: 0.8 } : { buckets: [{ ...emptyBucket }, { ...emptyBucket }] };
  return { within_days: 30, filter: { op: '=' }, ...(valueType === 'numeric' ? { buckets: [{ ...emptyBucket }, { ...emptyBucket }] } : {}) };
}

/** 标签编辑: create or edit a tag with the definition checked against the server as it is typed. */
export default function TagEditorPage() {
  const { tagId } = useParams();
  const editId = tagId ? Number(tagId) : null;
  const [params] = useSearchParams();
  const { t } = useTranslation();
  const { can } = useAuth();
  const labels = useTagLabels();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const catalog = useTagCatalog();
  const [form] = Form.useForm<FormValues>();
  const [serverProblems, setServerProblems] = useState<Problem[]>([]);
  const [serverRequest, setServerRequest] = useState<unknown>(null);
  const [submitted, setSubmitted] = useState(false);
  const [initialised, setInitialised] = useState(editId === null);
  const [, setTouchTick] = useState(0);

  const existing = useQuery({
    queryKey: ['tags', 'detail', editId],
    queryFn: () => unwrap(api.GET('/api/tags/{tag_id}', { params: { path: { tag_id: editId ?? 0 } } })),
    enabled: editId !== null && Number.isInteger(editId) && editId > 0,
  });
  const tag = existing.data;
  const system = !!tag?.system;
  const lifecycleCode = tag && (LIFECYCLE_CODES as readonly string[]).includes(tag.code) ? tag.code : null;

  useEffect(() => {
    if (tag && !initialised) {
      form.setFieldsValue(formOf(tag));
      setInitialised(true);
    }
  }, [tag, initialised, form]);

  const values = Form.useWatch((v: FormValues) => v, form) as FormValues | undefined;
  const source = values?.source;
  const valueType = values?.value_type;
  const payload = useMemo(
    () =>
      source && valueType && values
        ? { source, value_type: valueType, code: values.code || tag?.code || null, definition: buildDefinition(source, valueType, values) }
        : null,
    [source, valueType, values, tag?.code],
  );
  const debounced = useDebounced(payload, 350);
  const validation = useQuery({
    queryKey: ['tag-validate', debounced],
    // The request travels with the answer: problems point into the text that was checked, not the one being typed.
    queryFn: async () => ({ request: debounced!, result: await unwrap(api.POST('/api/tags/validate', { body: debounced! })) }),
    enabled: !!debounced && initialised,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
    meta: { silent: true },
  });
  const liveProblems = validation.data?.result.problems ?? [];
  const problems = serverProblems.length ? serverProblems : liveProblems;
  const checked: unknown = serverProblems.length ? serverRequest : validation.data?.request;
  const stale = !serverProblems.length && (validation.isFetching || JSON.stringify(validation.data?.request ?? null) !== JSON.stringify(payload));

  /** Show a problem under its field once the field was touched or a save was tried; "required" waits for that. */
  const visible = (p: Problem) => submitted || serverProblems.length > 0 || p.kind !== 'required' || form.isFieldTouched(namePath(p.path) as Parameters<typeof form.isFieldTouched>[0]);
  const at = (path: string) => problems.filter((p) => p.path === path && visible(p));
  const status = (path: string) => {
    const list = at(path);
    if (!list.length) return {};
    const text = path.endsWith('.rule') ? valueAt(checked, namePath(path)) : undefined;
    return {
      validateStatus: 'error' as const,
      help: <ProblemHelp problems={list} text={typeof text === 'string' ? text : undefined} path={path} stale={stale} />,
    };
  };
  const summary = problems.filter((p) => !isFieldPath(p.path) && (submitted || serverProblems.length > 0 || p.kind !== 'required'));

  const lists = useQuery({
    queryKey: ['customer-lists', 'options'],
    queryFn: () => unwrap(api.GET('/api/customer-lists', { params: { query: { page: 1, page_size: 100 } } })),
    enabled: source === 'list' && can('audiences.read'),
  });
  const events = useQuery({
    queryKey: ['events', 'schema'],
    queryFn: () => unwrap(api.GET('/api/events/schema')),
    enabled: source === 'event' && can('events.read'),
    meta: { silent: true },
    staleTime: 5 * 60_000,
  });
  const triggers = useQuery({
    queryKey: ['triggers', 'options'],
    queryFn: () => unwrap(api.GET('/api/triggers', { params: { query: { page_size: 100 } } })),
    enabled: source === 'event' && can('events.read'),
    meta: { silent: true },
  });

  const save = useMutation({
    mutationFn: async (v: FormValues) => {
      const definition = buildDefinition(v.source, v.value_type, v);
      setServerRequest({ definition });
      if (editId !== null) {
        return unwrap(
          api.PATCH('/api/tags/{tag_id}', {
            params: { path: { tag_id: editId } },
            body: {
              name_zh: str(v.name_zh),
              name_en: str(v.name_en),
              description: str(v.description) || null,
              category: v.category,
              value_type: v.value_type,
              definition,
              schedule: str(v.schedule) || null,
            },
          }),
        );
      }
      return unwrap(
        api.POST('/api/tags', {
          body: {
            code: str(v.code),
            name_zh: str(v.name_zh),
            name_en: str(v.name_en),
            description: str(v.description) || null,
            category: v.category!,
            source: v.source!,
            value_type: v.value_type!,
            definition,
            schedule: str(v.schedule) || null,
          },
        }),
      );
    },
    onSuccess: (saved) => {
      void message.success(t('tags.editor.saved'));
      void queryClient.invalidateQueries({ queryKey: ['tags'] });
      navigate(`/tags/${saved.id}`);
    },
    onError: (err) => {
      const found = problemsFromError(err);
      setServerProblems(found);
      void message.error(errorMessage(err));
    },
  });

  const onSave = async () => {
    setSubmitted(true);
    try {
      await form.validateFields();
    } catch {
      return;
    }
    save.mutate(form.getFieldsValue(true) as FormValues);
  };

  const onValuesChange = (changed: FormValues) => {
    if (serverProblems.length) setServerProblems([]);
    setTouchTick((n) => n + 1);
    if (changed.source || changed.value_type) {
      const s = (changed.source ?? form.getFieldValue('source')) as Source;
      let vt = (changed.value_type ?? form.getFieldValue('value_type')) as ValueType;
      if (!ALLOWED[s].includes(vt)) {
        vt = ALLOWED[s][0];
        form.setFieldValue('value_type', vt);
      }
      form.setFieldValue('definition', defaultsFor(s, vt));
    }
  };

  const initialValues = useMemo<FormValues>(() => {
    const src = (params.get('source') as Source | null) ?? 'rule';
    const s: Source = ALLOWED[src] ? src : 'rule';
    const vt = ALLOWED[s][0];
    const def = defaultsFor(s, vt);
    if (s === 'list' && params.get('list')) def.list_id = Number(params.get('list'));
    return { category: s === 'event' ? 'event' : s === 'model_score' ? 'model_score' : 'basic', source: s, value_type: vt, definition: def, else_on: false, filter_on: false, event_basis: 'event', schedule: '' };
  }, [params]);

  if (!can('tags.manage')) return <Result status="403" title={t('app.forbidden')} subTitle={t('app.forbiddenHint')} />;
  const header = (
    <Space style={{ marginBottom: 16 }} align="center">
      <Button icon={<ArrowLeftOutlined />} onClick={() => navigate(editId ? `/tags/${editId}` : '/tags')} aria-label={t('app.back')} />
      <Breadcrumb
        items={[
          { title: <Link to="/tags">{t('tags.list.title')}</Link> },
          ...(tag ? [{ title: <Link to={`/tags/${tag.id}`}>{labels.name(tag)}</Link> }] : []),
          { title: editId ? t('tags.editor.editTitle') : t('tags.editor.newTitle') },
        ]}
      />
    </Space>
  );
  if (editId !== null && (existing.isLoading || !initialised)) {
    if (existing.error) {
      return (
        <>
          {header}
          <Result
            status={existing.error instanceof ApiError && existing.error.status === 404 ? '404' : 'error'}
            title={t('tags.detail.notFound')}
            extra={<Button onClick={() => navigate('/tags')}>{t('app.back')}</Button>}
          />
        </>
      );
    }
    return (
      <>
        {header}
        <Card>
          <Skeleton active paragraph={{ rows: 10 }} />
        </Card>
      </>
    );
  }

  const features = catalog.data?.features ?? [];
  const numericFeatures = features.filter((f) => NUMERIC_KINDS.includes(f.kind) && !(lifecycleCode && (LIFECYCLE_CODES as readonly string[]).includes(f.name)));
  const bucketFeature = features.find((f) => f.name === values?.definition?.feature);
  const lifecycleValues = lifecycleCode ? features.find((f) => f.name === lifecycleCode)?.values ?? [] : [];
  const allowedTypes = source ? ALLOWED[source] : [];
  const op = values?.definition?.filter?.op ?? '=';

  const caseValueInput = lifecycleCode ? (
    <Select options={lifecycleValues.map((v) => ({ value: v, label: v }))} placeholder={t('tags.editor.valueCode')} />
  ) : (
    <Input placeholder={t('tags.editor.valueCode')} />
  );

  const bucketEditor = (unit: string, step?: number) => (
    <Form.List name={['definition', 'buckets']}>
      {(fields, { add, remove }) => (
        <>
          <Row gutter={8} style={{ marginBottom: 4 }}>
            <Col span={5}><Typography.Text type="secondary">{t('tags.def.value')}</Typography.Text></Col>
            <Col span={5}><Typography.Text type="secondary">{t('tags.fields.labelZh')}</Typography.Text></Col>
            <Col span={4}><Typography.Text type="secondary">{t('tags.fields.labelEn')}</Typography.Text></Col>
            <Col span={4}><Typography.Text type="secondary">{t('tags.editor.min')}{unit ? `（${unit}）` : ''}</Typography.Text></Col>
            <Col span={4}><Typography.Text type="secondary">{t('tags.editor.max')}{unit ? `（${unit}）` : ''}</Typography.Text></Col>
          </Row>
          {fields.map((field) => {
            const base = `definition.buckets[${field.name}]`;
            return (
              <Row gutter={8} key={field.key} data-testid="bucket-row">
                <Col span={5}>
                  <Form.Item name={[field.name, 'value']} {...status(`${base}.value`)}>
                    <Input placeholder="p0" />
                  </Form.Item>
                </Col>
                <Col span={5}>
                  <Form.Item name={[field.name, 'label_zh']} {...status(`${base}.label_zh`)}>
                    <Input placeholder={t('tags.fields.labelZh')} />
                  </Form.Item>
                </Col>
                <Col span={4}>
                  <Form.Item name={[field.name, 'label_en']} {...status(`${base}.label_en`)}>
                    <Input placeholder={t('tags.fields.labelEn')} />
                  </Form.Item>
                </Col>
                <Col span={4}>
                  <Form.Item name={[field.name, 'min']} {...status(`${base}.min`)}>
                    <InputNumber style={{ width: '100%' }} step={step} placeholder={t('tags.editor.open')} />
                  </Form.Item>
                </Col>
                <Col span={4}>
                  <Form.Item name={[field.name, 'max']} {...status(`${base}.max`)}>
                    <InputNumber style={{ width: '100%' }} step={step} placeholder={t('tags.editor.open')} />
                  </Form.Item>
                </Col>
                <Col span={2}>
                  <Button type="text" danger icon={<DeleteOutlined />} aria-label={t('tags.editor.remove')} onClick={() => remove(field.name)} disabled={fields.length <= 1} />
                </Col>
              </Row>
            );
          })}
          <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ ...emptyBucket })} data-testid="bucket-add">
            {t('tags.editor.addBucket')}
          </Button>
          <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>
            {t('tags.editor.bucketHint')}
          </Typography.Paragraph>
        </>
      )}
    </Form.List>
  );

  const definitionFields = () => {
    if (source === 'rule' && valueType === 'boolean') {
      return (
        <Form.Item name={['definition', 'rule']} required label={t('tags.def.rule')} extra={t('tags.editor.ruleHint')} {...status('definition.rule')}>
          <RuleInput data-testid="rule-input" />
        </Form.Item>
      );
    }
    if (source === 'rule' && valueType === 'enum') {
      return (
        <>
          <Typography.Paragraph type="secondary">{t('tags.def.firstMatch')}</Typography.Paragraph>
          <Form.List name={['definition', 'cases']}>
            {(fields, { add, remove, move }) => (
              <>
                {fields.map((field, index) => {
                  const base = `definition.cases[${field.name}]`;
                  return (
                    <Card
                      key={field.key}
                      size="small"
                      style={{ marginBottom: 12 }}
                      data-testid="case-card"
                      title={t('tags.editor.caseN', { n: index + 1 })}
                      extra={
                        <Space size={0}>
                          <Button type="text" size="small" disabled={index === 0} onClick={() => move(index, index - 1)}>
                            ↑
                          </Button>
                          <Button type="text" size="small" disabled={index === fields.length - 1} onClick={() => move(index, index + 1)}>
                            ↓
                          </Button>
                          <Button type="text" size="small" danger icon={<DeleteOutlined />} disabled={fields.length <= 1} onClick={() => remove(field.name)} aria-label={t('tags.editor.remove')} />
                        </Space>
                      }
                    >
                      <Row gutter={8}>
                        <Col xs={24} md={8}>
                          <Form.Item name={[field.name, 'value']} required label={t('tags.def.value')} {...status(`${base}.value`)}>
                            {caseValueInput}
                          </Form.Item>
                        </Col>
                        <Col xs={12} md={8}>
                          <Form.Item name={[field.name, 'label_zh']} label={t('tags.fields.labelZh')} {...status(`${base}.label_zh`)}>
                            <Input />
                          </Form.Item>
                        </Col>
                        <Col xs={12} md={8}>
                          <Form.Item name={[field.name, 'label_en']} label={t('tags.fields.labelEn')} {...status(`${base}.label_en`)}>
                            <Input />
                          </Form.Item>
                        </Col>
                      </Row>
                      <Form.Item name={[field.name, 'rule']} required label={t('tags.def.rule')} style={{ marginBottom: 0 }} {...status(`${base}.rule`)}>
                        <RuleInput data-testid={`case-rule-${index}`} />
                      </Form.Item>
                    </Card>
                  );
                })}
                <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ ...emptyCase })} data-testid="case-add">
                  {t('tags.editor.addCase')}
                </Button>
              </>
            )}
          </Form.List>
          <div style={{ marginTop: 16 }}>
            <Space>
              <Form.Item name="else_on" valuePropName="checked" noStyle>
                <Switch size="small" />
              </Form.Item>
              <Typography.Text>{t('tags.editor.elseOn')}</Typography.Text>
            </Space>
            {values?.else_on && (
              <Row gutter={8} style={{ marginTop: 8 }}>
                <Col xs={24} md={8}>
                  <Form.Item name={['definition', 'else', 'value']} label={t('tags.def.value')} {...status('definition.else.value')}>
                    {caseValueInput}
                  </Form.Item>
                </Col>
                <Col xs={12} md={8}>
                  <Form.Item name={['definition', 'else', 'label_zh']} label={t('tags.fields.labelZh')} {...status('definition.else.label_zh')}>
                    <Input />
                  </Form.Item>
                </Col>
                <Col xs={12} md={8}>
                  <Form.Item name={['definition', 'else', 'label_en']} label={t('tags.fields.labelEn')} {...status('definition.else.label_en')}>
                    <Input />
                  </Form.Item>
                </Col>
              </Row>
            )}
          </div>
        </>
      );
    }
    if (source === 'rule') {
      return (
        <>
          <Form.Item name={['definition', 'feature']} required label={t('tags.def.feature')} {...status('definition.feature')}>
            <Select<string>
              showSearch
              optionFilterProp="label"
              placeholder={t('tags.editor.chooseFeature')}
              options={numericFeatures.map((f) => ({ value: f.name, label: `${labels.label(f)} (${f.name})` }))}
            />
          </Form.Item>
          {bucketEditor(bucketFeature?.kind === 'money' ? t('tags.def.yuan') : '', bucketFeature?.kind === 'ratio' ? 0.1 : undefined)}
        </>
      );
    }
    if (source === 'list') {
      const options = (lists.data?.items ?? []).map((l) => ({ value: l.id, label: `${l.name}（${t('tags.lists.sizeN', { n: formatInt(l.size) })}）` }));
      return (
        <>
          <Form.Item name={['definition', 'list_id']} required label={t('tags.def.list')} {...status('definition.list_id')}>
            <Select<number> showSearch optionFilterProp="label" placeholder={t('tags.editor.chooseList')} options={options} loading={lists.isLoading} />
          </Form.Item>
          {can('audiences.manage') && (
            <ListUpload
              buttonText={t('tags.editor.uploadList')}
              onUploaded={(res) => {
                form.setFieldValue(['definition', 'list_id'], res.list.id);
                void lists.refetch();
              }}
            />
          )}
          <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>
            {t('tags.def.listMeaning')}
          </Typography.Paragraph>
        </>
      );
    }
    if (source === 'model_score') {
      return (
        <>
          <Form.Item name={['definition', 'model']} label={t('tags.def.model')} {...status('definition.model')}>
            <Input placeholder="churn_v3" />
          </Form.Item>
          {valueType === 'boolean' ? (
            <Form.Item name={['definition', 'threshold']} required label={t('tags.def.threshold')} extra={t('tags.editor.thresholdHint')} {...status('definition.threshold')}>
              <InputNumber step={0.05} style={{ width: 200 }} />
            </Form.Item>
          ) : (
            bucketEditor('', 0.1)
          )}
          <div style={{ marginTop: 12 }}>
            {editId !== null ? (
              <Space>
                <ScoreUpload tagId={editId} />
                {tag?.score_file && (
                  <Typography.Text type="secondary">{t('tags.scores.fileInfo', { rows: formatInt(tag.score_file.rows), at: '' })}</Typography.Text>
                )}
              </Space>
            ) : (
              <Alert type="info" showIcon message={t('tags.editor.scoreAfterSave')} />
            )}
          </div>
        </>
      );
    }
    const basis = (
      <Form.Item name="event_basis" label={t('tags.editor.eventBasis')}>
        <Radio.Group optionType="button" options={[{ value: 'event', label: t('tags.editor.basisEvent') }, { value: 'trigger', label: t('tags.editor.basisTrigger') }]} />
      </Form.Item>
    );
    if (values?.event_basis === 'trigger') {
      return (
        <>
          {basis}
          <Row gutter={8}>
            <Col xs={24} md={14}>
              <Form.Item name={['definition', 'trigger_id']} required label={t('tags.def.trigger')} {...status('definition.trigger_id')}>
                <Select
                  showSearch
                  optionFilterProp="label"
                  loading={triggers.isLoading}
                  placeholder={t('tags.editor.chooseTrigger')}
                  options={(triggers.data?.items ?? []).map((tr) => ({ value: tr.id, label: `${tr.name}（#${tr.id}）` }))}
                />
              </Form.Item>
            </Col>
            <Col xs={12} md={10}>
              <Form.Item name={['definition', 'within_days']} required label={t('tags.def.window')} {...status('definition.within_days')}>
                <InputNumber min={1} max={3660} precision={0} addonAfter={t('tags.editor.days')} style={{ width: '100%' }} />
              </Form.Item>
            </Col>
          </Row>
          {valueType === 'numeric' ? (
            <>
              <Typography.Paragraph type="secondary">{t('tags.def.triggerCount')}</Typography.Paragraph>
              {bucketEditor(t('tags.def.times'), 1)}
            </>
          ) : (
            <Typography.Paragraph type="secondary">{t('tags.def.triggerDid')}</Typography.Paragraph>
          )}
        </>
      );
    }
    return (
      <>
        {basis}
        <Row gutter={8}>
          <Col xs={24} md={10}>
            <Form.Item name={['definition', 'event']} required label={t('tags.def.event')} {...status('definition.event')}>
              <AutoComplete
                options={(events.data?.items ?? []).filter((e) => e.name).map((e) => ({ value: e.name as string, label: `${e.name}（${formatInt(e.count)}）` }))}
                filterOption={(input, option) => String(option?.value ?? '').toLowerCase().includes(input.toLowerCase())}
                placeholder="bind_card"
              />
            </Form.Item>
          </Col>
          <Col xs={12} md={7}>
            <Form.Item name={['definition', 'event_type']} label={t('tags.editor.eventType')} {...status('definition.event_type')}>
              <Select allowClear placeholder={t('tags.editor.anyType')} options={EVENT_TYPES.map((v) => ({ value: v, label: v }))} />
            </Form.Item>
          </Col>
          <Col xs={12} md={7}>
            <Form.Item name={['definition', 'within_days']} required label={t('tags.def.window')} {...status('definition.within_days')}>
              <InputNumber min={1} max={3660} precision={0} addonAfter={t('tags.editor.days')} style={{ width: '100%' }} />
            </Form.Item>
          </Col>
        </Row>
        <Space style={{ marginBottom: 8 }}>
          <Form.Item name="filter_on" valuePropName="checked" noStyle>
            <Switch size="small" />
          </Form.Item>
          <Typography.Text>{t('tags.editor.filterOn')}</Typography.Text>
        </Space>
        {values?.filter_on && (
          <Row gutter={8}>
            <Col xs={24} md={9}>
              <Form.Item name={['definition', 'filter', 'property']} label={t('tags.editor.property')} {...status('definition.filter.property')}>
                <Input placeholder="channel" />
              </Form.Item>
            </Col>
            <Col xs={8} md={5}>
              <Form.Item name={['definition', 'filter', 'op']} label={t('tags.editor.operator')} {...status('definition.filter.op')}>
                <Select options={(catalog.data?.event_operators ?? ['=']).map((o) => ({ value: o, label: o }))} />
              </Form.Item>
            </Col>
            {op !== 'exists' && (
              <Col xs={16} md={10}>
                <Form.Item name={['definition', 'filter', 'value']} label={t('tags.editor.compareValue')} extra={op === 'in' ? t('tags.editor.inHint') : undefined} {...status('definition.filter.value')}>
                  <Input placeholder={op === 'in' ? 'app, wechat' : 'app'} />
                </Form.Item>
              </Col>
            )}
          </Row>
        )}
        {valueType === 'numeric' ? (
          <>
            <Typography.Paragraph type="secondary">{t('tags.def.eventCount')}</Typography.Paragraph>
            {bucketEditor(t('tags.def.times'), 1)}
          </>
        ) : (
          <Typography.Paragraph type="secondary">{t('tags.def.eventDid')}</Typography.Paragraph>
        )}
      </>
    );
  };

  const v = validation.data?.result;
  return (
    <>
      {header}
      <Form<FormValues> form={form} name="tag" layout="vertical" initialValues={editId === null ? initialValues : undefined} onValuesChange={onValuesChange}>
        <Row gutter={[16, 16]}>
          <Col xs={24} xl={16}>
            <Space direction="vertical" size={16} style={{ width: '100%' }}>
              <Card title={t('tags.editor.basics')}>
                {system && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('tags.editor.systemHint')} />}
                <Row gutter={16}>
                  <Col xs={24} md={8}>
                    <Form.Item
                      name="code"
                      label={t('tags.fields.code')}
                      extra={t('tags.editor.codeHint')}
                      rules={[
                        { required: true, message: t('tags.editor.codeRequired') },
                        { pattern: CODE_PATTERN, message: t('tags.editor.codePattern') },
                      ]}
                      {...status('code')}
                    >
                      <Input disabled={editId !== null} placeholder="high_value" autoComplete="off" />
                    </Form.Item>
                  </Col>
                  <Col xs={12} md={8}>
                    <Form.Item name="name_zh" label={t('tags.fields.nameZh')} rules={[{ required: true, whitespace: true, message: t('tags.editor.nameRequired') }, { max: 100 }]} {...status('name_zh')}>
                      <Input placeholder="高价值客户" />
                    </Form.Item>
                  </Col>
                  <Col xs={12} md={8}>
                    <Form.Item name="name_en" label={t('tags.fields.nameEn')} rules={[{ required: true, whitespace: true, message: t('tags.editor.nameRequired') }, { max: 100 }]} {...status('name_en')}>
                      <Input placeholder="High-value customer" />
                    </Form.Item>
                  </Col>
                  <Col xs={24} md={8}>
                    <Form.Item name="category" label={t('tags.fields.category')} rules={[{ required: true }]} {...status('category')}>
                      <Select disabled={system} options={CATEGORIES.map((c) => ({ value: c, label: labels.category(c) }))} />
                    </Form.Item>
                  </Col>
                  <Col xs={24} md={16}>
                    <Form.Item name="description" label={t('tags.fields.description')} rules={[{ max: 1000 }]} {...status('description')}>
                      <Input placeholder={t('tags.editor.descriptionPlaceholder')} />
                    </Form.Item>
                  </Col>
                </Row>
              </Card>
              <Card title={t('tags.detail.definition')}>
                <Row gutter={16}>
                  <Col xs={24} md={14}>
                    <Form.Item name="source" required label={t('tags.fields.source')} extra={editId !== null ? t('tags.editor.sourceFixed') : undefined} {...status('source')}>
                      <Radio.Group disabled={editId !== null} optionType="button" buttonStyle="solid" options={(['rule', 'list', 'model_score', 'event'] as Source[]).map((s) => ({ value: s, label: labels.source(s) }))} />
                    </Form.Item>
                  </Col>
                  <Col xs={24} md={10}>
                    <Form.Item name="value_type" required label={t('tags.fields.valueType')} {...status('value_type')}>
                      <Radio.Group disabled={system || allowedTypes.length <= 1} options={allowedTypes.map((vt) => ({ value: vt, label: labels.valueType(vt) }))} />
                    </Form.Item>
                  </Col>
                </Row>
                {definitionFields()}
                {summary.length > 0 && (
                  <Alert
                    type="error"
                    showIcon
                    style={{ marginTop: 16 }}
                    data-testid="definition-problems"
                    message={t('tags.editor.problems')}
                    description={
                      <ul style={{ margin: 0, paddingInlineStart: 18 }}>
                        {summary.map((p, i) => (
                          <li key={i}>
                            <Typography.Text code>{p.path}</Typography.Text> {labels.en ? p.message_en : p.message_zh}
                          </li>
                        ))}
                      </ul>
                    }
                  />
                )}
              </Card>
              <Card title={t('tags.editor.scheduleTitle')}>
                <Form.Item
                  name="schedule"
                  label={t('tags.fields.schedule')}
                  extra={t('tags.editor.scheduleHint')}
                  rules={[{ pattern: /^\s*$|^\S+(\s+\S+){4,5}\s*$/, message: t('tags.editor.cronPattern') }]}
                  {...status('schedule')}
                >
                  <Input
                    placeholder="0 2 * * *"
                    style={{ maxWidth: 360, fontFamily: 'ui-monospace, Menlo, Consolas, monospace' }}
                    addonAfter={
                      <Dropdown
                        menu={{
                          items: CRON_PRESETS.map((c, i) => ({ key: c, label: `${t(CRON_LABELS[i])}  ${c}` })),
                          onClick: ({ key }) => {
                            form.setFieldValue('schedule', key);
                            setServerProblems([]);
                          },
                        }}
                      >
                        <span style={{ cursor: 'pointer' }}>
                          {t('tags.editor.presets')} <DownOutlined />
                        </span>
                      </Dropdown>
                    }
                  />
                </Form.Item>
              </Card>
              <Space>
                <Button type="primary" icon={<SaveOutlined />} loading={save.isPending} onClick={() => void onSave()} data-testid="tag-save">
                  {t('app.save')}
                </Button>
                <Button onClick={() => navigate(editId ? `/tags/${editId}` : '/tags')}>{t('app.cancel')}</Button>
              </Space>
            </Space>
          </Col>
          <Col xs={24} xl={8}>
            <div style={{ position: 'sticky', top: 16 }}>
              <Card
                title={t('tags.editor.check')}
                size="small"
                extra={validation.isFetching ? <Spin size="small" /> : null}
                data-testid="validation-panel"
                style={{ marginBottom: 16 }}
              >
                {!v ? (
                  <Typography.Text type="secondary">{t('tags.editor.checking')}</Typography.Text>
                ) : (
                  <Space direction="vertical" style={{ width: '100%', opacity: stale ? 0.6 : 1 }}>
                    {v.valid ? (
                      <Typography.Text type="success" data-testid="validation-ok">
                        <CheckCircleFilled /> {t('tags.editor.valid')}
                      </Typography.Text>
                    ) : (
                      <Typography.Text type="danger" data-testid="validation-bad">
                        <CloseCircleFilled /> {t('tags.editor.invalidN', { n: v.problems.length })}
                      </Typography.Text>
                    )}
                    <div>
                      <Typography.Text type="secondary">{t('tags.editor.featuresUsed')}：</Typography.Text>
                      {v.features_used.length ? <FeatureChips features={v.features_used} /> : <Typography.Text type="secondary">-</Typography.Text>}
                    </div>
                    {v.values.length > 0 && (
                      <div>
                        <Typography.Text type="secondary">{t('tags.editor.values')}：</Typography.Text>
                        {v.values.map((item) => (
                          <Tag key={String(item.value)}>{labels.label(item, String(item.value))}</Tag>
                        ))}
                      </div>
                    )}
                    {v.sql && (
                      <Collapse
                        size="small"
                        ghost
                        items={[{ key: 'sql', label: t('tags.editor.sql'), children: <pre className="ol-json">{v.sql}</pre> }]}
                      />
                    )}
                  </Space>
                )}
              </Card>
              {(source === 'rule' || lifecycleCode) && <FeatureReference features={features} />}
            </div>
          </Col>
        </Row>
      </Form>
    </>
  );
}

/** The customer features a rule may use, with their kinds and (for enums) values. */
function FeatureReference({ features }: { features: Feature[] }) {
  const { t } = useTranslation();
  const labels = useTagLabels();
  return (
    <Card title={t('tags.editor.featureRef')} size="small">
      <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
        {t('tags.editor.syntaxHint')}
      </Typography.Paragraph>
      <Table<Feature>
        size="small"
        rowKey="name"
        pagination={false}
        scroll={{ y: 360 }}
        dataSource={features}
        columns={[
          { title: t('tags.editor.featureName'), dataIndex: 'name', render: (n: string, f) => <span><Typography.Text code>{n}</Typography.Text><br /><Typography.Text type="secondary" style={{ fontSize: 12 }}>{labels.label(f)}</Typography.Text></span> },
          {
            title: t('tags.editor.featureKind'),
            dataIndex: 'kind',
            width: 110,
            render: (k: string, f) => (
              <span>
                {k === 'integer' || k === 'money' || k === 'ratio' || k === 'boolean' || k === 'enum' || k === 'date' ? t(`tags.kinds.${k}`) : k}
                {f.values.length > 0 && (
                  <>
                    <br />
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                      {f.values.join(' / ')}
                    </Typography.Text>
                  </>
                )}
              </span>
            ),
          },
        ]}
      />
    </Card>
  );
}
