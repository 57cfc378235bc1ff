import { useMemo } from 'react';
import { Alert, Button, Card, Col, Empty, Row, Skeleton, Space, Statistic, Table, Typography } from 'antd';
import { EditOutlined, RightOutlined } from '@ant-design/icons';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { useAuth } from '../auth/AuthContext';
import EChart, { type ChartOption } from '../components/EChart';
import DefinitionView from '../components/tags/DefinitionView';
import { useActiveRuns } from '../components/tags/hooks';
import { formatShare, useTagLabels } from '../components/tags/labels';
import { fenToWan, formatDate, formatFen, formatFenShort, formatInt } from '../lib/format';

type Bucket = Schemas['LifecycleBucket'];

const STAGE_COLORS = ['#94a3b8', '#60a5fa', '#1d4ed8', '#0f766e', '#f59e0b', '#d4d4d8'];
const STATUS_COLORS = ['#22c55e', '#3b82f6', '#1d4ed8', '#f97316', '#9ca3af', '#d4d4d8'];

/** Customers and MAU as bars, AUM (万元) as a line on its own axis: the two tracks side by side. */
function useTrackOption(buckets: Bucket[], colors: string[]) {
  const { t } = useTranslation();
  const labels = useTagLabels();
  return useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 56, right: 64, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: buckets.map((b) => labels.label(b, String(b.value ?? '-'))) },
      yAxis: [
        { type: 'value', minInterval: 1, name: t('tags.lifecycle.people') },
        { type: 'value', name: t('tags.lifecycle.aumWan'), splitLine: { show: false } },
      ],
      series: [
        {
          name: t('tags.lifecycle.customers'),
          type: 'bar',
          barMaxWidth: 28,
          data: buckets.map((b, i) => ({ value: b.customers, itemStyle: { color: colors[i % colors.length] } })),
        },
        { name: 'MAU', type: 'bar', barMaxWidth: 28, itemStyle: { color: '#13a8a8' }, data: buckets.map((b) => b.mau) },
        { name: t('tags.lifecycle.aum'), type: 'line', yAxisIndex: 1, symbolSize: 7, itemStyle: { color: '#d97706' }, data: buckets.map((b) => fenToWan(b.aum_fen)) },
      ],
    }),
    [buckets, colors, t, labels],
  );
}

function Track({ title, buckets, total, colors, testId, arrows }: { title: string; buckets: Bucket[]; total: number; colors: string[]; testId: string; arrows?: boolean }) {
  const { t } = useTranslation();
  const labels = useTagLabels();
  const option = useTrackOption(buckets, colors);
  return (
    <Card title={title} data-testid={testId}>
      {arrows && (
        <Space wrap size={4} style={{ marginBottom: 12 }}>
          {buckets
            .filter((b) => b.value !== null)
            .map((b, i, all) => (
              <Space key={String(b.value)} size={4}>
                <span style={{ padding: '2px 10px', borderRadius: 12, background: colors[i % colors.length], color: '#fff', fontSize: 12 }}>
                  {labels.label(b, String(b.value))} · {formatInt(b.customers)}
                </span>
                {i < all.length - 1 && <RightOutlined style={{ color: '#94a3b8', fontSize: 10 }} />}
              </Space>
            ))}
        </Space>
      )}
      <EChart option={option} height={300} testId={`${testId}-chart`} />
      <Table<Bucket>
        size="small"
        rowKey={(b) => String(b.value)}
        pagination={false}
        dataSource={buckets}
        style={{ marginTop: 12 }}
        columns={[
          { title: t('tags.lifecycle.stage'), key: 'label', render: (_, b) => labels.label(b, String(b.value ?? '-')) },
          { title: t('tags.lifecycle.customers'), dataIndex: 'customers', align: 'right', render: (n: number) => <span data-testid="lifecycle-count">{formatInt(n)}</span> },
          { title: t('tags.lifecycle.share'), key: 'share', align: 'right', render: (_, b) => formatShare(total ? b.customers / total : null) },
          { title: 'MAU', dataIndex: 'mau', align: 'right', render: formatInt },
          { title: t('tags.lifecycle.mauRate'), key: 'mauRate', align: 'right', render: (_, b) => formatShare(b.customers ? b.mau / b.customers : null) },
          { title: t('tags.lifecycle.aum'), dataIndex: 'aum_fen', align: 'right', render: (v: number) => <span title={formatFen(v)}>{formatFenShort(v)}</span> },
          { title: t('tags.lifecycle.avgAum'), key: 'avg', align: 'right', render: (_, b) => (b.customers ? formatFenShort(Math.round(b.aum_fen / b.customers)) : '-') },
        ]}
      />
    </Card>
  );
}

