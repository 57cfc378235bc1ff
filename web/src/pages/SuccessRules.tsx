import { useState } from 'react';
import { App, Button, Card, Descriptions, Drawer, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { EditOutlined, ExperimentOutlined, MinusCircleOutlined, PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime } from '../lib/format';

type Rule = Schemas['SuccessRuleRead'];
type TestResult = Schemas['RuleTestResult'];
const OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'contains'] as const;
type Op = (typeof OPS)[number];
const EVENTS = ['购买理财', '绑卡完成', '登录', '激活信用卡', '转账', '工资到账'];

interface FilterRow { property: string; op: string; value: string }
interface FormValues { name: string; event_name: string; window_days: number; value_property?: string; description?: string; property_filter?: FilterRow[] }

/** A typed value from the editor's text: numbers stay numbers; "in" takes a comma-separated list. */
function parseValue(op: string, raw: string): unknown {
  const one = (s: string) => (s.trim() !== '' && !Number.isNaN(Number(s)) ? Number(s) : s.trim());
  return op === 'in' ? raw.split(/[,，]/).map(one).filter((v) => v !== '') : one(raw ?? '');
}

function describe(f: Record<string, unknown>, opLabel: (op: Op) => string): string {
  const value = Array.isArray(f.value) ? f.value.join('、') : String(f.value);
  return `${String(f.property)} ${opLabel(f.op as Op)} ${value}`;
}

