import { useState } from 'react';
import { App, Button, Card, DatePicker, Drawer, Form, Input, InputNumber, Modal, Popconfirm, Progress, Select, Space, Table, Tag, Tooltip, Typography } from 'antd';
import type { TableProps } from 'antd';
import { EditOutlined, PlusOutlined, SwapOutlined, UnorderedListOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { dayjs, formatDateTime, formatFen, formatInt, shanghaiIso } from '../lib/format';

type Benefit = Schemas['BenefitRead'];
type Grant = Schemas['GrantRead'];
type Kind = Benefit['kind'];
const KINDS = ['coupon', 'points', 'cashback', 'gift'] as const;
const KIND_COLORS: Record<string, string> = { coupon: 'blue', points: 'gold', cashback: 'green', gift: 'magenta' };
const GRANT_COLORS: Record<string, string> = { reserved: 'processing', granted: 'success', released: 'default' };

interface FormValues {
  code: string;
  name: string;
  kind: Kind;
  face_value_yuan?: number;
  points?: number;
  unit_cost_yuan?: number;
  inventory_total: number;
  budget_yuan?: number | null;
  validity?: [dayjs.Dayjs, dayjs.Dayjs] | null;
  status: 'active' | 'inactive';
  description?: string;
}

const toFen = (yuan: number | null | undefined) => (yuan === null || yuan === undefined ? undefined : Math.round(yuan * 100));

/** Inventory used as a bar: taken (reserved + granted) out of the total. */
export function InventoryBar({ b }: { b: Benefit }) {
  const { t } = useTranslation();
  const used = b.inventory_total - b.inventory_left;
  const pct = b.inventory_total ? Math.round((used / b.inventory_total) * 100) : 0;
  return (
    <Tooltip title={t('elements.benefits.inventoryTip', { left: formatInt(b.inventory_left), total: formatInt(b.inventory_total) })}>
      <div data-testid={`inventory-${b.code}`}>
        <Progress percent={pct} size="small" status={b.inventory_left === 0 ? 'exception' : 'normal'} showInfo={false} />
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>
          {t('elements.benefits.left')} {formatInt(b.inventory_left)} / {formatInt(b.inventory_total)}
        </Typography.Text>
      </div>
    </Tooltip>
  );
}

function Grants({ benefit, onClose }: { benefit: Benefit | null; onClose: () => void }) {
  const { t } = useTranslation();
  const [page, setPage] = useState(1);
  const [status, setStatus] = useState<Grant['status'] | undefined>();
  const query = useQuery({
    queryKey: ['benefit-grants', benefit?.id, page, status],
    enabled: benefit !== null,
    queryFn: () => unwrap(api.GET('/api/benefits/{benefit_id}/grants', {
      params: { path: { benefit_id: benefit!.id }, query: { page, page_size: 20, status: status as never } },
    })),
    placeholderData: keepPreviousData,
  });
  const columns: TableProps<Grant>['columns'] = [
    { title: t('elements.grants.customer'), key: 'customer', width: 180, render: (_, g) => <span>{g.customer_name} <Typography.Text type="secondary">{g.customer_no}</Typography.Text></span> },
    { title: t('elements.grants.campaign'), key: 'campaign', ellipsis: true, render: (_, g) => g.campaign_name ?? g.campaign_code ?? g.campaign_id },
    { title: t('elements.grants.occasion'), dataIndex: 'occasion', width: 110 },
    { title: t('elements.grants.status'), dataIndex: 'status', width: 90, render: (s: Grant['status']) => <Tag color={GRANT_COLORS[s]}>{t(`elements.grantStatus.${s}`)}</Tag> },
    { title: t('elements.grants.cost'), dataIndex: 'cost_fen', width: 100, align: 'right', render: formatFen },
    { title: t('elements.grants.reservedAt'), dataIndex: 'reserved_at', width: 170, render: formatDateTime },
    { title: t('elements.grants.releaseReason'), dataIndex: 'release_reason', width: 120, render: (r: string | null) => r ?? '-' },
  ];
  return (
    <Drawer open={benefit !== null} onClose={onClose} width={960} title={`${t('elements.grants.title')} · ${benefit?.name ?? ''}`} destroyOnHidden>
      <Select allowClear style={{ width: 160, marginBottom: 12 }} placeholder={t('elements.grants.status')}
              options={(['reserved', 'granted', 'released'] as const).map((s) => ({ value: s, label: t(`elements.grantStatus.${s}`) }))}
              onChange={(s?: Grant['status']) => { setStatus(s); setPage(1); }} />
      <Table<Grant> rowKey="id" size="small" data-testid="grants-table" columns={columns} dataSource={query.data?.items ?? []}
                    loading={query.isFetching && !query.data} locale={{ emptyText: t('elements.grants.empty') }}
                    pagination={{ current: page, pageSize: 20, total: query.data?.total ?? 0, onChange: setPage,
                                  showTotal: (total) => t('app.total', { count: total }) }} />
    </Drawer>
  );
}

/** 权益管理: the benefit catalog with inventory and budget, the editor, inventory adjustments and grants. */
export default function BenefitsPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const client = useQueryClient();
  const manage = can('elements.manage');
  const [page, setPage] = useState(1);
  const [q, setQ] = useState<string | undefined>();
  const [kind, setKind] = useState<Kind | undefined>();
  const [editing, setEditing] = useState<Benefit | 'new' | null>(null);
  const [adjusting, setAdjusting] = useState<Benefit | null>(null);
  const [grantsOf, setGrantsOf] = useState<Benefit | null>(null);
  const [form] = Form.useForm<FormValues>();
  const [adjustForm] = Form.useForm<{ delta: number; reason: string }>();

  const query = useQuery({
    queryKey: ['benefits', page, q, kind],
    queryFn: () => unwrap(api.GET('/api/benefits', { params: { query: { page, page_size: 20, q, kind } } })),
    placeholderData: keepPreviousData,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['benefits'] });
  const save = useMutation({
    mutationFn: (v: FormValues) => {
      const common = {
        name: v.name, kind: v.kind, face_value_fen: toFen(v.face_value_yuan) ?? 0, points: v.points ?? 0,
        unit_cost_fen: toFen(v.unit_cost_yuan) ?? 0, status: v.status, description: v.description || null,
        valid_from: v.validity?.[0] ? shanghaiIso(v.validity[0].startOf('day')) : null,
        valid_to: v.validity?.[1] ? shanghaiIso(v.validity[1].endOf('day')) : null,
      };
      const budget = toFen(v.budget_yuan);
      if (editing === 'new') {
        return unwrap(api.POST('/api/benefits', { body: { ...common, code: v.code, inventory_total: v.inventory_total, budget_fen: budget ?? null } }));
      }
      const id = (editing as Benefit).id;
      return unwrap(api.PATCH('/api/benefits/{benefit_id}', {
        params: { path: { benefit_id: id } },
        body: { ...common, ...(budget === undefined ? { clear_budget: true } : { budget_fen: budget }) },
      }));
    },
    onSuccess: () => { setEditing(null); message.success(t('app.savedOk')); refresh(); },
    onError: (err) => message.error(errorMessage(err)),
  });
  const adjust = useMutation({
    mutationFn: (v: { delta: number; reason: string }) =>
      unwrap(api.POST('/api/benefits/{benefit_id}/inventory', { params: { path: { benefit_id: adjusting!.id } }, body: v })),
    onSuccess: () => { setAdjusting(null); adjustForm.resetFields(); refresh(); },
    onError: (err) => message.error(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE('/api/benefits/{benefit_id}', { params: { path: { benefit_id: id } } })),
    onSuccess: refresh,
    onError: (err) => message.error(errorMessage(err)),
  });

  const openEditor = (b: Benefit | 'new') => {
    setEditing(b);
    form.resetFields();
    if (b !== 'new') {
      form.setFieldsValue({
        code: b.code, name: b.name, kind: b.kind, face_value_yuan: b.face_value_fen / 100, points: b.points,
        unit_cost_yuan: b.unit_cost_fen / 100, inventory_total: b.inventory_total,
        budget_yuan: b.budget_fen === null ? null : b.budget_fen / 100, status: b.status,
        description: b.description ?? undefined,
      });
      form.setFieldValue('validity', b.valid_from && b.valid_to ? [dayjs(b.valid_from), dayjs(b.valid_to)] : null);
    }
  };

  const columns: TableProps<Benefit>['columns'] = [
    { title: t('elements.benefits.name'), key: 'name', width: 220, fixed: 'left',
      render: (_, b) => <Space direction="vertical" size={0}><Typography.Text strong>{b.name}</Typography.Text><Typography.Text type="secondary" style={{ fontSize: 12 }}>{b.code}</Typography.Text></Space> },
    { title: t('elements.benefits.kind'), dataIndex: 'kind', width: 90, render: (k: (typeof KINDS)[number]) => <Tag color={KIND_COLORS[k]}>{t(`elements.kinds.${k}`)}</Tag> },
    { title: t('elements.benefits.value'), key: 'value', width: 110, align: 'right',
      render: (_, b) => (b.kind === 'points' ? `${formatInt(b.points)} ${t('elements.benefits.pointsUnit')}` : formatFen(b.face_value_fen)) },
    { title: t('elements.benefits.inventory'), key: 'inventory', width: 180, render: (_, b) => <InventoryBar b={b} /> },
    { title: t('elements.benefits.budget'), key: 'budget', width: 200,
      render: (_, b) => (b.budget_fen === null ? <Typography.Text type="secondary">{t('elements.benefits.noBudget')}</Typography.Text> : (
        <div data-testid={`budget-${b.code}`}>
          <Progress percent={b.budget_fen ? Math.round((b.budget_used_fen / b.budget_fen) * 100) : 100} size="small" showInfo={false}
                    strokeColor={b.budget_used_fen >= b.budget_fen ? '#ff4d4f' : undefined} />
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>{formatFen(b.budget_used_fen)} / {formatFen(b.budget_fen)}</Typography.Text>
        </div>)) },
    { title: t('elements.benefits.unitCost'), dataIndex: 'unit_cost_fen', width: 100, align: 'right', render: formatFen },
    { title: t('elements.benefits.granted'), key: 'granted', width: 110,
      render: (_, b) => <span>{formatInt(b.granted_count)} <Typography.Text type="secondary">+{formatInt(b.reserved_count)}</Typography.Text></span> },
    { title: t('elements.benefits.validity'), key: 'validity', width: 200,
      render: (_, b) => <Typography.Text style={{ fontSize: 12 }}>{b.valid_from ? formatDateTime(b.valid_from).slice(0, 10) : '…'} ~ {b.valid_to ? formatDateTime(b.valid_to).slice(0, 10) : '…'}</Typography.Text> },
    { title: t('elements.benefits.status'), key: 'status', width: 100,
      render: (_, b) => (b.status !== 'active' ? <Tag>{t('elements.benefits.inactive')}</Tag>
        : b.available ? <Tag color="green">{t('elements.benefits.active')}</Tag> : <Tag color="orange">{t('elements.benefits.outOfWindow')}</Tag>) },
    { title: t('elements.benefits.owner'), dataIndex: 'owner_org_name', width: 110 },
    { title: t('app.actions'), key: 'actions', width: 250, fixed: 'right',
      render: (_, b) => (
        <Space size={4}>
          <Button size="small" icon={<UnorderedListOutlined />} onClick={() => setGrantsOf(b)}>{t('elements.grants.title')}</Button>
          {manage && b.editable && <Button size="small" icon={<EditOutlined />} onClick={() => openEditor(b)} data-testid={`edit-${b.code}`}>{t('elements.edit')}</Button>}
          {manage && b.editable && <Button size="small" icon={<SwapOutlined />} onClick={() => setAdjusting(b)}>{t('elements.benefits.adjust')}</Button>}
          {manage && b.editable && (
            <Popconfirm title={t('elements.deleteConfirm')} onConfirm={() => remove.mutate(b.id)}>
              <Button size="small" danger type="text">{t('elements.delete')}</Button>
            </Popconfirm>)}
        </Space>) },
  ];

  return (
    <Card>
      {manage && <Button type="primary" icon={<PlusOutlined />} style={{ float: 'right' }} onClick={() => openEditor('new')} data-testid="new-benefit">{t('elements.benefits.create')}</Button>}
      <Typography.Title level={4} className="ol-page-title">{t('elements.benefits.title')}</Typography.Title>
      <Typography.Paragraph type="secondary">{t('elements.benefits.hint')}</Typography.Paragraph>
      <Space style={{ marginBottom: 12 }}>
        <Input.Search allowClear placeholder={t('elements.benefits.search')} style={{ width: 240 }} onSearch={(v) => { setQ(v.trim() || undefined); setPage(1); }} />
        <Select allowClear style={{ width: 140 }} placeholder={t('elements.benefits.kind')} options={KINDS.map((k) => ({ value: k, label: t(`elements.kinds.${k}`) }))}
                onChange={(k?: Kind) => { setKind(k); setPage(1); }} />
      </Space>
      <Table<Benefit> rowKey="id" size="middle" data-testid="benefits-table" columns={columns} dataSource={query.data?.items ?? []}
                      loading={query.isFetching && !query.data} scroll={{ x: 1700 }} locale={{ emptyText: t('elements.benefits.empty') }}
                      pagination={{ current: page, pageSize: 20, total: query.data?.total ?? 0, onChange: setPage, showTotal: (total) => t('app.total', { count: total }) }} />
      <Modal open={editing !== null} width={640} title={editing === 'new' ? t('elements.benefits.create') : t('elements.benefits.editTitle')}
             onCancel={() => setEditing(null)} onOk={() => form.submit()} confirmLoading={save.isPending} destroyOnHidden>
        <Form form={form} layout="vertical" initialValues={{ kind: 'coupon', status: 'active', inventory_total: 1000 }} onFinish={(v) => save.mutate(v)}>
          <Space.Compact block>
            <Form.Item name="code" label={t('elements.benefits.code')} style={{ width: '40%' }} rules={[{ required: true, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, message: t('elements.codeRule') }]}>
              <Input disabled={editing !== 'new'} data-testid="benefit-code" />
            </Form.Item>
            <Form.Item name="name" label={t('elements.benefits.name')} style={{ width: '60%' }} rules={[{ required: true, whitespace: true }]}>
              <Input maxLength={100} data-testid="benefit-name" />
            </Form.Item>
          </Space.Compact>
          <Space wrap>
            <Form.Item name="kind" label={t('elements.benefits.kind')}><Select style={{ width: 140 }} options={KINDS.map((k) => ({ value: k, label: t(`elements.kinds.${k}`) }))} /></Form.Item>
            <Form.Item name="face_value_yuan" label={t('elements.benefits.faceValue')}><InputNumber min={0} precision={2} addonAfter="元" /></Form.Item>
            <Form.Item name="points" label={t('elements.benefits.points')}><InputNumber min={0} precision={0} /></Form.Item>
          </Space>
          <Space wrap>
            <Form.Item name="unit_cost_yuan" label={t('elements.benefits.unitCost')} tooltip={t('elements.benefits.unitCostTip')}><InputNumber min={0} precision={2} addonAfter="元" data-testid="benefit-cost" /></Form.Item>
            <Form.Item name="inventory_total" label={t('elements.benefits.inventoryTotal')} rules={[{ required: true }]}
                       tooltip={editing !== 'new' ? t('elements.benefits.inventoryEditTip') : undefined}>
              <InputNumber min={0} precision={0} disabled={editing !== 'new'} data-testid="benefit-inventory" />
            </Form.Item>
            <Form.Item name="budget_yuan" label={t('elements.benefits.budget')} tooltip={t('elements.benefits.budgetTip')}><InputNumber min={0} precision={2} addonAfter="元" data-testid="benefit-budget" /></Form.Item>
          </Space>
          <Space wrap>
            <Form.Item name="validity" label={t('elements.benefits.validity')}><DatePicker.RangePicker /></Form.Item>
            <Form.Item name="status" label={t('elements.benefits.status')}>
              <Select style={{ width: 120 }} options={[{ value: 'active', label: t('elements.benefits.active') }, { value: 'inactive', label: t('elements.benefits.inactive') }]} />
            </Form.Item>
          </Space>
          <Form.Item name="description" label={t('elements.description')}><Input.TextArea rows={2} maxLength={1000} /></Form.Item>
        </Form>
      </Modal>
      <Modal open={adjusting !== null} title={`${t('elements.benefits.adjust')} · ${adjusting?.name ?? ''}`} onCancel={() => setAdjusting(null)}
             onOk={() => adjustForm.submit()} confirmLoading={adjust.isPending} destroyOnHidden>
        <Typography.Paragraph type="secondary">{t('elements.benefits.adjustHint', { left: adjusting?.inventory_left ?? 0 })}</Typography.Paragraph>
        <Form form={adjustForm} layout="vertical" onFinish={(v) => adjust.mutate(v)}>
          <Form.Item name="delta" label={t('elements.benefits.delta')} rules={[{ required: true }]}><InputNumber precision={0} style={{ width: 200 }} /></Form.Item>
          <Form.Item name="reason" label={t('elements.benefits.reason')} rules={[{ required: true, whitespace: true }]}><Input maxLength={200} /></Form.Item>
        </Form>
      </Modal>
      <Grants benefit={grantsOf} onClose={() => setGrantsOf(null)} />
    </Card>
  );
}
