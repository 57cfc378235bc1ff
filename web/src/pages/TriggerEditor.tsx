import { useEffect, useState } from 'react';
import type { FormProps } from 'antd';
import { Alert, App as AntApp, Button, Card, Col, Form, Input, InputNumber, Row, Select, Space, Table, Typography } from 'antd';
import { MinusCircleOutlined, PlusOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import OrgTreeSelect from '../components/OrgTreeSelect';
import { formatDateTime, formatInt } from '../lib/format';
import { notifyError } from '../lib/notify';
import { TRIGGER_KINDS } from './Triggers';

type Kind = Schemas['TriggerRead']['kind'];
type TestResult = Schemas['TriggerTestResult'];
type Op = 'eq' | 'ne' | 'in' | 'contains' | 'gt' | 'gte' | 'lt' | 'lte' | 'between' | 'exists';
type ValueType = 'string' | 'number' | 'date' | 'boolean';
type Unit = 'seconds' | 'minutes' | 'hours' | 'days';
interface FilterRow {
  property?: string;
  type?: ValueType;
  op?: Op;
  value?: string | boolean;
}
interface Values {
  name?: string;
  description?: string;
  kind: Kind;
  owner_org_id?: number;
  event?: string;
  event_type?: string;
  filters?: FilterRow[];
  window_days?: number | null;
  then_event?: string;
  then_filters?: FilterRow[];
  within?: number;
  unit?: Unit;
  match_key?: string;
  date_kind?: string;
  days_before?: number;
  product_types?: string[];
  payroll_day?: number | null;
  salary_event?: string;
  direction?: string;
  threshold_yuan?: number;
}
type Definition = Record<string, unknown>;
type FieldData = NonNullable<FormProps<Values>['fields']>[number];

const OPS: Op[] = ['eq', 'ne', 'in', 'contains', 'gt', 'gte', 'lt', 'lte', 'between', 'exists'];
const TYPES: ValueType[] = ['string', 'number', 'date', 'boolean'];
const UNIT_SECONDS: Record<Unit, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86400 };
const SPLIT = /[,，、;；]/;

function filterOut(rows: FilterRow[] | undefined): Definition[] {
  return (rows ?? []).map((f) => {
    let value: unknown = f.value;
    if (f.op === 'exists') value = f.value === undefined ? true : f.value === true || f.value === 'true';
    else if (f.op === 'in' || f.op === 'between') value = String(f.value ?? '').split(SPLIT).map((v) => v.trim()).filter(Boolean);
    return { property: f.property, type: f.type ?? 'string', op: f.op ?? 'eq', value };
  });
}

function filterIn(rows: unknown): FilterRow[] {
  return ((rows as Definition[] | undefined) ?? []).map((f) => ({
    property: f.property as string,
    type: f.type as ValueType,
    op: f.op as Op,
    value: f.op === 'exists' ? (f.value as boolean) : Array.isArray(f.value) ? (f.value as unknown[]).join(',') : String(f.value ?? ''),
  }));
}

function toDefinition(v: Values): Definition {
  const within = (v.within ?? 0) * UNIT_SECONDS[v.unit ?? 'minutes'];
  switch (v.kind) {
    case 'event':
      return { event: v.event, event_type: v.event_type || undefined, filters: filterOut(v.filters) };
    case 'first_time':
      return { event: v.event, filters: filterOut(v.filters), window_days: v.window_days ?? null };
    case 'breakpoint':
    case 'sequence':
      return {
        event: v.event, filters: filterOut(v.filters), then_event: v.then_event, then_filters: filterOut(v.then_filters),
        within_seconds: Math.round(within), match_key: v.match_key || null,
      };
    case 'key_date':
      return {
        date_kind: v.date_kind, days_before: v.days_before ?? 0, product_types: v.product_types,
        payroll_day: v.payroll_day ?? null, salary_event: v.salary_event || undefined,
      };
    case 'threshold':
      return { metric: 'aum_fen', direction: v.direction, value_fen: Math.round((v.threshold_yuan ?? 0) * 100) };
  }
}

