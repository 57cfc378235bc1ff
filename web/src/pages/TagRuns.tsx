import { useState } from 'react';
import { Button, Card, Descriptions, Drawer, Popconfirm, Progress, Select, Space, Switch, Table, Tooltip, Typography } from 'antd';
import type { TableProps } from 'antd';
import { ReloadOutlined, ThunderboltOutlined } from '@ant-design/icons';
import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { useAuth } from '../auth/AuthContext';
import { useRunTags } from '../components/tags/hooks';
import { RUN_STATUSES, RunStatusTag, formatDuration, isActiveRun, useTagLabels, type RunStatus } from '../components/tags/labels';
import { formatDate, formatDateTime, formatInt } from '../lib/format';

type Run = Schemas['TagRunRead'];
type RunResult = Schemas['TagRunResultRead'];
const REFRESH_MS = 3000;

function ErrorText({ error }: { error: string | null | undefined }) {
  if (!error) return <>-</>;
  return (
    <Tooltip title={<pre className="ol-json">{error}</pre>} placement="topLeft">
      <Typography.Text type="danger" ellipsis style={{ maxWidth: 280 }}>
        {error}
      </Typography.Text>
    </Tooltip>
  );
}

function RunProgress({ run }: { run: Run }) {
  if (!isActiveRun(run.status)) return null;
  return (
    <Tooltip title={run.progress_message}>
      <Progress percent={Math.round((run.progress ?? 0) * 100)} size="small" status="active" style={{ width: 120, margin: 0 }} />
    </Tooltip>
  );
}

/** One run: its outcome and the result of every tag in it. */
function RunDrawer({ runId, onClose }: { runId: number | null; onClose: () => void }) {
  const { t } = useTranslation();
  const labels = useTagLabels();
  const query = useQuery({
    queryKey: ['tag-runs', 'detail', runId],
    queryFn: () => unwrap(api.GET('/api/tag-runs/{run_id}', { params: { path: { run_id: runId ?? 0 } } })),
    enabled: runId !== null,
    refetchInterval: (q) => (isActiveRun(q.state.data?.status) ? REFRESH_MS : false),
  });
  const run = query.data;
  return (
    <Drawer
      open={runId !== null}
      onClose={onClose}
      width={960}
      title={runId !== null ? t('tags.runs.detailTitle', { id: runId }) : ''}
      destroyOnHidden
      data-testid="run-drawer"
    >
      {run && (
        <Space direction="vertical" size={16} style={{ width: '100%' }}>
          <Descriptions size="small" bordered column={{ xs: 1, md: 3 }}>
            <Descriptions.Item label={t('tags.runs.status')}>
              <Space>
                <RunStatusTag status={run.status} testId="run-detail-status" />
                <RunProgress run={run} />
              </Space>
            </Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.trigger')}>{labels.trigger(run.trigger)}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.scope')}>
              {run.tag_ids ? t('tags.runs.someTags', { n: run.tag_ids.length }) : t('tags.runs.allTags')}
            </Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.asOf')}>{formatDate(run.as_of)}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.startedAt')}>{formatDateTime(run.started_at)}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.finishedAt')}>{formatDateTime(run.finished_at)}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.duration')}>{formatDuration(run.duration_ms)}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.rows')}>{formatInt(run.rows)}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.attempts')}>{run.attempts}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.computed')}>
              {formatInt(run.tags_computed)} / <Typography.Text type={run.tags_failed ? 'danger' : undefined}>{formatInt(run.tags_failed)}</Typography.Text>
            </Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.changed')}>{formatInt(run.changed)}</Descriptions.Item>
            <Descriptions.Item label={t('tags.runs.tagset')}>{run.tagset_version ? `v${run.tagset_version}` : '-'}</Descriptions.Item>
            {run.job_id && (
              <Descriptions.Item label={t('tags.runs.job')}>
                <Link to="/jobs">#{run.job_id}</Link>
              </Descriptions.Item>
            )}
            {run.error && (
              <Descriptions.Item label={t('tags.runs.error')} span={3}>
                <pre className="ol-json" style={{ color: '#cf1322' }}>
                  {run.error}
                </pre>
              </Descriptions.Item>
            )}
          </Descriptions>
          <Table<RunResult>
            size="small"
            rowKey="tag_id"
            data-testid="run-results"
            dataSource={run.results}
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
            scroll={{ x: 860 }}
            locale={{ emptyText: isActiveRun(run.status) ? t('tags.runs.noResultsYet') : t('tags.runs.noResults') }}
            columns={[
              {
                title: t('tags.fields.name'),
                key: 'tag',
                render: (_, r) => (
                  <Space direction="vertical" size={0}>
                    <Link to={`/tags/${r.tag_id}`}>{labels.en ? r.tag_name_en ?? r.tag_code : r.tag_name_zh ?? r.tag_code}</Link>
                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                      {r.tag_code}
                    </Typography.Text>
                  </Space>
                ),
              },
              { title: t('tags.runs.tagResult'), dataIndex: 'status', width: 110, render: (s: string) => <RunStatusTag status={s} /> },
              { title: t('tags.fields.coverage'), dataIndex: 'coverage', width: 100, align: 'right', render: formatInt },
              { title: t('tags.runs.changed'), dataIndex: 'changed', width: 100, align: 'right', render: formatInt },
              { title: t('tags.fields.version'), dataIndex: 'definition_version', width: 70, render: (v: number | null) => (v ? `v${v}` : '-') },
              { title: t('tags.runs.duration'), dataIndex: 'duration_ms', width: 90, render: formatDuration },
              { title: t('tags.runs.error'), dataIndex: 'error', width: 240, render: (e: string | null) => <ErrorText error={e} /> },
            ]}
          />
        </Space>
      )}
    </Drawer>
  );
}

