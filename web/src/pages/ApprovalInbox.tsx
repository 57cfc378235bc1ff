import { useState } from 'react';
import { App, Button, Card, DatePicker, Empty, Form, Input, Modal, Popconfirm, Select, Space, Table, Tabs, Tag, Typography, Upload } from 'antd';
import type { TableProps } from 'antd';
import { CheckOutlined, CloseOutlined, PaperClipOutlined, PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { dayjs, formatDateTime, formatFenShort } from '../lib/format';
import { orgName } from '../lib/names';

type Item = Schemas['InboxItem'];
type Delegation = Schemas['DelegationRead'];

/** The approval inbox (待我审批): decide with a comment and attachments; delegations while on leave. */
export default function ApprovalInboxPage() {
  const { t } = useTranslation();
  return (
    <Card>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t('plans.approval.title')}
      </Typography.Title>
      <Tabs
        items={[
          { key: 'inbox', label: t('plans.approval.inboxTab'), children: <Inbox /> },
          { key: 'delegations', label: t('plans.approval.delegationsTab'), children: <Delegations /> },
        ]}
      />
    </Card>
  );
}

function Inbox() {
  const { t, i18n } = useTranslation();
  const tt = t as unknown as (k: string, o?: Record<string, unknown>) => string;
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [page, setPage] = useState(1);
  const [deciding, setDeciding] = useState<{ item: Item; action: 'approve' | 'reject' } | null>(null);
  const inbox = useQuery({
    queryKey: ['approvals', 'inbox', page],
    queryFn: () => unwrap(api.GET('/api/approvals/inbox', { params: { query: { page, page_size: 20 } } })),
    placeholderData: keepPreviousData,
    refetchInterval: 30_000,
  });
  const decide = useMutation({
    mutationFn: ({ item, body }: { item: Item; body: Schemas['DecisionRequest'] }) =>
      unwrap(api.POST('/api/approvals/steps/{step_id}/decision', { params: { path: { step_id: item.step_id } }, body })),
    onSuccess: (_, { body }) => {
      message.success(body.action === 'approve' ? t('plans.approval.approved') : t('plans.approval.rejected'));
      setDeciding(null);
      void queryClient.invalidateQueries({ queryKey: ['approvals'] });
      void queryClient.invalidateQueries({ queryKey: ['plans'] });
      void queryClient.invalidateQueries({ queryKey: ['notifications'] });
    },
    onError: (err) => {
      void message.error(errorMessage(err));
      void queryClient.invalidateQueries({ queryKey: ['approvals'] });
    },
  });

  const columns: TableProps<Item>['columns'] = [
    {
      title: t('plans.approval.plan'),
      key: 'plan',
      render: (_: unknown, r) => (
        <Space direction="vertical" size={0}>
          <Link to={`/plans/${r.plan_id}`} data-testid="inbox-plan">
            {r.plan_title}
          </Link>
          <Typography.Text type="secondary">
            v{r.plan_version} · {orgName({ name: r.plan_owner_org_name ?? '-', name_en: r.plan_owner_org_name_en }, i18n.language)}
          </Typography.Text>
        </Space>
      ),
    },
    {
      title: t('plans.approval.step'),
      key: 'step',
      width: 240,
      render: (_: unknown, r) => (
        <Space direction="vertical" size={0}>
          <span>
            {r.position}/{r.steps_total} {r.step_name}
          </span>
          <Typography.Text type="secondary">{tt(`plans.approval.stepModes.${r.step_mode}`, { n: '' })}</Typography.Text>
          {r.on_behalf_of && <Tag color="gold">{t('plans.approval.onBehalfOf', { name: r.on_behalf_of.display_name })}</Tag>}
        </Space>
      ),
    },
    { title: t('plans.budgetShort'), dataIndex: 'budget_fen', width: 120, align: 'right', render: (v: number | null) => formatFenShort(v) },
    { title: t('plans.approval.submittedBy'), key: 'by', width: 120, render: (_: unknown, r) => r.submitted_by?.display_name ?? '-' },
    { title: t('plans.approval.openedAt'), dataIndex: 'opened_at', width: 170, render: formatDateTime },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 190,
      fixed: 'right',
      render: (_: unknown, r) => (
        <Space>
          <Button type="primary" size="small" icon={<CheckOutlined />} onClick={() => setDeciding({ item: r, action: 'approve' })} data-testid="inbox-approve">
            {t('plans.approval.approve')}
          </Button>
          <Button danger size="small" icon={<CloseOutlined />} onClick={() => setDeciding({ item: r, action: 'reject' })} data-testid="inbox-reject">
            {t('plans.approval.reject')}
          </Button>
        </Space>
      ),
    },
  ];

  return (
    <>
      <Table<Item>
        rowKey={(r) => `${r.step_id}-${r.on_behalf_of?.id ?? 0}`}
        size="middle"
        data-testid="inbox-table"
        columns={columns}
        dataSource={inbox.data?.items ?? []}
        loading={inbox.isFetching}
        scroll={{ x: 1000 }}
        locale={{ emptyText: <Empty description={t('plans.approval.empty')} /> }}
        pagination={{ current: page, pageSize: 20, total: inbox.data?.total ?? 0, onChange: setPage, showTotal: (n) => t('app.total', { count: n }) }}
      />
      {deciding && (
        <DecisionModal
          item={deciding.item}
          action={deciding.action}
          loading={decide.isPending}
          onCancel={() => setDeciding(null)}
          onSubmit={(body) => decide.mutate({ item: deciding.item, body })}
        />
      )}
    </>
  );
}

