import { Badge, Button, Card, Descriptions, Empty, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useParams, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError } from '../api/errors';
import { formatDateTime, formatInt } from '../lib/format';

type Firing = Schemas['FiringRead'];
type CausingEvent = Schemas['CausingEvent'];

/** Firing history of one trigger (触发记录): customers (masked by role), causing events, latency. */
export default function TriggerFiringsPage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const { triggerId } = useParams();
  const id = Number(triggerId);
  const [params, setParams] = useSearchParams();
  const page = Number(params.get('page') ?? 1) || 1;
  const pageSize = Number(params.get('size') ?? 20) || 20;

  const trigger = useQuery({
    queryKey: ['trigger', id],
    queryFn: () => unwrap(api.GET('/api/triggers/{trigger_id}', { params: { path: { trigger_id: id } } })),
    refetchInterval: 10_000,
  });
  const firings = useQuery({
    queryKey: ['trigger-firings', id, page, pageSize],
    queryFn: () =>
      unwrap(api.GET('/api/triggers/{trigger_id}/firings', { params: { path: { trigger_id: id }, query: { page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
    refetchInterval: 5_000,
  });

  if (trigger.error instanceof ApiError && trigger.error.status === 404) {
    return (
      <Card>
        <Empty description={t('app.notFound', { defaultValue: '404' })} />
      </Card>
    );
  }
  const row = trigger.data;

  const columns: TableProps<Firing>['columns'] = [
    { title: t('triggers.firedAt'), dataIndex: 'fired_at', width: 170, render: (v: string) => formatDateTime(v) },
    {
      title: t('triggers.customer'),
      dataIndex: 'customer_no',
      render: (no: string, f) => (
        <Space size={4}>
          <Link to={`/customers/${no}`}>{no}</Link>
          <span>{f.customer_name}</span>
        </Space>
      ),
    },
    { title: t('triggers.org'), dataIndex: 'org_name', width: 130 },
    { title: t('triggers.occurrence'), dataIndex: 'occurrence_key', ellipsis: true },
    {
      title: t('triggers.causingEvents'),
      dataIndex: 'events',
      render: (events: CausingEvent[]) => (events.length ? events.map((e) => <Tag key={e.id}>{e.name ?? e.id}</Tag>) : '-'),
    },
    {
      title: t('triggers.latency'),
      dataIndex: 'latency_ms',
      width: 100,
      align: 'right',
      render: (v: number | null) => (v === null ? '-' : `${formatInt(v)} ms`),
    },
  ];

  return (
    <Card>
      <Space style={{ float: 'right' }}>
        <Button onClick={() => navigate('/triggers')}>{t('app.back')}</Button>
        {row?.editable && row.status !== 'archived' && (
          <Button type="primary" onClick={() => navigate(`/triggers/${id}/edit`)}>
            {t('triggers.edit')}
          </Button>
        )}
      </Space>
      <Typography.Title level={4} className="ol-page-title">
        {row?.name ?? t('triggers.firings')}
      </Typography.Title>
      {row && (
        <Descriptions size="small" column={4} style={{ marginBottom: 16 }} data-testid="trigger-summary">
          <Descriptions.Item label={t('triggers.kind')}>{t(`triggers.kinds.${row.kind}`)}</Descriptions.Item>
          <Descriptions.Item label={t('triggers.status')}>
            <Badge status={row.status === 'active' ? 'processing' : 'default'} text={t(`triggers.statuses.${row.status}`)} />
          </Descriptions.Item>
          <Descriptions.Item label={t('triggers.firingsToday')}>{formatInt(row.firings_today)}</Descriptions.Item>
          <Descriptions.Item label={t('triggers.firingsTotal')}>{formatInt(row.firings_total)}</Descriptions.Item>
          <Descriptions.Item label={t('triggers.ownerOrg')}>{row.owner_org_name ?? '-'}</Descriptions.Item>
          <Descriptions.Item label={t('triggers.lastFired')}>{formatDateTime(row.last_fired_at)}</Descriptions.Item>
          <Descriptions.Item label={t('triggers.definition')} span={2}>
            <Typography.Text code style={{ whiteSpace: 'pre-wrap' }}>
              {JSON.stringify(row.definition)}
            </Typography.Text>
          </Descriptions.Item>
          {row.description && <Descriptions.Item label={t('triggers.description')} span={4}>{row.description}</Descriptions.Item>}
        </Descriptions>
      )}
      <Typography.Text type="secondary">{t('triggers.autoRefresh')}</Typography.Text>
      <Table<Firing>
        rowKey="id"
        size="middle"
        data-testid="firings-table"
        columns={columns}
        dataSource={firings.data?.items ?? []}
        loading={firings.isLoading}
        locale={{ emptyText: t('triggers.firingsEmpty') }}
        expandable={{
          rowExpandable: (f) => f.events.length > 0 || f.details !== null,
          expandedRowRender: (f) => (
            <Space direction="vertical" style={{ width: '100%' }}>
              {f.events.length === 0 && <Typography.Text type="secondary">{t('triggers.noEvents')}</Typography.Text>}
              {f.events.map((e) => (
                <Descriptions key={e.id} size="small" column={3} bordered>
                  <Descriptions.Item label={t('triggers.event')}>{e.name ?? '-'}</Descriptions.Item>
                  <Descriptions.Item label={t('triggers.eventTime')}>{formatDateTime(e.ts)}</Descriptions.Item>
                  <Descriptions.Item label={t('triggers.acceptedAt')}>{formatDateTime(e.received_at)}</Descriptions.Item>
                  <Descriptions.Item label={t('triggers.properties')} span={3}>
                    <Typography.Text code>{JSON.stringify(e.properties ?? {})}</Typography.Text>
                  </Descriptions.Item>
                </Descriptions>
              ))}
              {f.details && (
                <Typography.Text code style={{ whiteSpace: 'pre-wrap' }}>
                  {JSON.stringify(f.details)}
                </Typography.Text>
              )}
            </Space>
          ),
        }}
        pagination={{
          current: page,
          pageSize,
          total: firings.data?.total ?? 0,
          showSizeChanger: true,
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => {
            const next = new URLSearchParams(params);
            if (p === 1) next.delete('page');
            else next.set('page', String(p));
            if (s === 20) next.delete('size');
            else next.set('size', String(s));
            setParams(next, { replace: true });
          },
        }}
      />
    </Card>
  );
}