/** 跑批记录: every tag run with its status, trigger, duration, rows and errors; refreshes while one runs. */
export default function TagRunsPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const labels = useTagLabels();
  const queryClient = useQueryClient();
  const runTags = useRunTags();
  const [params, setParams] = useSearchParams();
  const [status, setStatus] = useState<RunStatus | undefined>();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [autoRefresh, setAutoRefresh] = useState(true);
  const openRun = params.get('run') ? Number(params.get('run')) : null;

  const runs = useQuery({
    queryKey: ['tag-runs', 'list', { status, page, pageSize }],
    queryFn: () => unwrap(api.GET('/api/tag-runs', { params: { query: { status, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
    refetchInterval: (q) => (autoRefresh && q.state.data?.items.some((r) => isActiveRun(r.status)) ? REFRESH_MS : false),
  });

  const setOpen = (id: number | null) => {
    const next = new URLSearchParams(params);
    if (id === null) next.delete('run');
    else next.set('run', String(id));
    setParams(next, { replace: true });
  };

  const columns: TableProps<Run>['columns'] = [
    {
      title: t('tags.runs.id'),
      dataIndex: 'id',
      width: 80,
      render: (id: number) => (
        <Typography.Link onClick={() => setOpen(id)} data-testid="run-open">
          #{id}
        </Typography.Link>
      ),
    },
    {
      title: t('tags.runs.status'),
      dataIndex: 'status',
      width: 220,
      render: (s: RunStatus, run) => (
        <Space>
          <RunStatusTag status={s} testId="run-status" />
          <RunProgress run={run} />
        </Space>
      ),
    },
    { title: t('tags.runs.trigger'), dataIndex: 'trigger', width: 90, render: (tr: string) => labels.trigger(tr) },
    {
      title: t('tags.runs.scope'),
      dataIndex: 'tag_ids',
      width: 110,
      render: (ids: number[] | null) => (ids ? t('tags.runs.someTags', { n: ids.length }) : t('tags.runs.allTags')),
    },
    { title: t('tags.runs.startedAt'), dataIndex: 'started_at', width: 170, render: formatDateTime },
    { title: t('tags.runs.duration'), dataIndex: 'duration_ms', width: 100, render: formatDuration },
    { title: t('tags.runs.rows'), dataIndex: 'rows', width: 100, align: 'right', render: formatInt },
    {
      title: t('tags.runs.computed'),
      key: 'computed',
      width: 120,
      render: (_, r) => (
        <span>
          {formatInt(r.tags_computed)} / <Typography.Text type={r.tags_failed ? 'danger' : undefined}>{formatInt(r.tags_failed)}</Typography.Text>
        </span>
      ),
    },
    { title: t('tags.runs.changed'), dataIndex: 'changed', width: 100, align: 'right', render: formatInt },
    { title: t('tags.runs.tagset'), dataIndex: 'tagset_version', width: 90, render: (v: number | null) => (v ? `v${v}` : '-') },
    { title: t('tags.runs.error'), dataIndex: 'error', width: 260, render: (e: string | null) => <ErrorText error={e} /> },
  ];

  return (
    <Card>
      {can('tags.manage') && (
        <div style={{ float: 'right' }}>
          <Popconfirm title={t('tags.list.runAllConfirm')} okText={t('app.confirm')} cancelText={t('app.cancel')} onConfirm={() => runTags.mutate(undefined)}>
            <Button type="primary" icon={<ThunderboltOutlined />} loading={runTags.isPending}>
              {t('tags.actions.runAll')}
            </Button>
          </Popconfirm>
        </div>
      )}
      <Typography.Title level={4} className="ol-page-title">
        {t('tags.runs.title')}
      </Typography.Title>
      <div className="ol-toolbar" style={{ alignItems: 'center' }}>
        <Select<RunStatus>
          allowClear
          style={{ width: 150 }}
          placeholder={t('tags.runs.status')}
          value={status}
          onChange={(v) => {
            setStatus(v);
            setPage(1);
          }}
          options={RUN_STATUSES.map((s) => ({ value: s, label: t(`tags.runStatuses.${s}`) }))}
        />
        <Space>
          <Switch size="small" checked={autoRefresh} onChange={setAutoRefresh} />
          <Typography.Text type="secondary">{t('tags.runs.autoRefresh')}</Typography.Text>
          <Button size="small" icon={<ReloadOutlined />} aria-label={t('app.refresh')} onClick={() => void queryClient.invalidateQueries({ queryKey: ['tag-runs'] })} />
        </Space>
      </div>
      <Table<Run>
        rowKey="id"
        size="middle"
        data-testid="runs-table"
        columns={columns}
        dataSource={runs.data?.items ?? []}
        loading={runs.isLoading}
        scroll={{ x: 1480 }}
        locale={{ emptyText: t('tags.runs.empty') }}
        onRow={(run) => ({ onDoubleClick: () => setOpen(run.id) })}
        pagination={{
          current: page,
          pageSize,
          total: runs.data?.total ?? 0,
          showSizeChanger: true,
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => {
            setPage(p);
            setPageSize(s);
          },
        }}
      />
      <RunDrawer runId={openRun} onClose={() => setOpen(null)} />
    </Card>
  );
}