function fromDefinition(kind: Kind, d: Definition): Partial<Values> {
  const seconds = Number(d.within_seconds ?? 1800);
  const unit: Unit = seconds % 86400 === 0 ? 'days' : seconds % 3600 === 0 ? 'hours' : seconds % 60 === 0 ? 'minutes' : 'seconds';
  return {
    event: d.event as string, event_type: d.event_type as string | undefined, filters: filterIn(d.filters),
    window_days: (d.window_days as number | null) ?? null, then_event: d.then_event as string,
    then_filters: filterIn(d.then_filters), within: seconds / UNIT_SECONDS[unit], unit,
    match_key: (d.match_key as string | null) ?? undefined, date_kind: d.date_kind as string,
    days_before: d.days_before as number, product_types: d.product_types as string[],
    payroll_day: (d.payroll_day as number | null) ?? null, salary_event: d.salary_event as string,
    direction: d.direction as string, threshold_yuan: kind === 'threshold' ? Number(d.value_fen ?? 0) / 100 : undefined,
  };
}

/** Field-path errors of a 422 ("definition.filters.0.op") onto the form's fields. */
function fieldErrors(err: unknown, lang: string): FieldData[] {
  if (!(err instanceof ApiError) || err.status !== 422 || !Array.isArray(err.details)) return [];
  const map: Record<string, string> = { within_seconds: 'within', value_fen: 'threshold_yuan' };
  return (err.details as Definition[])
    .filter((d) => typeof d.field === 'string' && (d.field as string).startsWith('definition.'))
    .map((d) => {
      const parts = (d.field as string).split('.').slice(1).map((p) => (/^\d+$/.test(p) ? Number(p) : map[p] ?? p));
      return { name: parts.slice(0, 3) as FieldData['name'], errors: [String(lang === 'en' ? d.message_en : d.message_zh)] };
    });
}

function FilterList({ name, label }: { name: 'filters' | 'then_filters'; label: string }) {
  const { t } = useTranslation();
  const form = Form.useFormInstance<Values>();
  return (
    <Form.Item label={label}>
      <Form.List name={name}>
        {(fields, { add, remove }) => (
          <>
            {fields.map((field) => {
              const op = form.getFieldValue([name, field.name, 'op']) as Op | undefined;
              return (
                <Space key={field.key} align="start" wrap style={{ display: 'flex', marginBottom: 4 }}>
                  <Form.Item name={[field.name, 'property']} rules={[{ required: true, message: t('triggers.required') }]} noStyle>
                    <Input placeholder={t('triggers.property')} style={{ width: 150 }} data-testid="filter-property" />
                  </Form.Item>
                  <Form.Item name={[field.name, 'type']} initialValue="string" noStyle>
                    <Select style={{ width: 90 }} options={TYPES.map((v) => ({ value: v, label: t(`triggers.valueTypes.${v}`) }))} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'op']} initialValue="eq" noStyle>
                    <Select style={{ width: 110 }} data-testid="filter-op" options={OPS.map((v) => ({ value: v, label: t(`triggers.ops.${v}`) }))} />
                  </Form.Item>
                  <Form.Item noStyle shouldUpdate>
                    {() =>
                      form.getFieldValue([name, field.name, 'op']) === 'exists' ? (
                        <Form.Item name={[field.name, 'value']} initialValue={true} noStyle>
                          <Select style={{ width: 160 }} options={[{ value: true, label: t('triggers.exists.true') }, { value: false, label: t('triggers.exists.false') }]} />
                        </Form.Item>
                      ) : (
                        <Form.Item name={[field.name, 'value']} noStyle>
                          <Input
                            style={{ width: 200 }}
                            data-testid="filter-value"
                            placeholder={op === 'in' ? t('triggers.valueHintIn') : op === 'between' ? t('triggers.valueHintBetween') : t('triggers.value')}
                          />
                        </Form.Item>
                      )
                    }
                  </Form.Item>
                  <MinusCircleOutlined onClick={() => remove(field.name)} style={{ marginTop: 8 }} />
                </Space>
              );
            })}
            <Button type="dashed" size="small" icon={<PlusOutlined />} onClick={() => add({ type: 'string', op: 'eq' })} data-testid="add-filter">
              {t('triggers.addFilter')}
            </Button>
          </>
        )}
      </Form.List>
    </Form.Item>
  );
}