function DecisionModal({ item, action, loading, onCancel, onSubmit }: {
  item: Item;
  action: 'approve' | 'reject';
  loading: boolean;
  onCancel: () => void;
  onSubmit: (body: Schemas['DecisionRequest']) => void;
}) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ comment?: string }>();
  const [attachments, setAttachments] = useState<Schemas['DocumentRead'][]>([]);
  const upload = useMutation({
    mutationFn: (file: File) =>
      unwrap(
        api.POST('/api/approvals/steps/{step_id}/attachments', {
          params: { path: { step_id: item.step_id } },
          body: { file: file as unknown as string },
          bodySerializer: (body) => {
            const data = new FormData();
            data.append('file', body.file as unknown as Blob, file.name);
            return data;
          },
        }),
      ),
    onSuccess: (doc) => setAttachments((prev) => [...prev, doc]),
    onError: (err) => void message.error(errorMessage(err)),
  });
  return (
    <Modal
      open
      title={`${action === 'approve' ? t('plans.approval.approve') : t('plans.approval.reject')} · ${item.plan_title}`}
      onCancel={onCancel}
      onOk={() => form.submit()}
      confirmLoading={loading}
      okButtonProps={{ danger: action === 'reject', 'data-testid': 'decision-confirm' } as never}
      destroyOnHidden
    >
      <Form
        form={form}
        layout="vertical"
        onFinish={(v) =>
          onSubmit({
            action,
            comment: v.comment || null,
            on_behalf_of_id: item.on_behalf_of?.id ?? null,
            attachment_ids: attachments.map((a) => a.id),
          })
        }
      >
        <Form.Item
          name="comment"
          label={t('plans.approval.comment')}
          rules={action === 'reject' ? [{ required: true, whitespace: true, message: t('plans.approval.rejectReasonRequired') }] : []}
        >
          <Input.TextArea rows={4} maxLength={2000} placeholder={t('plans.approval.commentPlaceholder')} data-testid="decision-comment" />
        </Form.Item>
        <Upload
          accept=".docx,.pdf,.xlsx,.txt,.md"
          showUploadList={false}
          beforeUpload={(file) => {
            upload.mutate(file);
            return false;
          }}
        >
          <Button icon={<PaperClipOutlined />} loading={upload.isPending}>
            {t('plans.approval.attach')}
          </Button>
        </Upload>
        <div style={{ marginTop: 8 }}>
          {attachments.map((a) => (
            <Tag key={a.id} icon={<PaperClipOutlined />}>
              {a.filename}
            </Tag>
          ))}
        </div>
      </Form>
    </Modal>
  );
}

