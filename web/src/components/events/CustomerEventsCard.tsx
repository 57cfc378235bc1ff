import { useState } from 'react';
import { Card, Descriptions, Empty, Input, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../../api/client';
import { useAuth } from '../../auth/AuthContext';
import { formatDateTime } from '../../lib/format';
import EventDetail, { EventTypeTag } from './EventDetail';

type Event = Schemas['EventRead'];
type Merge = Schemas['IdentityMergeRead'];
const TYPES: Event['type'][] = ['track', 'page', 'screen', 'identify', 'group', 'alias'];

function Timeline({ customerNo }: { customerNo: string }) {
  const { t } = useTranslation();
  const [page, setPage] = useState(1);
  const [name, setName] = useState<string | undefined>();
  const [type, setType] = useState<Event['type'] | undefined>();
  const query = useQuery({
    queryKey: ['customer-events', customerNo, { page, name, type }],
    queryFn: () => unwrap(api.GET('/api/customers/{customer_no}/events', {
      params: { path: { customer_no: customerNo }, query: { page, page_size: 20, name, type } },
    })),
    placeholderData: keepPreviousData,
  });
  const columns: TableProps<Event>['columns'] = [
    { title: t('events.stream.time'), dataIndex: 'ts', width: 170, render: formatDateTime },
    { title: t('events.stream.type'), dataIndex: 'type', width: 90, render: (x: Event['type']) => <EventTypeTag type={x} /> },
    { title: t('events.stream.eventName'), dataIndex: 'name', width: 160, render: (n: string | null) => n ?? '-' },
    { title: t('events.stream.source'), dataIndex: 'source_name', width: 130 },
    { title: t('events.stream.properties'), dataIndex: 'properties', ellipsis: true,
      render: (p: Event['properties']) => <Typography.Text type="secondary">{p ? JSON.stringify(p) : '-'}</Typography.Text> },
  ];
  return (
    <>
      <Space style={{ marginBottom: 12 }}>
        <Input.Search allowClear placeholder={t('events.stream.eventName')} style={{ width: 200 }}
                      onSearch={(v) => { setName(v.trim() || undefined); setPage(1); }} />
        <Select allowClear style={{ width: 140 }} placeholder={t('events.stream.type')}
                options={TYPES.map((x) => ({ value: x, label: t(`events.types.${x}`) }))}
                onChange={(x?: Event['type']) => { setType(x); setPage(1); }} />
      </Space>
      <Table<Event> rowKey="id" size="small" data-testid="c360-events" columns={columns} dataSource={query.data?.items ?? []}
                    loading={query.isFetching && !query.data} scroll={{ x: 900 }}
                    locale={{ emptyText: t('events.stream.empty') }}
                    expandable={{ expandedRowRender: (e) => <EventDetail event={e} /> }}
                    pagination={{ current: page, pageSize: 20, total: query.data?.total ?? 0, onChange: setPage,
                                  showTotal: (total) => t('app.total', { count: total }) }} />
    </>
  );
}

function Identities({ customerNo }: { customerNo: string }) {
  const { t } = useTranslation();
  const query = useQuery({
    queryKey: ['customer-identities', customerNo],
    queryFn: () => unwrap(api.GET('/api/customers/{customer_no}/identities', { params: { path: { customer_no: customerNo } } })),
  });
  const data = query.data;
  const mergeColumns: TableProps<Merge>['columns'] = [
    { title: t('events.c360.linkedAt'), dataIndex: 'at', width: 170, render: formatDateTime },
    { title: t('events.c360.value'), dataIndex: 'identity', render: (v: string) => <Typography.Text code>{v}</Typography.Text> },
    { title: t('events.c360.via'), dataIndex: 'via', width: 90, render: (v: string) => <Tag>{v}</Tag> },
    { title: t('events.stream.source'), dataIndex: 'source_name', width: 130 },
    { title: t('events.c360.attached'), dataIndex: 'events_attached', width: 110, align: 'right' },
    { title: t('events.c360.message'), dataIndex: 'message_id', ellipsis: true },
  ];
  if (!data) return null;
  return (
    <Space direction="vertical" style={{ width: '100%' }} size="middle">
      <Descriptions size="small" column={1}>
        <Descriptions.Item label={t('events.c360.userIds')}>
          {data.user_ids.length ? data.user_ids.map((u) => <Tag key={u}>{u}</Tag>) : '-'}
        </Descriptions.Item>
        <Descriptions.Item label={t('events.c360.linked')}>
          {data.identities.length
            ? <Space size={[4, 4]} wrap data-testid="c360-identities">{data.identities.map((i) => (
                <Tag key={i.value} color={i.kind === 'anonymous' ? 'default' : 'blue'}>
                  {i.kind === 'anonymous' ? t('events.c360.anonymousKind') : t('events.c360.externalKind')}: {i.value}
                </Tag>))}</Space>
            : <Typography.Text type="secondary">{t('events.c360.noIdentities')}</Typography.Text>}
        </Descriptions.Item>
      </Descriptions>
      <Typography.Text strong>{t('events.c360.merges')}</Typography.Text>
      {data.merges.length
        ? <Table<Merge> rowKey={(m) => `${m.identity}:${m.at}`} size="small" pagination={false} columns={mergeColumns} dataSource={data.merges} />
        : <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />}
    </Space>
  );
}

/** Customer 360: the event timeline with filters and the identity graph (anonymous ids, aliases, merges). */
export default function CustomerEventsCard({ customerNo }: { customerNo: string }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  if (!can('events.read')) return null;
  return (
    <Card title={t('events.c360.title')} data-testid="c360-events-card">
      <Tabs items={[
        { key: 'timeline', label: t('events.c360.timeline'), children: <Timeline customerNo={customerNo} /> },
        { key: 'identities', label: t('events.c360.identities'), children: <Identities customerNo={customerNo} /> },
      ]} />
    </Card>
  );
}
