import { useEffect, useState } from 'react';
import { Alert, App, Button, Card, Input, Popconfirm, Select, Space, Table, Tabs, Tag, Tooltip, Typography } from 'antd';
import type { TableProps } from 'antd';
import { EditOutlined, InboxOutlined, PlayCircleOutlined, PlusOutlined, RollbackOutlined, ThunderboltOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime, formatInt } from '../lib/format';
import { useActiveRuns, useRunTags } from '../components/tags/hooks';
import { CATEGORIES, SOURCES, RunStatusTag, useTagLabels, type Category, type Source, type TagRead } from '../components/tags/labels';

type StatusFilter = 'active' | 'archived' | 'all';

/** 标签管理: tags by category with coverage, usage and last run; run, edit and archive for tags.manage. */
export default function TagsPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const manage = can('tags.manage');
  const labels = useTagLabels();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const activeRuns = useActiveRuns();
  const runTags = useRunTags();

  const category = (params.get('category') as Category | null) ?? undefined;
  const source = (params.get('source') as Source | null) ?? undefined;
  const status = (params.get('status') as StatusFilter | null) ?? 'active';
  const q = params.get('q') ?? '';
  const page = Number(params.get('page') ?? 1) || 1;
  const pageSize = Number(params.get('size') ?? 20) || 20;
  const [search, setSearch] = useState(q);
  useEffect(() => setSearch(q), [q]);

  const update = (changes: Record<string, string | number | undefined | null>, resetPage = true) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined || v === null || v === '') next.delete(k);
      else next.set(k, String(v));
    }
    if (resetPage && !('page' in changes)) next.delete('page');
    setParams(next, { replace: true });
  };

  const query = useQuery({
    queryKey: ['tags', 'list', { category, source, status, q, page, pageSize }],
    queryFn: () =>
      unwrap(
        api.GET('/api/tags', {
          params: {
            query: { category, source, status: status === 'all' ? undefined : status, q: q || undefined, page, page_size: pageSize },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  const setStatus = useMutation({
    mutationFn: ({ tag, archive }: { tag: TagRead; archive: boolean }) =>
      archive
        ? unwrap(api.DELETE('/api/tags/{tag_id}', { params: { path: { tag_id: tag.id } } }))
        : unwrap(api.PATCH('/api/tags/{tag_id}', { params: { path: { tag_id: tag.id } }, body: { status: 'active' } })),
    onSuccess: (_, { archive }) => {
      void message.success(archive ? t('tags.list.archivedOk') : t('tags.list.restoredOk'));
      void queryClient.invalidateQueries({ queryKey: ['tags'] });
    },
    onError: (err) => void message.error(errorMessage(err)),
  });

  const runningIds = new Set(activeRuns.flatMap((r) => r.tag_ids ?? []));
  const allRunning = activeRuns.some((r) => !r.tag_ids);

  const columns: TableProps<TagRead>['columns'] = [
    {
      title: t('tags.fields.name'),
      key: 'name',
      render: (_, tag) => (
        <Space direction="vertical" size={0}>
          <Space size={6}>
            <Link to={`/tags/${tag.id}`} data-testid="tag-link">
              {labels.name(tag)}
            </Link>
            {tag.system && <Tag color="purple">{t('tags.list.system')}</Tag>}
            {tag.status === 'archived' && <Tag>{t('tags.statuses.archived')}</Tag>}
          </Space>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {tag.code}
          </Typography.Text>
        </Space>
      ),
    },
    {
      title: t('tags.fields.category'),
      dataIndex: 'category',
      width: 100,
      render: (c: Category) => <Tag color={labels.categoryColor(c)}>{labels.category(c)}</Tag>,
    },
    {
      title: t('tags.fields.source'),
      key: 'source',
      width: 110,
      render: (_, tag) => (
        <Space direction="vertical" size={0}>
          <span>{labels.source(tag.source)}</span>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {labels.valueType(tag.value_type)}
          </Typography.Text>
        </Space>
      ),
    },
    {
      title: t('tags.fields.coverage'),
      dataIndex: 'coverage',
      width: 110,
      align: 'right',
      render: (n: number | null) => <span data-testid="tag-coverage">{formatInt(n)}</span>,
    },
    {
      title: (
        <Tooltip title={t('tags.list.usageHint')}>
          <span>{t('tags.fields.usage')}</span>
        </Tooltip>
      ),
      dataIndex: 'usage',
      width: 90,
      align: 'right',
      render: (n: number) => <span data-testid="tag-usage">{formatInt(n)}</span>,
    },
    {
      title: t('tags.fields.lastRun'),
      key: 'lastRun',
      width: 190,
      render: (_, tag) =>
        runningIds.has(tag.id) || (allRunning && tag.status === 'active') ? (
          <RunStatusTag status="running" testId="tag-last-run" />
        ) : tag.last_run_id ? (
          <Space size={6}>
            <RunStatusTag status={tag.last_run_status} testId="tag-last-run" />
            <Link to={`/tag-runs?run=${tag.last_run_id}`}>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {formatDateTime(tag.last_run_at)}
              </Typography.Text>
            </Link>
          </Space>
        ) : (
          <Typography.Text type="secondary" data-testid="tag-last-run">
            {t('tags.list.neverRun')}
          </Typography.Text>
        ),
    },
    {
      title: t('tags.fields.schedule'),
      dataIndex: 'schedule',
      width: 110,
      render: (s: string | null) => (s ? <Typography.Text code>{s}</Typography.Text> : <Typography.Text type="secondary">{t('tags.list.daily')}</Typography.Text>),
    },
  ];
  if (manage) {
    columns.push({
      title: t('app.actions'),
      key: 'actions',
      fixed: 'right',
      width: 230,
      render: (_, tag) => (
        <Space size={4}>
          {tag.status === 'active' && (
            <Button
              size="small"
              icon={<PlayCircleOutlined />}
              loading={runTags.isPending && runTags.variables?.[0] === tag.id}
              disabled={runningIds.has(tag.id)}
              onClick={() => runTags.mutate([tag.id])}
              data-testid="tag-run"
            >
              {t('tags.actions.run')}
            </Button>
          )}
          <Button size="small" icon={<EditOutlined />} onClick={() => navigate(`/tags/${tag.id}/edit`)} data-testid="tag-edit">
            {t('tags.actions.edit')}
          </Button>
          {!tag.system && tag.status === 'active' && (
            <Popconfirm
              title={t('tags.list.archiveConfirm')}
              description={tag.usage ? t('tags.list.archiveUsed', { n: tag.usage }) : undefined}
              okText={t('app.confirm')}
              cancelText={t('app.cancel')}
              onConfirm={() => setStatus.mutate({ tag, archive: true })}
            >
              <Button size="small" danger icon={<InboxOutlined />}>
                {t('tags.actions.archive')}
              </Button>
            </Popconfirm>
          )}
          {tag.status === 'archived' && (
            <Button size="small" icon={<RollbackOutlined />} onClick={() => setStatus.mutate({ tag, archive: false })}>
              {t('tags.actions.restore')}
            </Button>
          )}
        </Space>
      ),
    });
  }

  return (
    <Card>
      {manage && (
        <Space style={{ float: 'right' }}>
          <Popconfirm title={t('tags.list.runAllConfirm')} okText={t('app.confirm')} cancelText={t('app.cancel')} onConfirm={() => runTags.mutate(undefined)}>
            <Button icon={<ThunderboltOutlined />} loading={runTags.isPending && runTags.variables === undefined} data-testid="tags-run-all">
              {t('tags.actions.runAll')}
            </Button>
          </Popconfirm>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/tags/new')} data-testid="tag-new">
            {t('tags.actions.new')}
          </Button>
        </Space>
      )}
      <Typography.Title level={4} className="ol-page-title">
        {t('tags.list.title')}
      </Typography.Title>
      {activeRuns.length > 0 && (
        <Alert
          type="info"
          showIcon
          style={{ marginBottom: 12 }}
          data-testid="tags-running"
          message={
            <Space>
              {activeRuns.map((r) => (
                <Link key={r.id} to={`/tag-runs?run=${r.id}`}>
                  {t('tags.runs.inProgress', { id: r.id, pct: Math.round((r.progress ?? 0) * 100) })}
                  {r.progress_message ? ` · ${r.progress_message}` : ''}
                </Link>
              ))}
            </Space>
          }
        />
      )}
      <Tabs
        activeKey={category ?? 'all'}
        onChange={(key) => update({ category: key === 'all' ? undefined : key })}
        items={[{ key: 'all', label: t('app.all') }, ...CATEGORIES.map((c) => ({ key: c, label: labels.category(c) }))]}
      />
      <div className="ol-toolbar">
        <Input.Search
          allowClear
          enterButton
          style={{ width: 280 }}
          placeholder={t('tags.list.searchPlaceholder')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onSearch={(v) => update({ q: v.trim() })}
          id="tag-search"
        />
        <Select<Source>
          allowClear
          style={{ width: 150 }}
          placeholder={t('tags.fields.source')}
          value={source}
          onChange={(v) => update({ source: v })}
          options={SOURCES.map((s) => ({ value: s, label: labels.source(s) }))}
        />
        <Select<StatusFilter>
          style={{ width: 130 }}
          value={status}
          onChange={(v) => update({ status: v === 'active' ? undefined : v })}
          options={[
            { value: 'active', label: t('tags.statuses.active') },
            { value: 'archived', label: t('tags.statuses.archived') },
            { value: 'all', label: t('app.all') },
          ]}
        />
      </div>
      <Table<TagRead>
        rowKey="id"
        size="middle"
        data-testid="tags-table"
        columns={columns}
        dataSource={query.data?.items ?? []}
        loading={query.isFetching && !query.data}
        scroll={{ x: 1100 }}
        locale={{ emptyText: query.isLoading ? t('app.loading') : t('tags.list.empty') }}
        pagination={{
          current: page,
          pageSize,
          total: query.data?.total ?? 0,
          showSizeChanger: true,
          pageSizeOptions: [10, 20, 50, 100],
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => update({ page: p === 1 ? undefined : p, size: s === 20 ? undefined : s }, false),
        }}
      />
    </Card>
  );
}