function Delegations() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [search, setSearch] = useState('');
  const list = useQuery({ queryKey: ['approvals', 'delegations'], queryFn: () => unwrap(api.GET('/api/approvals/delegations')) });
  const candidates = useQuery({
    queryKey: ['approvals', 'delegates', search],
    queryFn: () => unwrap(api.GET('/api/approvals/delegates', { params: { query: { q: search || undefined } } })),
    enabled: open,
  });
  const invalidate = () => void queryClient.invalidateQueries({ queryKey: ['approvals', 'delegations'] });
  const create = useMutation({
    mutationFn: (body: Schemas['DelegationCreate']) => unwrap(api.POST('/api/approvals/delegations', { body })),
    onSuccess: () => {
      message.success(t('plans.approval.delegationCreated'));
      setOpen(false);
      invalidate();
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const revoke = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/approvals/delegations/{delegation_id}/revoke', { params: { path: { delegation_id: id } } })),
    onSuccess: () => {
      message.success(t('plans.approval.revoked'));
      invalidate();
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const columns: TableProps<Delegation>['columns'] = [
    { title: t('plans.approval.delegator'), key: 'from', render: (_: unknown, d) => d.delegator.display_name },
    { title: t('plans.approval.delegate'), key: 'to', render: (_: unknown, d) => d.delegate.display_name },
    { title: t('plans.approval.period'), key: 'period', render: (_: unknown, d) => `${formatDateTime(d.starts_at)} ~ ${formatDateTime(d.ends_at)}` },
    { title: t('plans.approval.reason'), dataIndex: 'reason', render: (v: string | null) => v ?? '-' },
    {
      title: t('plans.status'),
      key: 'active',
      width: 100,
      render: (_: unknown, d) => (d.active ? <Tag color="green">{t('plans.approval.active')}</Tag> : <Tag>{t('plans.approval.inactive')}</Tag>),
    },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 100,
      render: (_: unknown, d) =>
        !d.revoked_at && (
          <Popconfirm title={t('plans.approval.revoke')} onConfirm={() => revoke.mutate(d.id)}>
            <Button size="small" type="link" danger>
              {t('plans.approval.revoke')}
            </Button>
          </Popconfirm>
        ),
    },
  ];
  return (
    <>
      <div className="ol-toolbar">
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setOpen(true)}>
          {t('plans.approval.newDelegation')}
        </Button>
      </div>
      <Table<Delegation> rowKey="id" size="middle" columns={columns} dataSource={list.data ?? []} loading={list.isFetching} pagination={false} />
      <Modal open={open} title={t('plans.approval.newDelegation')} onCancel={() => setOpen(false)} footer={null} destroyOnHidden>
        <Form<{ delegate_id: number; period: [dayjs.Dayjs, dayjs.Dayjs]; reason?: string }>
          layout="vertical"
          onFinish={(v) =>
            create.mutate({
              delegate_id: v.delegate_id,
              starts_at: v.period[0].toISOString(),
              ends_at: v.period[1].toISOString(),
              reason: v.reason || null,
            })
          }
        >
          <Form.Item name="delegate_id" label={t('plans.approval.delegate')} rules={[{ required: true, message: t('plans.approval.delegateRequired') }]}>
            <Select
              showSearch
              filterOption={false}
              onSearch={setSearch}
              loading={candidates.isFetching}
              options={(candidates.data ?? []).map((u) => ({ value: u.id, label: `${u.display_name}（${u.username}）` }))}
            />
          </Form.Item>
          <Form.Item name="period" label={t('plans.approval.period')} rules={[{ required: true, message: t('plans.approval.periodRequired') }]}>
            <DatePicker.RangePicker showTime style={{ width: '100%' }} />
          </Form.Item>
          <Form.Item name="reason" label={t('plans.approval.reason')}>
            <Input maxLength={500} />
          </Form.Item>
          <Space style={{ width: '100%', justifyContent: 'flex-end' }}>
            <Button onClick={() => setOpen(false)}>{t('app.cancel')}</Button>
            <Button type="primary" htmlType="submit" loading={create.isPending}>
              {t('app.save')}
            </Button>
          </Space>
        </Form>
      </Modal>
    </>
  );
}
