import { useState } from 'react';
import { AutoComplete, Button, Card, DatePicker, Input, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { ReloadOutlined } from '@ant-design/icons';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import type { Dayjs } from 'dayjs';
import { api, unwrap, type Schemas } from '../api/client';
import JsonDiff from '../components/JsonDiff';
import { formatDateTime, shanghaiIso } from '../lib/format';
import zhCN from '../i18n/locales/zh-CN';

type Record_ = Schemas['AuditRead'];
type ActionKey = keyof typeof zhCN.audit.actions;
type EntityKey = keyof typeof zhCN.audit.entities;
const ACTIONS = Object.keys(zhCN.audit.actions) as ActionKey[];
const ENTITIES = Object.keys(zhCN.audit.entities) as EntityKey[];

const ACTION_COLOR: Record<string, string> = {
  create: 'green',
  update: 'blue',
  delete: 'red',
  login: 'cyan',
  logout: 'default',
  login_failed: 'orange',
  locked: 'red',
  unlock: 'purple',
  password_reset: 'gold',
};

interface Filters {
  entityType?: string;
  action?: string;
  actor?: string;
  range?: [Dayjs | null, Dayjs | null] | null;
}

export default function AuditPage() {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<Filters>({});
  const [filters, setFilters] = useState<Filters>({});
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);

  const actionLabel = (a: string) => ((ACTIONS as string[]).includes(a) ? t(`audit.actions.${a as ActionKey}`) : a);
  const entityLabel = (e: string) => ((ENTITIES as string[]).includes(e) ? t(`audit.entities.${e as EntityKey}`) : e);

  const since = filters.range?.[0] ? shanghaiIso(filters.range[0]) : undefined;
  const until = filters.range?.[1] ? shanghaiIso(filters.range[1]) : undefined;
  const query = useQuery({
    queryKey: ['audit', { ...filters, range: [since, until], page, pageSize }],
    queryFn: () =>
      unwrap(
        api.GET('/api/audit', {
          params: {
            query: {
              entity_type: filters.entityType || undefined,
              action: filters.action || undefined,
              actor: filters.actor || undefined,
              since,
              until,
              page,
              page_size: pageSize,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  const apply = () => {
    setFilters({
      entityType: draft.entityType?.trim(),
      action: draft.action?.trim(),
      actor: draft.actor?.trim(),
      range: draft.range,
    });
    setPage(1);
  };
  const reset = () => {
    setDraft({});
    setFilters({});
    setPage(1);
  };

  const columns: TableProps<Record_>['columns'] = [
    { title: t('audit.at'), dataIndex: 'at', width: 180, render: formatDateTime },
    { title: t('audit.actor'), dataIndex: 'actor_name', width: 130, render: (v: string | null) => v ?? '-' },
    {
      title: t('audit.action'),
      dataIndex: 'action',
      width: 120,
      render: (a: string) => <Tag color={ACTION_COLOR[a] ?? 'default'}>{actionLabel(a)}</Tag>,
    },
    { title: t('audit.entityType'), dataIndex: 'entity_type', width: 120, render: entityLabel },
    { title: t('audit.entityId'), dataIndex: 'entity_id', width: 100, render: (v: string | null) => v ?? '-' },
    { title: t('audit.ip'), dataIndex: 'ip', width: 130, render: (v: string | null) => v ?? '-' },
    {
      title: t('audit.requestId'),
      dataIndex: 'request_id',
      ellipsis: true,
      render: (v: string | null) => (v ? <Typography.Text type="secondary" copyable={{ text: v }}>{v}</Typography.Text> : '-'),
    },
  ];

  return (
    <Card>
      <Typography.Title level={4} className="ol-page-title">
        {t('audit.title')}
      </Typography.Title>
      <div className="ol-toolbar">
        <AutoComplete
          allowClear
          style={{ width: 150 }}
          placeholder={t('audit.entityType')}
          value={draft.entityType}
          onChange={(v) => setDraft((d) => ({ ...d, entityType: v }))}
          options={ENTITIES.map((e) => ({ value: e, label: `${entityLabel(e)} (${e})` }))}
        />
        <AutoComplete
          allowClear
          style={{ width: 170 }}
          placeholder={t('audit.action')}
          value={draft.action}
          onChange={(v) => setDraft((d) => ({ ...d, action: v }))}
          options={ACTIONS.map((a) => ({ value: a, label: `${actionLabel(a)} (${a})` }))}
        />
        <Input
          allowClear
          style={{ width: 150 }}
          placeholder={t('audit.actor')}
          value={draft.actor}
          onChange={(e) => setDraft((d) => ({ ...d, actor: e.target.value }))}
          onPressEnter={apply}
        />
        <DatePicker.RangePicker
          showTime={{ format: 'HH:mm' }}
          format="YYYY-MM-DD HH:mm"
          value={draft.range ?? null}
          onChange={(v) => setDraft((d) => ({ ...d, range: v }))}
        />
        <Space>
          <Button type="primary" onClick={apply}>
            {t('app.search')}
          </Button>
          <Button onClick={reset}>{t('app.reset')}</Button>
          <Button icon={<ReloadOutlined />} onClick={() => void query.refetch()} aria-label={t('app.refresh')} />
        </Space>
      </div>
      <Table<Record_>
        rowKey="id"
        size="middle"
        data-testid="audit-table"
        columns={columns}
        dataSource={query.data?.items ?? []}
        loading={query.isFetching}
        scroll={{ x: 1000 }}
        expandable={{
          expandedRowRender: (r) => <JsonDiff before={r.before} after={r.after} />,
          rowExpandable: (r) => !!(r.before || r.after),
        }}
        pagination={{
          current: page,
          pageSize,
          total: query.data?.total ?? 0,
          showSizeChanger: true,
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => {
            setPage(p);
            setPageSize(s);
          },
        }}
      />
    </Card>
  );
}
