import { useEffect, useState } from 'react';
import { App as AntApp, Button, Card, Input, Popconfirm, Segmented, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime, formatInt } from '../lib/format';
import { orgName } from '../lib/names';
import { notifyError } from '../lib/notify';

type Row = Schemas['AudienceRead'];

/** Saved audiences (人群列表): size at the last save, owner org, open, archive / restore. */
export default function AudiencesPage() {
  const { t, i18n } = useTranslation();
  const { message } = AntApp.useApp();
  const lang = i18n.language;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { can } = useAuth();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const archived = params.get('archived') === '1';
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
    queryKey: ['audiences', { q, archived, page, pageSize }],
    queryFn: () => unwrap(api.GET('/api/audiences', { params: { query: { q: q || undefined, archived, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
  });

  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE('/api/audiences/{audience_id}', { params: { path: { audience_id: id } } })),
    onSuccess: (result) => {
      void message.success(result.deleted ? t('audiences.deleted') : t('audiences.archivedOk'));
      void queryClient.invalidateQueries({ queryKey: ['audiences'] });
      void queryClient.invalidateQueries({ queryKey: ['audience-catalog'] });
    },
    onError: (err) => notifyError(errorMessage(err)),
  });
  const restore = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/audiences/{audience_id}/restore', { params: { path: { audience_id: id } } })),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['audiences'] }),
    onError: (err) => notifyError(errorMessage(err)),
  });

  const columns: TableProps<Row>['columns'] = [
    {
      title: t('audiences.name'),
      dataIndex: 'name',
      render: (name: string, row) => (
        <Space size={4}>
          <Link to={`/audiences/${row.id}`} data-testid="audience-link">{name}</Link>
          {!row.editable && <Tag>{t('audiences.shared')}</Tag>}
        </Space>
      ),
    },
    {
      title: t('audiences.size'),
      dataIndex: 'last_total',
      align: 'right',
      width: 120,
      render: (v: number | null) => <span data-testid="audience-size">{formatInt(v)}</span>,
    },
    { title: t('audiences.snapshotCount'), dataIndex: 'snapshot_count', align: 'right', width: 90 },
    {
      title: t('audiences.ownerOrg'),
      dataIndex: 'org_name',
      width: 140,
      render: (_: unknown, row) => orgName({ name: row.org_name ?? '-', name_en: row.org_name_en }, lang),
    },
    { title: t('audiences.updatedBy'), dataIndex: 'updated_by_name', width: 110, render: (v: string | null) => v ?? '-' },
    { title: t('audiences.updatedAt'), dataIndex: 'updated_at', width: 170, render: (v: string) => formatDateTime(v) },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 170,
      render: (_: unknown, row) => (
        <Space size={4}>
          <Button type="link" size="small" onClick={() => navigate(`/audiences/${row.id}`)}>
            {t('audiences.open')}
          </Button>
          {can('audiences.manage') && row.editable && !row.archived && (
            <Popconfirm
              title={row.snapshot_count ? t('audiences.archiveConfirm') : t('audiences.deleteConfirm')}
              onConfirm={() => remove.mutate(row.id)}
            >
              <Button type="link" size="small" danger>
                {row.snapshot_count ? t('audiences.archive') : t('audiences.delete')}
              </Button>
            </Popconfirm>
          )}
          {can('audiences.manage') && row.editable && row.archived && (
            <Button type="link" size="small" onClick={() => restore.mutate(row.id)}>
              {t('audiences.restore')}
            </Button>
          )}
        </Space>
      ),
    },
  ];

  return (
    <Card>
      {can('audiences.manage') && (
        <Button type="primary" icon={<PlusOutlined />} style={{ float: 'right' }} onClick={() => navigate('/audiences/new')} data-testid="new-audience">
          {t('audiences.new')}
        </Button>
      )}
      <Typography.Title level={4} className="ol-page-title">
        {t('audiences.title')}
      </Typography.Title>
      <div className="ol-toolbar">
        <Input.Search
          allowClear
          style={{ width: 260 }}
          placeholder={t('audiences.searchPlaceholder')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onSearch={(v) => update({ q: v.trim() })}
          enterButton
        />
        <Segmented
          value={archived ? 'archived' : 'live'}
          onChange={(v) => update({ archived: v === 'archived' ? '1' : undefined })}
          options={[
            { value: 'live', label: t('audiences.live') },
            { value: 'archived', label: t('audiences.archived') },
          ]}
        />
      </div>
      <Table<Row>
        rowKey="id"
        size="middle"
        data-testid="audiences-table"
        columns={columns}
        dataSource={list.data?.items ?? []}
        loading={list.isFetching}
        locale={{ emptyText: list.isLoading ? t('app.loading') : t('audiences.empty') }}
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
