import { useEffect, useState } from 'react';
import { Card, Input, Select, Table, Tag, Tooltip, Typography } from 'antd';
import type { TableProps } from 'antd';
import { EyeInvisibleOutlined } from '@ant-design/icons';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { useAuth } from '../auth/AuthContext';
import OrgTreeSelect from '../components/OrgTreeSelect';
import CustomerImport from '../components/CustomerImport';
import { formatFen } from '../lib/format';
import { SEGMENTS, RISK_LEVELS, segmentColor, riskColor, useCustomerLabels } from '../lib/customerLabels';

type Row = Schemas['CustomerListItem'];
type Segment = Row['segment'];
type RiskLevel = NonNullable<Row['risk_level']>;
type Sort = 'customer_no' | 'aum' | '-aum' | 'name';

export default function CustomersPage() {
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  const { can } = useAuth();
  const labels = useCustomerLabels();
  const [params, setParams] = useSearchParams();

  const q = params.get('q') ?? '';
  const segment = (params.get('segment') as Segment | null) ?? undefined;
  const risk = (params.get('risk') as RiskLevel | null) ?? undefined;
  const orgId = params.get('org') ? Number(params.get('org')) : undefined;
  const sort = (params.get('sort') as Sort | null) ?? 'customer_no';
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
    queryKey: ['customers', { q, segment, risk, orgId, sort, page, pageSize }],
    queryFn: () =>
      unwrap(
        api.GET('/api/customers', {
          params: {
            query: {
              q: q || undefined,
              segment,
              risk_level: risk,
              org_id: orgId,
              sort,
              page,
              page_size: pageSize,
            },
          },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  const anyMasked = query.data?.items.some((c) => c.masked);

  const columns: TableProps<Row>['columns'] = [
    {
      title: t('customers.customerNo'),
      dataIndex: 'customer_no',
      width: 130,
      render: (no: string) => <Link to={`/customers/${encodeURIComponent(no)}`}>{no}</Link>,
    },
    { title: t('customers.name'), dataIndex: 'name', width: 100 },
    { title: t('customers.gender'), dataIndex: 'gender', width: 64, render: (g: string | null) => labels.gender(g) },
    {
      title: t('customers.phone'),
      dataIndex: 'phone',
      width: 130,
      render: (p: string | null) => <span data-testid="customer-phone">{p ?? '-'}</span>,
    },
    {
      title: t('customers.segment'),
      dataIndex: 'segment',
      width: 100,
      render: (s: Segment) => <Tag color={segmentColor(s)}>{labels.segment(s)}</Tag>,
    },
    {
      title: t('customers.riskLevel'),
      dataIndex: 'risk_level',
      width: 84,
      render: (r: RiskLevel | null) => (r ? <Tag color={riskColor(r)}>{r}</Tag> : '-'),
    },
    {
      title: t('customers.aum'),
      dataIndex: 'aum_fen',
      key: 'aum',
      align: 'right',
      width: 150,
      sorter: true,
      sortOrder: sort === 'aum' ? 'ascend' : sort === '-aum' ? 'descend' : null,
      render: (v: number) => formatFen(v),
    },
    { title: t('customers.lifecycle'), dataIndex: 'lifecycle_stage', width: 90, render: (s: string | null) => labels.stage(s) },
    {
      title: t('customers.org'),
      dataIndex: 'org_name',
      width: 120,
      render: (v: string | null, row) => (english && row.org_name_en) || v || '-',
    },
    { title: t('customers.rm'), dataIndex: 'rm_name', width: 100, render: (v: string | null) => v ?? '-' },
  ];

  return (
    <Card>
      {can('customers.write') && (
        <div style={{ float: 'right' }}>
          <CustomerImport />
        </div>
      )}
      <Typography.Title level={4} className="ol-page-title">
        {t('customers.title')}
        {anyMasked && (
          <Tooltip title={t('customers.maskedHint')}>
            <Tag icon={<EyeInvisibleOutlined />} style={{ marginLeft: 12, verticalAlign: 'middle' }} data-testid="masked-tag">
              {t('customers.masked')}
            </Tag>
          </Tooltip>
        )}
      </Typography.Title>
      <div className="ol-toolbar">
        <Input.Search
          allowClear
          id="customer-search"
          style={{ width: 260 }}
          placeholder={t('customers.searchPlaceholder')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onSearch={(v) => update({ q: v.trim() })}
          enterButton
        />
        <Select<Segment>
          allowClear
          style={{ width: 150 }}
          placeholder={t('customers.segment')}
          value={segment}
          onChange={(v) => update({ segment: v })}
          options={SEGMENTS.map((s) => ({ value: s, label: labels.segment(s) }))}
        />
        <Select<RiskLevel>
          allowClear
          style={{ width: 130 }}
          placeholder={t('customers.riskLevel')}
          value={risk}
          onChange={(v) => update({ risk: v })}
          options={RISK_LEVELS.map((r) => ({ value: r, label: r }))}
        />
        {can('orgs.read') && (
          <OrgTreeSelect
            style={{ width: 220 }}
            placeholder={t('customers.org')}
            value={orgId}
            onChange={(v) => update({ org: v })}
          />
        )}
      </div>
      <Table<Row>
        rowKey="id"
        data-testid="customers-table"
        size="middle"
        columns={columns}
        dataSource={query.data?.items ?? []}
        loading={query.isFetching}
        scroll={{ x: 1100 }}
        locale={{ emptyText: query.isLoading ? t('app.loading') : t('customers.empty') }}
        pagination={{
          current: page,
          pageSize,
          total: query.data?.total ?? 0,
          showSizeChanger: true,
          pageSizeOptions: [10, 20, 50, 100],
          showTotal: (total) => <span data-testid="customers-total">{t('app.total', { count: total })}</span>,
        }}
        onChange={(pagination, _filters, sorter, extra) => {
          if (extra.action === 'sort') {
            const s = Array.isArray(sorter) ? sorter[0] : sorter;
            const next: Sort = s?.order === 'ascend' ? 'aum' : s?.order === 'descend' ? '-aum' : 'customer_no';
            update({ sort: next === 'customer_no' ? undefined : next });
          } else if (extra.action === 'paginate') {
            update({ page: pagination.current === 1 ? undefined : pagination.current, size: pagination.pageSize === 20 ? undefined : pagination.pageSize }, false);
          }
        }}
      />
    </Card>
  );
}
