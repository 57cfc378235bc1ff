import { useEffect, useState } from 'react';
import { App, Button, Card, Input, Popconfirm, Segmented, Space, Table, Tag, Tooltip, Typography } from 'antd';
import type { TableProps } from 'antd';
import { DeleteOutlined, InboxOutlined, RollbackOutlined, TagsOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import ListUpload from '../components/tags/ListUpload';
import { formatDateTime, formatInt } from '../lib/format';

type Row = Schemas['CustomerListRead'];
type Use = Schemas['ListUse'];

/** What uses a list: audiences, list-sourced tags and campaigns (a list in use cannot be deleted). */
function Uses({ uses }: { uses: Use[] }) {
  const { t } = useTranslation();
  if (!uses.length) return <Typography.Text type="secondary">{t('tags.lists.usesNone')}</Typography.Text>;
  const kinds = ['audience', 'tag', 'campaign'] as const;
  return (
    <Tooltip
      title={uses.map((u) => (
        <div key={`${u.kind}-${u.id}`}>
          {t(`tags.lists.usesKinds.${u.kind}` as never, { defaultValue: u.kind }) as string}：{u.code ? `${u.code} ` : ''}
          {u.name}
        </div>
      ))}
    >
      <Space size={2} wrap data-testid="list-uses">
        {kinds.map((kind) => {
          const n = uses.filter((u) => u.kind === kind).length;
          return n ? <Tag key={kind}>{`${t(`tags.lists.usesKinds.${kind}`)} ${n}`}</Tag> : null;
        })}
      </Space>
    </Tooltip>
  );
}

/** 客户名单: uploaded lists of customer numbers (a tag source and an audience condition). */
export default function CustomerListsPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
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
    setParams(next, { replace: true });
  };

  const query = useQuery({
    queryKey: ['customer-lists', 'list', { q, page, pageSize, archived }],
    queryFn: () => unwrap(api.GET('/api/customer-lists', { params: { query: { q: q || undefined, page, page_size: pageSize, archived } } })),
    placeholderData: keepPreviousData,
  });
  const done = (text: string) => {
    void message.success(text);
    void queryClient.invalidateQueries({ queryKey: ['customer-lists'] });
    void queryClient.invalidateQueries({ queryKey: ['audiences', 'catalog'] });
  };
  const setArchived = useMutation({
    mutationFn: ({ row, archive }: { row: Row; archive: boolean }) =>
      unwrap(
        archive
          ? api.POST('/api/customer-lists/{list_id}/archive', { params: { path: { list_id: row.id } } })
          : api.POST('/api/customer-lists/{list_id}/restore', { params: { path: { list_id: row.id } } }),
      ),
    onSuccess: (row, { archive }) => done(t(archive ? 'tags.lists.archivedOk' : 'tags.lists.restoredOk', { name: row.name })),
    onError: (err) => void message.error(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (row: Row) => unwrap(api.DELETE('/api/customer-lists/{list_id}', { params: { path: { list_id: row.id } } })),
    onSuccess: () => done(t('tags.lists.deletedOk')),
    onError: (err) => void message.error(errorMessage(err)),
  });
  const manageLists = can('audiences.manage');

  const columns: TableProps<Row>['columns'] = [
    { title: t('tags.lists.name'), dataIndex: 'name', width: 200, render: (n: string) => <Typography.Text strong>{n}</Typography.Text> },
    { title: t('tags.lists.description'), dataIndex: 'description', width: 220, ellipsis: true, render: (d: string | null) => d || '-' },
    { title: t('tags.lists.size'), dataIndex: 'size', width: 110, align: 'right', render: (n: number) => <span data-testid="list-size">{formatInt(n)}</span> },
    {
      title: (
        <Tooltip title={t('tags.lists.unknownHint')}>
          <span>{t('tags.lists.unknown')}</span>
        </Tooltip>
      ),
      dataIndex: 'unknown_count',
      width: 110,
      align: 'right',
      render: (n: number) => <Typography.Text type={n ? 'warning' : undefined}>{formatInt(n)}</Typography.Text>,
    },
    { title: t('tags.lists.file'), dataIndex: 'source_filename', width: 180, ellipsis: true, render: (f: string | null) => f ?? '-' },
    { title: t('tags.lists.org'), dataIndex: 'org_name', width: 120, render: (o: string | null) => o ?? '-' },
    { title: t('tags.lists.createdBy'), dataIndex: 'created_by_name', width: 110, render: (u: string | null) => u ?? '-' },
    { title: t('tags.lists.createdAt'), dataIndex: 'created_at', width: 170, render: formatDateTime },
    { title: t('tags.lists.uses'), dataIndex: 'uses', width: 170, render: (uses: Use[]) => <Uses uses={uses} /> },
  ];
  if (archived) {
    columns.push({ title: t('tags.lists.archivedAt'), dataIndex: 'archived_at', width: 170, render: formatDateTime });
  }
  if (can('tags.manage') || manageLists) {
    columns.push({
      title: t('app.actions'),
      key: 'actions',
      width: 280,
      fixed: 'right',
      render: (_, row) => (
        <Space size={4} wrap>
          {can('tags.manage') && !row.archived_at && (
            <Button size="small" icon={<TagsOutlined />} onClick={() => navigate(`/tags/new?source=list&list=${row.id}`)}>
              {t('tags.lists.asTag')}
            </Button>
          )}
          {manageLists && (
            <Button
              size="small"
              icon={row.archived_at ? <RollbackOutlined /> : <InboxOutlined />}
              loading={setArchived.isPending && setArchived.variables?.row.id === row.id}
              onClick={() => setArchived.mutate({ row, archive: !row.archived_at })}
              data-testid={row.archived_at ? 'list-restore' : 'list-archive'}
            >
              {row.archived_at ? t('tags.lists.restore') : t('tags.lists.archive')}
            </Button>
          )}
          {manageLists &&
            (row.uses.length ? (
              <Tooltip title={t('tags.lists.deleteBlocked')}>
                <Button size="small" danger icon={<DeleteOutlined />} disabled data-testid="list-delete">
                  {t('tags.lists.delete')}
                </Button>
              </Tooltip>
            ) : (
              <Popconfirm title={t('tags.lists.deleteConfirm')} okText={t('app.confirm')} cancelText={t('app.cancel')} onConfirm={() => remove.mutate(row)}>
                <Button size="small" danger icon={<DeleteOutlined />} loading={remove.isPending && remove.variables?.id === row.id} data-testid="list-delete">
                  {t('tags.lists.delete')}
                </Button>
              </Popconfirm>
            ))}
        </Space>
      ),
    });
  }

  return (
    <Card>
      {can('audiences.manage') && (
        <div style={{ float: 'right' }}>
          <ListUpload />
        </div>
      )}
      <Typography.Title level={4} className="ol-page-title">
        {t('tags.lists.title')}
      </Typography.Title>
      <Typography.Paragraph type="secondary">{t('tags.lists.pageHint')}</Typography.Paragraph>
      <Space className="ol-toolbar">
        <Segmented
          value={archived ? 'archived' : 'live'}
          data-testid="lists-archived-switch"
          options={[
            { value: 'live', label: t('tags.lists.live') },
            { value: 'archived', label: t('tags.lists.archivedTab') },
          ]}
          onChange={(v) => update({ archived: v === 'archived' ? '1' : undefined, page: undefined })}
        />
        <Input.Search
          allowClear
          enterButton
          style={{ width: 280 }}
          placeholder={t('tags.lists.searchPlaceholder')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onSearch={(v) => update({ q: v.trim(), page: undefined })}
        />
      </Space>
      <Table<Row>
        rowKey="id"
        size="middle"
        data-testid="lists-table"
        columns={columns}
        dataSource={query.data?.items ?? []}
        loading={query.isFetching && !query.data}
        scroll={{ x: 1600 }}
        locale={{ emptyText: t('tags.lists.empty') }}
        pagination={{
          current: page,
          pageSize,
          total: query.data?.total ?? 0,
          showSizeChanger: true,
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => update({ page: p === 1 ? undefined : p, size: s === 20 ? undefined : s }),
        }}
      />
    </Card>
  );
}
