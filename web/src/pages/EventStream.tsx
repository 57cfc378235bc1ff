import { useCallback, useEffect, useRef, useState } from 'react';
import { Button, Card, Input, Select, Space, Switch, Table, Typography } from 'antd';
import type { TableProps } from 'antd';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import EventDetail, { EventTypeTag } from '../components/events/EventDetail';
import { formatDateTime } from '../lib/format';
import { notifyError } from '../lib/notify';

type Event = Schemas['EventRead'];
type EventType = Event['type'];
const TYPES: EventType[] = ['track', 'page', 'screen', 'identify', 'group', 'alias'];
const KEEP = 500;

interface Filters {
  customer_no?: string;
  name?: string;
  type?: EventType;
}

/** 实时事件流: newest first; a long poll on /api/events/stream brings new events in as they arrive. */
export default function EventStreamPage() {
  const { t } = useTranslation();
  const [filters, setFilters] = useState<Filters>({});
  const [auto, setAuto] = useState(true);
  const [items, setItems] = useState<Event[]>([]);
  const [loading, setLoading] = useState(true);
  const [older, setOlder] = useState<number | null>(null);
  const lastId = useRef<number | null>(null);

  // Initial page (and on filter change): the newest events.
  useEffect(() => {
    let cancelled = false;
    setLoading(true);
    unwrap(api.GET('/api/events', { params: { query: { ...filters, limit: 50 } } }))
      .then((page) => {
        if (cancelled) return;
        setItems(page.items);
        setOlder(page.next_before_id ?? null);
        lastId.current = page.items[0]?.id ?? 0;
      })
      .catch((err) => !cancelled && notifyError(errorMessage(err)))
      .finally(() => !cancelled && setLoading(false));
    return () => {
      cancelled = true;
    };
  }, [filters]);

  // Live: long poll for events after the newest one we have.
  useEffect(() => {
    if (!auto || loading) return;
    let stopped = false;
    const controller = new AbortController();
    (async () => {
      while (!stopped) {
        try {
          const res = await unwrap(api.GET('/api/events/stream', {
            params: { query: { ...filters, after_id: lastId.current ?? 0, wait: 20, limit: 200 } },
            signal: controller.signal,
          }));
          if (stopped) return;
          if (res.items.length) {
            lastId.current = res.last_id ?? lastId.current;
            setItems((current) => [...res.items, ...current].slice(0, KEEP));
          }
        } catch (err) {
          if (stopped) return;
          await new Promise((r) => setTimeout(r, 3000));
        }
      }
    })();
    return () => {
      stopped = true;
      controller.abort();
    };
  }, [auto, loading, filters]);

  const loadOlder = useCallback(() => {
    if (older === null) return;
    unwrap(api.GET('/api/events', { params: { query: { ...filters, limit: 50, before_id: older } } }))
      .then((page) => {
        setItems((current) => [...current, ...page.items]);
        setOlder(page.next_before_id ?? null);
      })
      .catch((err) => notifyError(errorMessage(err)));
  }, [older, filters]);

  const columns: TableProps<Event>['columns'] = [
    { title: t('events.stream.time'), dataIndex: 'ts', width: 170, render: formatDateTime },
    { title: t('events.stream.type'), dataIndex: 'type', width: 90, render: (type: EventType) => <EventTypeTag type={type} /> },
    { title: t('events.stream.eventName'), dataIndex: 'name', width: 160, render: (n: string | null) => n ?? '-' },
    {
      title: t('events.stream.customer'), key: 'customer', width: 200,
      render: (_, e) => e.customer_no
        ? <Link to={`/customers/${e.customer_no}`}>{e.customer_no} {e.customer_name}</Link>
        : <Typography.Text type="secondary">{t('events.stream.unidentified')}</Typography.Text>,
    },
    { title: t('events.stream.source'), dataIndex: 'source_name', width: 130 },
    {
      title: t('events.stream.properties'), dataIndex: 'properties', ellipsis: true,
      render: (p: Event['properties']) => <Typography.Text type="secondary">{p ? JSON.stringify(p) : '-'}</Typography.Text>,
    },
    { title: t('events.stream.received'), dataIndex: 'received_at', width: 170, render: formatDateTime },
  ];

  return (
    <Card>
      <Typography.Title level={4} className="ol-page-title">{t('events.stream.title')}</Typography.Title>
      <Typography.Paragraph type="secondary">{t('events.stream.hint')}</Typography.Paragraph>
      <Space className="ol-toolbar" wrap>
        <Input.Search allowClear style={{ width: 200 }} placeholder={t('events.stream.customerNo')} data-testid="stream-customer"
                      onSearch={(v) => setFilters((f) => ({ ...f, customer_no: v.trim() || undefined }))} />
        <Input.Search allowClear style={{ width: 200 }} placeholder={t('events.stream.eventName')} data-testid="stream-name"
                      onSearch={(v) => setFilters((f) => ({ ...f, name: v.trim() || undefined }))} />
        <Select allowClear style={{ width: 140 }} placeholder={t('events.stream.type')}
                options={TYPES.map((type) => ({ value: type, label: t(`events.types.${type}`) }))}
                onChange={(type?: EventType) => setFilters((f) => ({ ...f, type }))} />
        <Space>
          <Switch checked={auto} onChange={setAuto} data-testid="stream-auto" />
          {t('events.stream.auto')}
        </Space>
      </Space>
      <Table<Event>
        rowKey="id" size="small" data-testid="stream-table" columns={columns} dataSource={items} loading={loading}
        pagination={false} scroll={{ x: 1300 }} locale={{ emptyText: t('events.stream.empty') }}
        expandable={{ expandedRowRender: (e) => <EventDetail event={e} /> }}
      />
      {older !== null && (
        <div style={{ textAlign: 'center', marginTop: 16 }}>
          <Button onClick={loadOlder}>{t('events.stream.loadOlder')}</Button>
        </div>
      )}
    </Card>
  );
}