/** 成功标准: which event (with property filters) within how many days counts as a response. */
export default function SuccessRulesPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const client = useQueryClient();
  const manage = can('elements.manage');
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const [testing, setTesting] = useState<Rule | null>(null);
  const [result, setResult] = useState<TestResult | null>(null);
  const [form] = Form.useForm<FormValues>();
  const [testForm] = Form.useForm<{ customer_no: string; days: number }>();
  const query = useQuery({
    queryKey: ['success-rules', page],
    queryFn: () => unwrap(api.GET('/api/success-rules', { params: { query: { page, page_size: 20 } } })),
    placeholderData: keepPreviousData,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['success-rules'] });
  const save = useMutation({
    mutationFn: (v: FormValues) => {
      const body = {
        name: v.name, event_name: v.event_name, window_days: v.window_days, value_property: v.value_property || null,
        description: v.description || null,
        property_filter: (v.property_filter ?? []).filter((f) => f && f.property).map((f) => ({ property: f.property, op: f.op, value: parseValue(f.op, f.value) })),
      };
      if (editing === 'new') return unwrap(api.POST('/api/success-rules', { body }));
      return unwrap(api.PATCH('/api/success-rules/{rule_id}', { params: { path: { rule_id: (editing as Rule).id } }, body }));
    },
    onSuccess: () => { setEditing(null); message.success(t('app.savedOk')); refresh(); },
    onError: (err) => message.error(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE('/api/success-rules/{rule_id}', { params: { path: { rule_id: id } } })),
    onSuccess: refresh,
    onError: (err) => message.error(errorMessage(err)),
  });
  const test = useMutation({
    mutationFn: (v: { customer_no: string; days: number }) =>
      unwrap(api.POST('/api/success-rules/{rule_id}/test', { params: { path: { rule_id: testing!.id } }, body: v })),
    onSuccess: setResult,
    onError: (err) => message.error(errorMessage(err)),
  });
  const openEditor = (r: Rule | 'new') => {
    setEditing(r);
    form.resetFields();
    if (r !== 'new') {
      form.setFieldsValue({
        name: r.name, event_name: r.event_name, window_days: r.window_days, value_property: r.value_property ?? undefined,
        description: r.description ?? undefined,
        property_filter: r.property_filter.map((f) => ({ property: String(f.property), op: String(f.op), value: Array.isArray(f.value) ? f.value.join(',') : String(f.value) })),
      });
    }
  };
  const columns: TableProps<Rule>['columns'] = [
    { title: t('elements.rules.name'), dataIndex: 'name', width: 220, render: (n: string) => <Typography.Text strong>{n}</Typography.Text> },
    { title: t('elements.rules.event'), dataIndex: 'event_name', width: 120, render: (e: string) => <Tag color="purple">{e}</Tag> },
    { title: t('elements.rules.filters'), dataIndex: 'property_filter', render: (fs: Rule['property_filter']) => (fs.length ? fs.map((f, i) => <Tag key={i}>{describe(f, (op) => t(`elements.ops.${op}`))}</Tag>) : <Typography.Text type="secondary">{t('elements.rules.anyEvent')}</Typography.Text>) },
    { title: t('elements.rules.window'), dataIndex: 'window_days', width: 100, render: (d: number) => t('elements.rules.days', { count: d }) },
    { title: t('elements.rules.valueProperty'), dataIndex: 'value_property', width: 120, render: (v: string | null) => v ?? '-' },
    { title: t('elements.templates.owner'), dataIndex: 'owner_org_name', width: 110 },
    { title: t('app.actions'), key: 'actions', width: 230, fixed: 'right',
      render: (_, r) => (
        <Space size={4}>
          <Button size="small" icon={<ExperimentOutlined />} onClick={() => { setTesting(r); setResult(null); }}>{t('elements.rules.test')}</Button>
          {manage && r.editable && <Button size="small" icon={<EditOutlined />} onClick={() => openEditor(r)}>{t('elements.edit')}</Button>}
          {manage && r.editable && <Popconfirm title={t('elements.deleteConfirm')} onConfirm={() => remove.mutate(r.id)}><Button size="small" type="text" danger>{t('elements.delete')}</Button></Popconfirm>}
        </Space>) },
  ];
  return (
    <Card>
      {manage && <Button type="primary" icon={<PlusOutlined />} style={{ float: 'right' }} onClick={() => openEditor('new')} data-testid="new-rule">{t('elements.rules.create')}</Button>}
      <Typography.Title level={4} className="ol-page-title">{t('elements.rules.title')}</Typography.Title>
      <Typography.Paragraph type="secondary">{t('elements.rules.hint')}</Typography.Paragraph>
      <Table<Rule> rowKey="id" size="middle" data-testid="rules-table" columns={columns} dataSource={query.data?.items ?? []}
                   loading={query.isFetching && !query.data} scroll={{ x: 1100 }} locale={{ emptyText: t('elements.rules.empty') }}
                   pagination={{ current: page, pageSize: 20, total: query.data?.total ?? 0, onChange: setPage, showTotal: (total) => t('app.total', { count: total }) }} />
      <Modal open={editing !== null} width={720} title={editing === 'new' ? t('elements.rules.create') : t('elements.rules.editTitle')}
             onCancel={() => setEditing(null)} onOk={() => form.submit()} confirmLoading={save.isPending} destroyOnHidden>
        <Form form={form} layout="vertical" initialValues={{ window_days: 7 }} onFinish={(v) => save.mutate(v)}>
          <Form.Item name="name" label={t('elements.rules.name')} rules={[{ required: true, whitespace: true }]}><Input maxLength={100} /></Form.Item>
          <Space>
            <Form.Item name="event_name" label={t('elements.rules.event')} rules={[{ required: true }]}>
              <Select showSearch style={{ width: 200 }} options={EVENTS.map((e) => ({ value: e, label: e }))} />
            </Form.Item>
            <Form.Item name="window_days" label={t('elements.rules.window')} rules={[{ required: true }]}><InputNumber min={1} max={365} addonAfter={t('elements.rules.dayUnit')} /></Form.Item>
            <Form.Item name="value_property" label={t('elements.rules.valueProperty')} tooltip={t('elements.rules.valueTip')}><Input placeholder="amount_fen" style={{ width: 160 }} /></Form.Item>
          </Space>
          <Typography.Text strong>{t('elements.rules.filters')}</Typography.Text>
          <Form.List name="property_filter">
            {(rows, { add, remove: drop }) => (
              <div style={{ marginTop: 8 }}>
                {rows.map((row) => (
                  <Space key={row.key} align="baseline">
                    <Form.Item name={[row.name, 'property']} rules={[{ required: true }]}><Input placeholder="amount_fen" style={{ width: 160 }} /></Form.Item>
                    <Form.Item name={[row.name, 'op']} initialValue="eq"><Select style={{ width: 120 }} options={OPS.map((o) => ({ value: o, label: t(`elements.ops.${o}`) }))} /></Form.Item>
                    <Form.Item name={[row.name, 'value']} rules={[{ required: true }]}><Input placeholder="1000000" style={{ width: 220 }} /></Form.Item>
                    <MinusCircleOutlined onClick={() => drop(row.name)} />
                  </Space>))}
                <Button type="dashed" icon={<PlusOutlined />} onClick={() => add()}>{t('elements.rules.addFilter')}</Button>
              </div>)}
          </Form.List>
          <Form.Item name="description" label={t('elements.description')} style={{ marginTop: 12 }}><Input.TextArea rows={2} maxLength={500} /></Form.Item>
        </Form>
      </Modal>
      <Drawer open={testing !== null} width={760} onClose={() => setTesting(null)} title={`${t('elements.rules.test')} · ${testing?.name ?? ''}`} destroyOnHidden>
        <Form form={testForm} layout="inline" initialValues={{ days: 30 }} onFinish={(v) => test.mutate(v)}>
          <Form.Item name="customer_no" rules={[{ required: true }]}><Input placeholder={t('elements.rules.customerNo')} /></Form.Item>
          <Form.Item name="days"><InputNumber min={1} max={365} addonAfter={t('elements.rules.dayUnit')} /></Form.Item>
          <Button type="primary" htmlType="submit" loading={test.isPending}>{t('elements.rules.run')}</Button>
        </Form>
        {result && (
          <>
            <Descriptions size="small" style={{ marginTop: 16 }} column={2}>
              <Descriptions.Item label={t('elements.rules.matched')}>{result.matched_count} / {result.events.length}</Descriptions.Item>
              <Descriptions.Item label={t('elements.rules.firstMatch')}>{formatDateTime(result.first_match_at)}</Descriptions.Item>
            </Descriptions>
            <Table rowKey="id" size="small" dataSource={result.events} pagination={false}
                   columns={[
                     { title: t('events.stream.time'), dataIndex: 'ts', width: 170, render: formatDateTime },
                     { title: t('elements.rules.matched'), dataIndex: 'matched', width: 90, render: (m: boolean) => (m ? <Tag color="green">{t('app.yes')}</Tag> : <Tag>{t('app.no')}</Tag>) },
                     { title: t('events.stream.properties'), dataIndex: 'properties', ellipsis: true, render: (p: unknown) => (p ? JSON.stringify(p) : '-') },
                   ]} />
          </>)}
      </Drawer>
    </Card>
  );
}