/** The lifecycle rules: the two system tags' definitions, with a link to their editor. */
function Rules() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const navigate = useNavigate();
  const labels = useTagLabels();
  const tags = useQuery({
    queryKey: ['tags', 'list', { category: 'lifecycle', all: true }],
    queryFn: () => unwrap(api.GET('/api/tags', { params: { query: { category: 'lifecycle', page: 1, page_size: 50 } } })),
  });
  const system = (tags.data?.items ?? []).filter((tg) => tg.code === 'lifecycle_stage' || tg.code === 'lifecycle_status');
  if (tags.isLoading) return <Skeleton active />;
  if (!system.length) return <Empty description={t('tags.lifecycle.noRules')} />;
  return (
    <Row gutter={[16, 16]}>
      {system.map((tg) => (
        <Col xs={24} xl={12} key={tg.id}>
          <Card
            size="small"
            title={
              <Link to={`/tags/${tg.id}`}>
                {labels.name(tg)} <Typography.Text type="secondary">({tg.code})</Typography.Text>
              </Link>
            }
            extra={
              can('tags.manage') && (
                <Button size="small" icon={<EditOutlined />} onClick={() => navigate(`/tags/${tg.id}/edit`)} data-testid={`edit-${tg.code}`}>
                  {t('tags.lifecycle.editRules')}
                </Button>
              )
            }
          >
            <DefinitionView source={tg.source} valueType={tg.value_type} definition={tg.definition} />
          </Card>
        </Col>
      ))}
    </Row>
  );
}

/** 生命周期: counts, MAU and AUM per stage (获客 → 推荐) and per status (新客 … 沉睡) in the user's scope. */
export default function LifecyclePage() {
  const { t } = useTranslation();
  useActiveRuns();
  const query = useQuery({
    queryKey: ['lifecycle', 'overview'],
    queryFn: () => unwrap(api.GET('/api/lifecycle/overview')),
  });
  const data = query.data;
  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <Card>
        <Typography.Title level={4} className="ol-page-title">
          {t('tags.lifecycle.title')}
        </Typography.Title>
        {query.isLoading ? (
          <Skeleton active />
        ) : data ? (
          <>
            {data.tagset_version === null && <Alert type="info" showIcon style={{ marginBottom: 16 }} message={t('tags.lifecycle.noTagset')} />}
            <Row gutter={16}>
              <Col xs={12} md={6}>
                <Statistic title={t('tags.lifecycle.totalCustomers')} value={formatInt(data.total_customers)} />
              </Col>
              <Col xs={12} md={6}>
                <Statistic title="MAU" value={formatInt(data.total_mau)} suffix={<Typography.Text type="secondary" style={{ fontSize: 14 }}>{formatShare(data.total_customers ? data.total_mau / data.total_customers : null)}</Typography.Text>} />
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('tags.lifecycle.totalAum')} value={formatFenShort(data.total_aum_fen)} />
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('tags.lifecycle.asOf')} value={formatDate(data.as_of)} suffix={data.tagset_version ? <Typography.Text type="secondary" style={{ fontSize: 14 }}>v{data.tagset_version}</Typography.Text> : undefined} />
              </Col>
            </Row>
          </>
        ) : null}
      </Card>
      {data && (
        <Row gutter={[16, 16]}>
          <Col xs={24} xxl={12}>
            <Track title={t('tags.lifecycle.stageTrack')} buckets={data.stages} total={data.total_customers} colors={STAGE_COLORS} testId="lifecycle-stages" arrows />
          </Col>
          <Col xs={24} xxl={12}>
            <Track title={t('tags.lifecycle.statusTrack')} buckets={data.statuses} total={data.total_customers} colors={STATUS_COLORS} testId="lifecycle-statuses" />
          </Col>
        </Row>
      )}
      <Card title={t('tags.lifecycle.rules')}>
        <Typography.Paragraph type="secondary">{t('tags.lifecycle.rulesHint')}</Typography.Paragraph>
        <Rules />
      </Card>
    </Space>
  );
}