/** Trigger editor (触发器编辑): type-specific form, "test against recent events", save / activate. */
export default function TriggerEditorPage() {
  const { t, i18n } = useTranslation();
  const { message } = AntApp.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { triggerId } = useParams();
  const id = triggerId ? Number(triggerId) : undefined;
  const [form] = Form.useForm<Values>();
  const kind = Form.useWatch('kind', form) ?? 'event';
  const dateKind = Form.useWatch('date_kind', form);
  const [testDays, setTestDays] = useState(7);
  const [result, setResult] = useState<TestResult | null>(null);

  const existing = useQuery({
    queryKey: ['trigger', id],
    enabled: id !== undefined,
    queryFn: () => unwrap(api.GET('/api/triggers/{trigger_id}', { params: { path: { trigger_id: id! } } })),
  });
  useEffect(() => {
    const row = existing.data;
    if (row) {
      form.setFieldsValue({ name: row.name, description: row.description ?? undefined, kind: row.kind, ...fromDefinition(row.kind, row.definition) });
    }
  }, [existing.data, form]);
  const readOnly = existing.data !== undefined && !existing.data.editable;

  const showErrors = (err: unknown) => {
    const fields = fieldErrors(err, i18n.language);
    if (fields.length) form.setFields(fields);
    notifyError(errorMessage(err));
  };

  const save = useMutation({
    mutationFn: async (activate: boolean) => {
      const v = await form.validateFields();
      const definition = toDefinition(v);
      if (id !== undefined) {
        const row = await unwrap(api.PATCH('/api/triggers/{trigger_id}', {
          params: { path: { trigger_id: id } }, body: { name: v.name, description: v.description ?? null, definition },
        }));
        if (activate && row.status !== 'active') {
          return unwrap(api.POST('/api/triggers/{trigger_id}/{action}', { params: { path: { trigger_id: id, action: 'activate' } } }));
        }
        return row;
      }
      return unwrap(api.POST('/api/triggers', {
        body: { name: v.name!, description: v.description ?? null, kind: v.kind, definition, owner_org_id: v.owner_org_id ?? null,
                status: activate ? 'active' : 'draft' },
      }));
    },
    onSuccess: (row) => {
      void message.success(t('triggers.saved'));
      void queryClient.invalidateQueries({ queryKey: ['triggers'] });
      void queryClient.invalidateQueries({ queryKey: ['trigger', row.id] });
      navigate(`/triggers/${row.id}`);
    },
    onError: showErrors,
  });

  const test = useMutation({
    mutationFn: async () => {
      const v = await form.validateFields();
      return unwrap(api.POST('/api/triggers/test', {
        body: { kind: v.kind, definition: toDefinition(v), days: testDays, owner_org_id: v.owner_org_id ?? null },
      }));
    },
    onSuccess: setResult,
    onError: showErrors,
  });

  const eventKinds = kind === 'event' || kind === 'first_time' || kind === 'breakpoint' || kind === 'sequence';
  const pair = kind === 'breakpoint' || kind === 'sequence';

  return (
    <Card loading={id !== undefined && existing.isLoading}>
      <Typography.Title level={4} className="ol-page-title">
        {id !== undefined ? t('triggers.edit') : t('triggers.new')}
      </Typography.Title>
      {readOnly && <Alert type="info" showIcon message={t('triggers.readOnly')} style={{ marginBottom: 16 }} />}
      <Form<Values>
        form={form}
        layout="vertical"
        disabled={readOnly}
        initialValues={{ kind: 'event', unit: 'minutes', within: 30, days_before: 0, product_types: ['wealth'], direction: 'up', filters: [], then_filters: [] }}
        onValuesChange={() => setResult(null)}
        data-testid="trigger-form"
      >
        <Row gutter={16}>
          <Col span={8}>
            <Form.Item name="name" label={t('triggers.name')} rules={[{ required: true, message: t('triggers.required') }, { max: 100 }]}>
              <Input data-testid="trigger-name" />
            </Form.Item>
          </Col>
          <Col span={6}>
            <Form.Item name="kind" label={t('triggers.kind')}>
              <Select disabled={id !== undefined} data-testid="trigger-kind" options={TRIGGER_KINDS.map((k) => ({ value: k, label: t(`triggers.kinds.${k}`) }))} />
            </Form.Item>
          </Col>
          {id === undefined && (
            <Col span={10}>
              <Form.Item name="owner_org_id" label={t('triggers.ownerOrg')}>
                <OrgTreeSelect />
              </Form.Item>
            </Col>
          )}
        </Row>
        <Form.Item name="description" label={t('triggers.description')} rules={[{ max: 500 }]}>
          <Input.TextArea rows={2} />
        </Form.Item>

        {pair && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t(kind === 'breakpoint' ? 'triggers.breakpointHint' : 'triggers.sequenceHint')} />}
        {eventKinds && (
          <>
            <Row gutter={16}>
              <Col span={8}>
                <Form.Item name="event" label={t('triggers.event')} tooltip={t('triggers.eventHint')} rules={[{ required: true, message: t('triggers.required') }]}>
                  <Input data-testid="trigger-event" />
                </Form.Item>
              </Col>
              {kind === 'event' && (
                <Col span={6}>
                  <Form.Item name="event_type" label={t('triggers.eventType')}>
                    <Select allowClear placeholder={t('triggers.anyType')} options={['track', 'page', 'screen'].map((v) => ({ value: v, label: v }))} />
                  </Form.Item>
                </Col>
              )}
              {kind === 'first_time' && (
                <Col span={8}>
                  <Form.Item name="window_days" label={t('triggers.windowDays')} tooltip={t('triggers.windowHint')}>
                    <InputNumber min={1} max={3650} style={{ width: '100%' }} />
                  </Form.Item>
                </Col>
              )}
            </Row>
            <FilterList name="filters" label={t('triggers.filters')} />
          </>
        )}
        {pair && (
          <>
            <Row gutter={16}>
              <Col span={8}>
                <Form.Item name="then_event" label={t('triggers.thenEvent')} rules={[{ required: true, message: t('triggers.required') }]}>
                  <Input data-testid="trigger-then-event" />
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item label={t('triggers.within')} required>
                  <Space.Compact style={{ width: '100%' }}>
                    <Form.Item name="within" noStyle rules={[{ required: true, message: t('triggers.required') }]}>
                      <InputNumber min={1} style={{ width: '60%' }} data-testid="trigger-within" />
                    </Form.Item>
                    <Form.Item name="unit" noStyle>
                      <Select style={{ width: '40%' }} options={(['seconds', 'minutes', 'hours', 'days'] as Unit[]).map((u) => ({ value: u, label: t(`triggers.units.${u}`) }))} />
                    </Form.Item>
                  </Space.Compact>
                </Form.Item>
              </Col>
              <Col span={8}>
                <Form.Item name="match_key" label={t('triggers.matchKey')} tooltip={t('triggers.matchKeyHint')}>
                  <Input placeholder="flow_id" data-testid="trigger-match-key" />
                </Form.Item>
              </Col>
            </Row>
            <FilterList name="then_filters" label={t('triggers.thenFilters')} />
          </>
        )}
        {kind === 'key_date' && (
          <>
            <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('triggers.keyDateHint')} />
            <Row gutter={16}>
              <Col span={6}>
                <Form.Item name="date_kind" label={t('triggers.dateKind')} rules={[{ required: true, message: t('triggers.required') }]}>
                  <Select options={(['birthday', 'anniversary', 'maturity', 'payroll'] as const).map((v) => ({ value: v, label: t(`triggers.dateKinds.${v}`) }))} />
                </Form.Item>
              </Col>
              <Col span={4}>
                <Form.Item name="days_before" label={t('triggers.daysBefore')}>
                  <InputNumber min={0} max={365} style={{ width: '100%' }} />
                </Form.Item>
              </Col>
              {dateKind === 'maturity' && (
                <Col span={10}>
                  <Form.Item name="product_types" label={t('triggers.productTypes')}>
                    <Select mode="multiple" options={(['wealth', 'deposit', 'fund', 'insurance'] as const).map((v) => ({ value: v, label: t(`triggers.productTypeNames.${v}`) }))} />
                  </Form.Item>
                </Col>
              )}
              {dateKind === 'payroll' && (
                <>
                  <Col span={5}>
                    <Form.Item name="payroll_day" label={t('triggers.payrollDay')} tooltip={t('triggers.payrollHint')}>
                      <InputNumber min={1} max={31} style={{ width: '100%' }} />
                    </Form.Item>
                  </Col>
                  <Col span={7}>
                    <Form.Item name="salary_event" label={t('triggers.salaryEvent')}>
                      <Input placeholder="salary_credited" />
                    </Form.Item>
                  </Col>
                </>
              )}
            </Row>
          </>
        )}
        {kind === 'threshold' && (
          <Row gutter={16}>
            <Col span={6}>
              <Form.Item name="direction" label={t('triggers.direction')}>
                <Select options={(['up', 'down', 'both'] as const).map((v) => ({ value: v, label: t(`triggers.directions.${v}`) }))} />
              </Form.Item>
            </Col>
            <Col span={8}>
              <Form.Item name="threshold_yuan" label={t('triggers.thresholdYuan')} rules={[{ required: true, message: t('triggers.required') }]}>
                <InputNumber min={0} precision={2} style={{ width: '100%' }} />
              </Form.Item>
            </Col>
          </Row>
        )}
      </Form>

      <Card size="small" title={t('triggers.test')} style={{ marginBottom: 16 }}>
        <Space wrap>
          {t('triggers.testDays')}
          <InputNumber min={1} max={30} value={testDays} onChange={(v) => setTestDays(v ?? 7)} />
          <Button onClick={() => test.mutate()} loading={test.isPending} data-testid="trigger-test">
            {t('triggers.testRun')}
          </Button>
        </Space>
        {result && (
          <div style={{ marginTop: 12 }} data-testid="trigger-test-result">
            <Alert
              type={result.customers ? 'success' : 'info'}
              showIcon
              message={t(kind === 'key_date' ? 'triggers.testResultKeyDate' : 'triggers.testResult', {
                days: testDays, customers: formatInt(result.customers), firings: formatInt(result.firings), events: formatInt(result.events_scanned),
              })}
              description={[result.truncated ? t('triggers.testTruncated') : null, i18n.language === 'en' ? result.note_en : result.note_zh].filter(Boolean).join(' ') || undefined}
            />
            <Table
              rowKey="customer_no"
              size="small"
              style={{ marginTop: 8 }}
              pagination={false}
              dataSource={result.sample}
              columns={[
                { title: t('triggers.customerNo'), dataIndex: 'customer_no' },
                { title: t('triggers.customerName'), dataIndex: 'customer_name' },
                { title: t('triggers.org'), dataIndex: 'org_name' },
                { title: t('triggers.count'), dataIndex: 'firings', align: 'right' },
                { title: t('triggers.lastAt'), dataIndex: 'last_at', render: (v: string | null) => formatDateTime(v) },
              ]}
            />
          </div>
        )}
      </Card>

      <Space>
        <Button onClick={() => navigate(id !== undefined ? `/triggers/${id}` : '/triggers')}>{t('app.back')}</Button>
        {!readOnly && (
          <>
            <Button onClick={() => save.mutate(false)} loading={save.isPending} data-testid="trigger-save">
              {id !== undefined ? t('triggers.save') : t('triggers.saveDraft')}
            </Button>
            <Button type="primary" onClick={() => save.mutate(true)} loading={save.isPending} data-testid="trigger-save-activate">
              {t('triggers.saveActivate')}
            </Button>
          </>
        )}
      </Space>
    </Card>
  );
}
