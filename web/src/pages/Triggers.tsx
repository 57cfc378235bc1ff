import { useEffect, useState } from 'react';
import { App as AntApp, Badge, Button, Card, Input, Popconfirm, Select, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime, formatInt } from '../lib/format';
import { notifyError } from '../lib/notify';

type Row = Schemas['TriggerRead'];
type Kind = Row['kind'];
type Status = Row['status'];
export const TRIGGER_KINDS: Kind[] = ['event', 'first_time', 'breakpoint', 'sequence', 'key_date', 'threshold'];
const STATUS_BADGE: Record<Status, 'default' | 'processing' | 'warning' | 'error'> = {
  draft: 'default',
  active: 'processing',
  paused: 'warning',
  archived: 'error',
};

/** Triggers (触发器): kind, status, last firing, firings today; activate / pause / archive. */
export default function TriggersPage() {
  const { t } = useTranslation();
  const { message } = AntApp.useApp();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const kind = (params.get('kind') as Kind | null) ?? undefined;
  const status = (params.get('status') as Status | null) ?? undefined;
  const page = Number(params.get('page') ?? 1) || 1;
  const pageSize = Number(params.get('size') ?? 20) || 20;
  const [search, setSearch] = useState(q);
  useEffect(() => setSearch(q), [q]);

  const update = (changes: Record<string, string | number | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === '') next.delete(k);
      else next.set(k, String(v));
    }
    if (!('page' in changes)) next.delete('page');
    setParams(next, { replace: true });
  };

  const list = useQuery({
    queryKey: ['triggers', { q, kind, status, page, pageSize }],
    queryFn: () =>
      unwrap(api.GET('/api/triggers', { params: { query: { q: q || undefined, kind, status, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
    refetchInterval: 10_000,
  });

  const act = useMutation({
    mutationFn: ({ id, action }: { id: number; action: 'activate' | 'pause' | 'archive' }) =>
      unwrap(api.POST('/api/triggers/{trigger_id}/{action}', { params: { path: { trigger_id: id, action } } })),
    onSuccess: (row) => {
      void message.success(t(`triggers.statuses.${row.status}`));
      void queryClient.invalidateQueries({ queryKey: ['triggers'] });
    },
    onError: (err) => notifyError(errorMessage(err)),
  });

  const columns: TableProps<Row>['columns'] = [
    {
      title: t('triggers.name'),
      dataIndex: 'name',
      render: (name: string, row) => (
        <Link to={`/triggers/${row.id}`} data-testid="trigger-link">
          {name}
        </Link>
      ),
    },
    { title: t('triggers.kind'), dataIndex: 'kind', width: 130, render: (k: Kind) => <Tag color="blue">{t(`triggers.kinds.${k}`)}</Tag> },
    {
      title: t('triggers.status'),
      dataIndex: 'status',
      width: 100,
      render: (s: Status) => <Badge status={STATUS_BADGE[s]} text={t(`triggers.statuses.${s}`)} />,
    },
    { title: t('triggers.lastFired'), dataIndex: 'last_fired_at', width: 170, render: (v: string | null) => formatDateTime(v) },
    {
      title: t('triggers.firingsToday'),
      dataIndex: 'firings_today',
      width: 100,
      align: 'right',
      render: (v: number) => <span data-testid="firings-today">{formatInt(v)}</span>,
    },
    { title: t('triggers.firingsTotal'), dataIndex: 'firings_total', width: 100, align: 'right', render: (v: number) => formatInt(v) },
    { title: t('triggers.ownerOrg'), dataIndex: 'owner_org_name', width: 130, render: (v: string | null) => v ?? '-' },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 220,
      render: (_: unknown, row) => (
        <Space size={4}>
          <Button type="link" size="small" onClick={() => navigate(`/triggers/${row.id}`)}>
            {t('triggers.firings')}
          </Button>
          {row.editable && row.status !== 'archived' && (
            <Button type="link" size="small" onClick={() => navigate(`/triggers/${row.id}/edit`)}>
              {t('triggers.edit')}
            </Button>
          )}
          {row.editable && (row.status === 'draft' || row.status === 'paused') && (
            <Button type="link" size="small" onClick={() => act.mutate({ id: row.id, action: 'activate' })} data-testid="trigger-activate">
              {t('triggers.activate')}
            </Button>
          )}
          {row.editable && row.status === 'active' && (
            <Button type="link" size="small" onClick={() => act.mutate({ id: row.id, action: 'pause' })}>
              {t('triggers.pause')}
            </Button>
          )}
          {row.editable && row.status !== 'archived' && (
            <Popconfirm title={t('triggers.archiveConfirm')} onConfirm={() => act.mutate({ id: row.id, action: 'archive' })}>
              <Button type="link" size="small" danger>
                {t('triggers.archive')}
              </Button>
            </Popconfirm>
          )}
        </Space>
      ),
    },
  ];

  return (
    <Card>
      {can('triggers.manage') && (
        <Button type="primary" icon={<PlusOutlined />} style={{ float: 'right' }} onClick={() => navigate('/triggers/new')} data-testid="new-trigger">
          {t('triggers.new')}
        </Button>
      )}
      <Typography.Title level={4} className="ol-page-title">
        {t('triggers.title')}
      </Typography.Title>
      <div className="ol-toolbar">
        <Input.Search
          allowClear
          style={{ width: 240 }}
          placeholder={t('triggers.searchPlaceholder')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onSearch={(v) => update({ q: v.trim() })}
          enterButton
        />
        <Select<Kind>
          allowClear
          style={{ width: 170 }}
          placeholder={t('triggers.allKinds')}
          value={kind}
          onChange={(v) => update({ kind: v })}
          options={TRIGGER_KINDS.map((k) => ({ value: k, label: t(`triggers.kinds.${k}`) }))}
        />
        <Select<Status>
          allowClear
          style={{ width: 200 }}
          placeholder={t('triggers.allStatuses')}
          value={status}
          onChange={(v) => update({ status: v })}
          options={(['draft', 'active', 'paused', 'archived'] as Status[]).map((s) => ({ value: s, label: t(`triggers.statuses.${s}`) }))}
        />
      </div>
      <Table<Row>
        rowKey="id"
        size="middle"
        data-testid="triggers-table"
        columns={columns}
        dataSource={list.data?.items ?? []}
        loading={list.isFetching && !list.data}
        locale={{ emptyText: list.isLoading ? t('app.loading') : t('triggers.empty') }}
        pagination={{
          current: page,
          pageSize,
          total: list.data?.total ?? 0,
          showSizeChanger: true,
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => update({ page: p === 1 ? undefined : p, size: s === 20 ? undefined : s }),
        }}
      />
    </Card>
  );
}
