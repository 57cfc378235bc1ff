import { useEffect, useState } from 'react';
import { Button, Card, Input, Space, Table, Tooltip, Typography } from 'antd';
import type { TableProps } from 'antd';
import { TagsOutlined } from '@ant-design/icons';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useNavigate, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { useAuth } from '../auth/AuthContext';
import ListUpload from '../components/tags/ListUpload';
import { formatDateTime, formatInt } from '../lib/format';

type Row = Schemas['CustomerListRead'];

/** 客户名单: uploaded lists of customer numbers (a tag source and an audience condition). */
export default function CustomerListsPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
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
    queryKey: ['customer-lists', 'list', { q, page, pageSize }],
    queryFn: () => unwrap(api.GET('/api/customer-lists', { params: { query: { q: q || undefined, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
  });

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
  ];
  if (can('tags.manage')) {
    columns.push({
      title: t('app.actions'),
      key: 'actions',
      width: 130,
      fixed: 'right',
      render: (_, row) => (
        <Button size="small" icon={<TagsOutlined />} onClick={() => navigate(`/tags/new?source=list&list=${row.id}`)}>
          {t('tags.lists.asTag')}
        </Button>
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
        scroll={{ x: 1300 }}
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
