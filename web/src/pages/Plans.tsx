import { useState } from 'react';
import { Button, Card, Empty, Input, List, Select, Space, Table, Tabs, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../api/client';
import { useAuth } from '../auth/AuthContext';
import { PlanStatusTag, STAGES, STATUSES, useLabel, type Plan, type PlanStatus } from '../components/plans/labels';
import { formatDate, formatDateTime, formatFenShort } from '../lib/format';
import { orgName } from '../lib/names';

/** Campaign needs and plans (营销活动需求 / 活动方案): list with filters, and full-text search of the archive. */
export default function PlansPage() {
  const { t } = useTranslation();
  return (
    <Card>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t('plans.title')}
      </Typography.Title>
      <Tabs
        items={[
          { key: 'list', label: t('plans.listTab'), children: <PlanList /> },
          { key: 'search', label: t('plans.searchTab'), children: <ArchiveSearch /> },
        ]}
      />
    </Card>
  );
}

function PlanList() {
  const { t, i18n } = useTranslation();
  const { can } = useAuth();
  const navigate = useNavigate();
  const label = useLabel();
  const [draft, setDraft] = useState('');
  const [q, setQ] = useState('');
  const [status, setStatus] = useState<PlanStatus | undefined>();
  const [stage, setStage] = useState<(typeof STAGES)[number] | undefined>();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);

  const plans = useQuery({
    queryKey: ['plans', 'list', { q, status, stage, page, pageSize }],
    queryFn: () =>
      unwrap(
        api.GET('/api/plans', {
          params: { query: { q: q || undefined, status, lifecycle_stage: stage, page, page_size: pageSize } },
        }),
      ),
    placeholderData: keepPreviousData,
  });

  const columns: TableProps<Plan>['columns'] = [
    {
      title: t('plans.planTitle'),
      dataIndex: 'title',
      render: (title: string, p) => (
        <Space size={4}>
          <Link to={`/plans/${p.id}`} data-testid="plan-link">
            {title}
          </Link>
          {p.source_type && <Tag color="purple">{t('plans.fromAlert')}</Tag>}
        </Space>
      ),
    },
    { title: t('plans.status'), dataIndex: 'status', width: 110, render: (s: PlanStatus) => <PlanStatusTag status={s} /> },
    { title: t('plans.lifecycleStage'), dataIndex: 'lifecycle_stage', width: 120, render: (s: string | null) => label('stages', s) },
    {
      title: t('plans.ownerOrg'),
      key: 'org',
      width: 140,
      render: (_: unknown, p) => orgName({ name: p.owner_org_name ?? '-', name_en: p.owner_org_name_en }, i18n.language),
    },
    { title: t('plans.budgetShort'), dataIndex: 'budget_fen', width: 130, align: 'right', render: (v: number | null) => formatFenShort(v) },
    {
      title: t('plans.dates'),
      key: 'dates',
      width: 200,
      render: (_: unknown, p) => (p.start_date ? `${formatDate(p.start_date)} ~ ${formatDate(p.end_date)}` : '-'),
    },
    { title: t('plans.version'), dataIndex: 'version', width: 70, render: (v: number) => `v${v}` },
    { title: t('plans.updatedAt'), dataIndex: 'updated_at', width: 170, render: formatDateTime },
  ];

  return (
    <>
      <div className="ol-toolbar">
        <Input.Search
          allowClear
          enterButton
          style={{ width: 260 }}
          placeholder={t('plans.searchPlaceholder')}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onSearch={(v) => {
            setQ(v.trim());
            setPage(1);
          }}
        />
        <Select<PlanStatus>
          allowClear
          style={{ width: 140 }}
          placeholder={t('plans.status')}
          value={status}
          options={STATUSES.map((s) => ({ value: s, label: t(`plans.statuses.${s}`) }))}
          onChange={(v) => {
            setStatus(v);
            setPage(1);
          }}
        />
        <Select
          allowClear
          style={{ width: 160 }}
          placeholder={t('plans.lifecycleStage')}
          value={stage}
          options={STAGES.map((s) => ({ value: s, label: label('stages', s) }))}
          onChange={(v) => {
            setStage(v);
            setPage(1);
          }}
        />
        <div style={{ flex: 1 }} />
        {can('plans.manage') && (
          <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate('/plans/new')} data-testid="plan-create">
            {t('plans.create')}
          </Button>
        )}
      </div>
      <Table<Plan>
        rowKey="id"
        size="middle"
        data-testid="plans-table"
        columns={columns}
        dataSource={plans.data?.items ?? []}
        loading={plans.isFetching}
        locale={{ emptyText: <Empty description={t('plans.empty')} /> }}
        scroll={{ x: 1100 }}
        pagination={{
          current: page,
          pageSize,
          total: plans.data?.total ?? 0,
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

/** Highlight the matched terms inside a snippet. */
function Highlighted({ text, terms }: { text: string; terms: string[] }) {
  const sorted = [...terms].filter(Boolean).sort((a, b) => b.length - a.length);
  if (!sorted.length) return <>{text}</>;
  const escaped = sorted.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const parts = text.split(new RegExp(`(${escaped.join('|')})`, 'gi'));
  return (
    <>
      {parts.map((part, i) =>
        sorted.some((s) => s.toLowerCase() === part.toLowerCase()) ? <mark key={i}>{part}</mark> : <span key={i}>{part}</span>,
      )}
    </>
  );
}

function ArchiveSearch() {
  const { t } = useTranslation();
  const [draft, setDraft] = useState('');
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const results = useQuery({
    queryKey: ['plans', 'search', { q, page }],
    queryFn: () => unwrap(api.GET('/api/plans/search', { params: { query: { q, page, page_size: 10 } } })),
    enabled: q.length > 0,
    placeholderData: keepPreviousData,
  });
  return (
    <>
      <Input.Search
        allowClear
        enterButton={t('app.search')}
        style={{ maxWidth: 640, marginBottom: 16 }}
        placeholder={t('plans.archivePlaceholder')}
        value={draft}
        data-testid="plan-archive-search"
        onChange={(e) => setDraft(e.target.value)}
        onSearch={(v) => {
          setQ(v.trim());
          setPage(1);
        }}
      />
      {q && (
        <List
          loading={results.isFetching}
          dataSource={results.data?.items ?? []}
          locale={{ emptyText: <Empty description={t('plans.archiveEmpty')} /> }}
          pagination={{ current: page, pageSize: 10, total: results.data?.total ?? 0, onChange: setPage, hideOnSinglePage: true }}
          renderItem={(hit) => (
            <List.Item key={hit.plan.id} extra={<Typography.Text type="secondary">{t('plans.score')} {hit.score.toFixed(2)}</Typography.Text>}>
              <List.Item.Meta
                title={
                  <Space>
                    <Link to={`/plans/${hit.plan.id}`}>
                      <Highlighted text={hit.plan.title} terms={hit.terms} />
                    </Link>
                    <PlanStatusTag status={hit.plan.status} />
                  </Space>
                }
                description={
                  <Space direction="vertical" size={2}>
                    {hit.highlights.map((h, i) => (
                      <Typography.Text key={i} type="secondary">
                        <Highlighted text={h} terms={hit.terms} />
                      </Typography.Text>
                    ))}
                    <span>
                      {t('plans.matched')}:{' '}
                      {hit.terms.map((term) => (
                        <Tag key={term}>{term}</Tag>
                      ))}
                    </span>
                  </Space>
                }
              />
            </List.Item>
          )}
        />
      )}
    </>
  );
}
