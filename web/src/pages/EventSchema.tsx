import { useState } from 'react';
import { Card, Segmented, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { EventTypeTag } from '../components/events/EventDetail';
import { formatDateTime, formatInt } from '../lib/format';

type Entry = Schemas['EventSchemaEntry'];
type Prop = Schemas['PropertySeen'];

/** 事件字典: every event name seen in the window, its volume and its properties with the types seen. */
export default function EventSchemaPage() {
  const { t } = useTranslation();
  const [days, setDays] = useState(30);
  const query = useQuery({
    queryKey: ['event-schema', days],
    queryFn: () => unwrap(api.GET('/api/events/schema', { params: { query: { days } } })),
    placeholderData: keepPreviousData,
  });
  const columns: TableProps<Entry>['columns'] = [
    { title: t('events.schema.name'), dataIndex: 'name', width: 200,
      render: (n: string | null) => n ? <Typography.Text strong>{n}</Typography.Text> : <Typography.Text type="secondary">{t('events.schema.noName')}</Typography.Text> },
    { title: t('events.schema.type'), dataIndex: 'type', width: 90, render: (type: Entry['type']) => <EventTypeTag type={type} /> },
    { title: t('events.schema.count'), dataIndex: 'count', width: 110, align: 'right', render: formatInt },
    { title: t('events.schema.customers'), dataIndex: 'customers', width: 110, align: 'right', render: formatInt },
    { title: t('events.schema.property'), key: 'props', render: (_, e) => (
      <Space size={[4, 4]} wrap>{e.properties.map((p) => <Tag key={p.name}>{p.name}</Tag>)}</Space>
    ) },
    { title: t('events.schema.firstSeen'), dataIndex: 'first_seen', width: 170, render: formatDateTime },
    { title: t('events.schema.lastSeen'), dataIndex: 'last_seen', width: 170, render: formatDateTime },
  ];
  const propColumns: TableProps<Prop>['columns'] = [
    { title: t('events.schema.property'), dataIndex: 'name', width: 220, render: (n: string) => <Typography.Text code>{n}</Typography.Text> },
    { title: t('events.schema.types'), dataIndex: 'types', width: 240, render: (types: string[]) => types.map((x) => <Tag key={x} color="geekblue">{x}</Tag>) },
    { title: t('events.schema.seen'), dataIndex: 'seen', key: 'seen' },
  ];
  return (
    <Card>
      <Typography.Title level={4} className="ol-page-title">{t('events.schema.title')}</Typography.Title>
      <Typography.Paragraph type="secondary">{t('events.schema.hint')}</Typography.Paragraph>
      <Space className="ol-toolbar">
        {t('events.schema.window')}
        <Segmented value={days} onChange={(v) => setDays(Number(v))}
                   options={[7, 30, 90, 365].map((d) => ({ value: d, label: t('events.schema.days', { count: d }) }))} />
      </Space>
      <Table<Entry>
        rowKey={(e) => `${e.type}:${e.name ?? ''}`} size="middle" data-testid="schema-table" columns={columns}
        dataSource={query.data?.items ?? []} loading={query.isFetching && !query.data} pagination={false}
        scroll={{ x: 1200 }} locale={{ emptyText: t('events.schema.empty') }}
        expandable={{ expandedRowRender: (e) => (
          <Table<Prop> rowKey="name" size="small" pagination={false} columns={propColumns.map((c) => c.key === 'seen'
            ? { ...c, render: (n: number) => `${formatInt(n)} / ${formatInt(e.sample_size)}` } : c)} dataSource={e.properties} />
        ) }}
      />
    </Card>
  );
}
