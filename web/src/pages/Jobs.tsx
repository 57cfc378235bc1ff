import { useState } from 'react';
import { App, Button, Card, Input, Popconfirm, Progress, Select, Space, Switch, Table, Tabs, Tag, Tooltip, Typography } from 'antd';
import type { TableProps } from 'antd';
import { CheckCircleOutlined, ClockCircleOutlined, CloseCircleOutlined, MinusCircleOutlined, ReloadOutlined, StopOutlined, SyncOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime } from '../lib/format';

type Job = Schemas['JobRead'];
type Status = Job['status'];
const STATUSES: Status[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const REFRESH_MS = 5000;

const STATUS_TAG: Record<Status, { color: string; icon: React.ReactNode }> = {
  queued: { color: 'default', icon: <ClockCircleOutlined /> },
  running: { color: 'processing', icon: <SyncOutlined spin /> },
  succeeded: { color: 'success', icon: <CheckCircleOutlined /> },
  failed: { color: 'error', icon: <CloseCircleOutlined /> },
  cancelled: { color: 'warning', icon: <MinusCircleOutlined /> },
};

function Json({ value }: { value: unknown }) {
  return <pre className="ol-json">{JSON.stringify(value, null, 2)}</pre>;
}

function JobsTable({ autoRefresh }: { autoRefresh: boolean }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const manage = can('jobs.manage');
  const [status, setStatus] = useState<Status | undefined>();
  const [name, setName] = useState('');
  const [nameDraft, setNameDraft] = useState('');
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);

  const jobs = useQuery({
    queryKey: ['jobs', 'list', { status, name, page, pageSize }],
    queryFn: () => unwrap(api.GET('/api/jobs', { params: { query: { status, name: name || undefined, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
    refetchInterval: autoRefresh ? REFRESH_MS : false,
  });
  const done = (text: string) => () => {
    message.success(text);
    void queryClient.invalidateQueries({ queryKey: ['jobs'] });
  };
  const retry = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/jobs/{job_id}/retry', { params: { path: { job_id: id } } })),
    onSuccess: done(t('jobs.retried')),
    onError: (err) => void message.error(errorMessage(err)),
  });
  const cancel = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/jobs/{job_id}/cancel', { params: { path: { job_id: id } } })),
    onSuccess: done(t('jobs.cancelled')),
    onError: (err) => void message.error(errorMessage(err)),
  });

  const columns: TableProps<Job>['columns'] = [
    { title: t('jobs.id'), dataIndex: 'id', width: 70 },
    { title: t('jobs.name'), dataIndex: 'name', width: 180, render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
    {
      title: t('jobs.status'),
      dataIndex: 'status',
      width: 120,
      render: (s: Status, j) => (
        <Space size={4}>
          <Tag color={STATUS_TAG[s].color} icon={STATUS_TAG[s].icon} data-testid="job-status">
            {t(`jobs.statuses.${s}`)}
          </Tag>
          {j.cancel_requested && s === 'running' && (
            <Tooltip title={t('jobs.cancelRequested')}>
              <StopOutlined style={{ color: '#faad14' }} />
            </Tooltip>
          )}
        </Space>
      ),
    },
    {
      title: t('jobs.progress'),
      dataIndex: 'progress',
      width: 180,
      render: (p: number, j) => (
        <Tooltip title={j.progress_message}>
          <Progress
            percent={Math.round(p * 100)}
            size="small"
            status={j.status === 'failed' ? 'exception' : j.status === 'succeeded' ? 'success' : j.status === 'running' ? 'active' : 'normal'}
          />
        </Tooltip>
      ),
    },
    { title: t('jobs.attempts'), key: 'attempts', width: 90, render: (_: unknown, j) => `${j.attempts} / ${j.max_attempts}` },
    {
      title: t('jobs.error'),
      dataIndex: 'error',
      width: 240,
      ellipsis: { showTitle: false },
      render: (e: string | null) =>
        e ? (
          <Tooltip title={e} placement="topLeft">
            <Typography.Text type="danger">{e}</Typography.Text>
          </Tooltip>
        ) : (
          '-'
        ),
    },
    { title: t('jobs.createdAt'), dataIndex: 'created_at', width: 170, render: formatDateTime },
    { title: t('jobs.startedAt'), dataIndex: 'started_at', width: 170, render: formatDateTime },
    { title: t('jobs.finishedAt'), dataIndex: 'finished_at', width: 170, render: formatDateTime },
  ];
  if (manage) {
    columns.push({
      title: t('app.actions'),
      key: 'actions',
      fixed: 'right',
      width: 150,
      render: (_: unknown, j) => (
        <Space size={4}>
          {(j.status === 'failed' || j.status === 'cancelled') && (
            <Button size="small" icon={<ReloadOutlined />} loading={retry.isPending && retry.variables === j.id} onClick={() => retry.mutate(j.id)}>
              {t('jobs.retry')}
            </Button>
          )}
          {(j.status === 'queued' || (j.status === 'running' && !j.cancel_requested)) && (
            <Popconfirm title={t('jobs.cancelConfirm')} okText={t('app.confirm')} cancelText={t('app.cancel')} onConfirm={() => cancel.mutate(j.id)}>
              <Button size="small" danger icon={<StopOutlined />} loading={cancel.isPending && cancel.variables === j.id}>
                {t('jobs.cancel')}
              </Button>
            </Popconfirm>
          )}
        </Space>
      ),
    });
  }

  return (
    <>
      <div className="ol-toolbar">
        <Select<Status>
          allowClear
          style={{ width: 150 }}
          placeholder={t('jobs.status')}
          value={status}
          onChange={(v) => {
            setStatus(v);
            setPage(1);
          }}
          options={STATUSES.map((s) => ({ value: s, label: t(`jobs.statuses.${s}`) }))}
        />
        <Input.Search
          allowClear
          enterButton
          style={{ width: 260 }}
          placeholder={t('jobs.filterName')}
          value={nameDraft}
          onChange={(e) => setNameDraft(e.target.value)}
          onSearch={(v) => {
            setName(v.trim());
            setPage(1);
          }}
        />
      </div>
      <Table<Job>
        rowKey="id"
        size="middle"
        data-testid="jobs-table"
        columns={columns}
        dataSource={jobs.data?.items ?? []}
        loading={jobs.isLoading}
        scroll={{ x: 1560 }}
        expandable={{
          expandedRowRender: (j) => (
            <Space align="start" size={48} wrap>
              <div>
                <Typography.Text strong>{t('jobs.args')}</Typography.Text>
                <Json value={j.args} />
              </div>
              {j.result && (
                <div>
                  <Typography.Text strong>{t('jobs.result')}</Typography.Text>
                  <Json value={j.result} />
                </div>
              )}
              {j.progress_message && (
                <div>
                  <Typography.Text strong>{t('jobs.message')}</Typography.Text>
                  <div>{j.progress_message}</div>
                </div>
              )}
              <div>
                <Typography.Text strong>{t('jobs.runAt')}</Typography.Text>
                <div>{formatDateTime(j.run_at)}</div>
                <Typography.Text strong>{t('jobs.priority')}</Typography.Text>
                <div>{j.priority}</div>
              </div>
            </Space>
          ),
        }}
        pagination={{
          current: page,
          pageSize,
          total: jobs.data?.total ?? 0,
          showSizeChanger: true,
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => {
            setPage(p);
            setPageSize(s);
          },
        }}
      />
    </>
  );
}

function SchedulesTable({ autoRefresh }: { autoRefresh: boolean }) {
  const { t } = useTranslation();
  const query = useQuery({
    queryKey: ['jobs', 'schedules'],
    queryFn: () => unwrap(api.GET('/api/jobs/schedules')),
    refetchInterval: autoRefresh ? REFRESH_MS : false,
  });
  return (
    <Table<Schemas['ScheduleRead']>
      rowKey="id"
      size="middle"
      loading={query.isLoading}
      dataSource={query.data ?? []}
      pagination={false}
      scroll={{ x: 1000 }}
      columns={[
        { title: t('jobs.scheduleKey'), dataIndex: 'key' },
        { title: t('jobs.name'), dataIndex: 'job_name', render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
        { title: t('jobs.cron'), dataIndex: 'cron', render: (c: string) => <Typography.Text code>{c}</Typography.Text> },
        { title: t('jobs.timezone'), dataIndex: 'timezone' },
        { title: t('jobs.enabled'), dataIndex: 'enabled', render: (e: boolean) => (e ? <Tag color="green">{t('app.yes')}</Tag> : <Tag>{t('app.no')}</Tag>) },
        { title: t('jobs.nextRun'), dataIndex: 'next_run_at', render: formatDateTime },
        { title: t('jobs.lastRun'), dataIndex: 'last_run_at', render: formatDateTime },
      ]}
    />
  );
}

function WorkersTable({ autoRefresh }: { autoRefresh: boolean }) {
  const { t } = useTranslation();
  const query = useQuery({
    queryKey: ['jobs', 'workers'],
    queryFn: () => unwrap(api.GET('/api/jobs/workers')),
    refetchInterval: autoRefresh ? REFRESH_MS : false,
  });
  return (
    <Table<Schemas['WorkerRead']>
      rowKey="id"
      size="middle"
      loading={query.isLoading}
      dataSource={query.data ?? []}
      pagination={false}
      scroll={{ x: 1000 }}
      columns={[
        { title: t('jobs.workerId'), dataIndex: 'id', render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
        { title: t('jobs.hostname'), dataIndex: 'hostname' },
        { title: t('jobs.pid'), dataIndex: 'pid' },
        { title: t('jobs.alive'), dataIndex: 'alive', render: (a: boolean) => (a ? <Tag color="green">{t('app.yes')}</Tag> : <Tag>{t('app.no')}</Tag>) },
        { title: t('jobs.startedAt'), dataIndex: 'started_at', render: formatDateTime },
        { title: t('jobs.heartbeat'), dataIndex: 'heartbeat_at', render: formatDateTime },
        { title: t('jobs.stoppedAt'), dataIndex: 'stopped_at', render: formatDateTime },
      ]}
    />
  );
}

export default function JobsPage() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const [autoRefresh, setAutoRefresh] = useState(true);
  return (
    <Card>
      <Typography.Title level={4} className="ol-page-title">
        {t('jobs.title')}
      </Typography.Title>
      <Tabs
        tabBarExtraContent={
          <Space>
            <Switch size="small" checked={autoRefresh} onChange={setAutoRefresh} data-testid="jobs-auto-refresh" />
            <Typography.Text type="secondary">{t('jobs.autoRefresh')}</Typography.Text>
            <Button
              size="small"
              icon={<ReloadOutlined />}
              aria-label={t('app.refresh')}
              onClick={() => void queryClient.invalidateQueries({ queryKey: ['jobs'] })}
            />
          </Space>
        }
        items={[
          { key: 'jobs', label: t('jobs.tabJobs'), children: <JobsTable autoRefresh={autoRefresh} /> },
          { key: 'schedules', label: t('jobs.tabSchedules'), children: <SchedulesTable autoRefresh={autoRefresh} /> },
          { key: 'workers', label: t('jobs.tabWorkers'), children: <WorkersTable autoRefresh={autoRefresh} /> },
        ]}
        destroyOnHidden
      />
    </Card>
  );
}
