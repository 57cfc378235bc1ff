import { useMemo } from 'react';
import { Alert, App, Breadcrumb, Button, Card, Col, Descriptions, Empty, Popconfirm, Result, Row, Skeleton, Space, Statistic, Table, Tag, Tooltip, Typography } from 'antd';
import { ArrowLeftOutlined, EditOutlined, InboxOutlined, PlayCircleOutlined, TagsOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import EChart, { type ChartOption } from '../components/EChart';
import DefinitionView from '../components/tags/DefinitionView';
import ScoreUpload from '../components/tags/ScoreUpload';
import TagExport from '../components/tags/TagExport';
import { useActiveRuns, useRunTags } from '../components/tags/hooks';
import { RunStatusTag, formatDuration, formatShare, useTagLabels } from '../components/tags/labels';
import { formatDateTime, formatInt } from '../lib/format';

type Detail = Schemas['TagDetail'];
type RunLog = Schemas['TagRunLogItem'];
type CampaignUse = Schemas['CampaignUse'];
type AudienceUse = Schemas['AudienceUse'];

/** Whose customers the numbers count: the bank (head office), the caller's org subtree or an RM's own. */
function ScopeTag({ tag }: { tag: Detail }) {
  const { t, i18n } = useTranslation();
  const org = (i18n.language === 'en' ? tag.scope_org_name_en : null) || tag.scope_org_name || '';
  const text = tag.scope === 'bank' ? t('tags.detail.scopeBank') : tag.scope === 'assigned' ? t('tags.detail.scopeAssigned') : t('tags.detail.scopeOrg', { org });
  return (
    <Tooltip title={tag.scope === 'bank' ? undefined : t('tags.detail.scopeHint')}>
      <Tag color={tag.scope === 'bank' ? 'blue' : 'gold'} data-testid="detail-scope">
        {text}
      </Tag>
    </Tooltip>
  );
}

/** Saved audiences and campaigns that use the tag (a campaign that has not finished blocks archiving). */
function UsageCard({ tag }: { tag: Detail }) {
  const { t } = useTranslation();
  const { audiences, campaigns } = tag.used_by;
  if (!audiences.length && !campaigns.length) {
    return (
      <Card title={t('tags.detail.usage')}>
        <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('tags.detail.noUsage')} />
      </Card>
    );
  }
  return (
    <Card title={t('tags.detail.usage')}>
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={10}>
          <Typography.Title level={5}>{t('tags.detail.usedAudiences', { n: audiences.length })}</Typography.Title>
          <Table<AudienceUse>
            size="small"
            rowKey="id"
            pagination={{ pageSize: 5, hideOnSinglePage: true }}
            dataSource={audiences}
            data-testid="tag-used-audiences"
            columns={[
              { title: t('tags.detail.audience'), dataIndex: 'name', render: (name: string, a) => <Link to={`/audiences/${a.id}`}>{name}</Link> },
              {
                title: t('tags.detail.how'),
                key: 'how',
                width: 150,
                render: (_, a) => (
                  <Space size={4}>
                    {a.direct ? t('tags.detail.direct') : t('tags.detail.indirect')}
                    {a.archived && <Tag>{t('tags.statuses.archived')}</Tag>}
                  </Space>
                ),
              },
            ]}
          />
        </Col>
        <Col xs={24} lg={14}>
          <Typography.Title level={5}>{t('tags.detail.usedCampaigns', { n: campaigns.length })}</Typography.Title>
          <Table<CampaignUse>
            size="small"
            rowKey="id"
            pagination={{ pageSize: 5, hideOnSinglePage: true }}
            dataSource={campaigns}
            data-testid="tag-used-campaigns"
            locale={{ emptyText: t('tags.detail.noCampaigns') }}
            columns={[
              { title: t('plans.campaign.code'), dataIndex: 'code', width: 140 },
              { title: t('plans.campaign.name'), dataIndex: 'name' },
              {
                title: t('plans.campaign.status'),
                dataIndex: 'status',
                width: 100,
                render: (s: string, c) => <Tag color={c.finished ? undefined : 'processing'}>{t(`tags.campaignStatuses.${s}` as never, { defaultValue: s }) as string}</Tag>,
              },
              {
                title: t('tags.detail.how'),
                key: 'via',
                render: (_, c) => (c.via === 'filters' ? t('tags.detail.viaFilters') : c.audience_name ? t('tags.detail.viaAudience', { name: c.audience_name }) : t('tags.detail.viaFilters')),
              },
            ]}
          />
        </Col>
      </Row>
    </Card>
  );
}

function useCharts(tag: Detail | undefined) {
  const { t } = useTranslation();
  const labels = useTagLabels();
  return useMemo(() => {
    const dist = tag?.distribution ?? [];
    const distribution: ChartOption = {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', inverse: true, data: dist.map((d) => labels.label(d, String(d.value))) },
      series: [
        {
          name: t('tags.fields.customers'),
          type: 'bar',
          barMaxWidth: 22,
          itemStyle: { borderRadius: [0, 3, 3, 0] },
          label: { show: true, position: 'right', formatter: (p) => formatInt(Number(p.value)) },
          data: dist.map((d) => ({ value: d.customers, itemStyle: d.value === null ? { color: '#d9d9d9' } : undefined })),
        },
      ],
    };
    const history = tag?.coverage_history ?? [];
    const coverage: ChartOption = {
      tooltip: { trigger: 'axis' },
      grid: { left: 56, right: 24, top: 24, bottom: 28 },
      xAxis: { type: 'category', boundaryGap: false, data: history.map((p) => `#${p.run_id} ${formatDateTime(p.at).slice(5, 16)}`) },
      yAxis: { type: 'value', minInterval: 1, name: t('tags.fields.customers') },
      series: [
        {
          name: t('tags.fields.coverage'),
          type: 'line',
          smooth: true,
          symbolSize: 6,
          areaStyle: { opacity: 0.1 },
          connectNulls: true,
          data: history.map((p) => p.coverage),
        },
      ],
    };
    return { distribution, coverage };
  }, [tag, t, labels]);
}

/** A tag's detail: definition, distribution, coverage history, run log, export; edit for tags.manage. */
export default function TagDetailPage() {
  const { tagId = '' } = useParams();
  const id = Number(tagId);
  const { t } = useTranslation();
  const { can } = useAuth();
  const manage = can('tags.manage');
  const labels = useTagLabels();
  const navigate = useNavigate();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const activeRuns = useActiveRuns();
  const runTags = useRunTags();

  const query = useQuery({
    queryKey: ['tags', 'detail', id],
    queryFn: () => unwrap(api.GET('/api/tags/{tag_id}', { params: { path: { tag_id: id } } })),
    enabled: Number.isInteger(id) && id > 0,
  });
  const charts = useCharts(query.data);
  const archive = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/tags/{tag_id}', { params: { path: { tag_id: id } } })),
    onSuccess: () => {
      void message.success(t('tags.list.archivedOk'));
      void queryClient.invalidateQueries({ queryKey: ['tags'] });
    },
    onError: (err) => void message.error(errorMessage(err)),
  });

  const header = (
    <Space style={{ marginBottom: 16 }} align="center">
      <Button icon={<ArrowLeftOutlined />} onClick={() => navigate('/tags')} aria-label={t('app.back')} />
      <Breadcrumb items={[{ title: <Link to="/tags">{t('tags.list.title')}</Link> }, { title: query.data ? labels.name(query.data) : t('tags.detail.title') }]} />
    </Space>
  );
  if (query.isLoading) {
    return (
      <>
        {header}
        <Card>
          <Skeleton active paragraph={{ rows: 8 }} />
        </Card>
      </>
    );
  }
  if (query.error || !query.data) {
    const notFound = !(Number.isInteger(id) && id > 0) || (query.error instanceof ApiError && query.error.status === 404);
    return (
      <>
        {header}
        <Result
          status={notFound ? '404' : 'error'}
          title={notFound ? t('tags.detail.notFound') : t('app.loadFailed')}
          subTitle={notFound ? undefined : errorMessage(query.error)}
          extra={<Button onClick={() => navigate('/tags')}>{t('app.back')}</Button>}
        />
      </>
    );
  }

  const tag = query.data;
  const running = activeRuns.find((r) => !r.tag_ids || r.tag_ids.includes(tag.id));
  const covered = tag.coverage ?? null;
  const total = tag.total_customers ?? null;
  const blocking = tag.used_by.campaigns.filter((c) => !c.finished);

  const runColumns = [
    {
      title: t('tags.runs.id'),
      dataIndex: 'run_id',
      width: 80,
      render: (rid: number) => <Link to={`/tag-runs?run=${rid}`}>#{rid}</Link>,
    },
    { title: t('tags.runs.tagResult'), dataIndex: 'status', width: 110, render: (s: string) => <RunStatusTag status={s} testId="tag-run-status" /> },
    { title: t('tags.runs.trigger'), dataIndex: 'trigger', width: 90, render: (s: string) => labels.trigger(s) },
    { title: t('tags.runs.startedAt'), dataIndex: 'started_at', width: 170, render: formatDateTime },
    { title: t('tags.runs.duration'), dataIndex: 'duration_ms', width: 100, render: formatDuration },
    { title: t('tags.fields.coverage'), dataIndex: 'coverage', width: 100, align: 'right' as const, render: formatInt },
    { title: t('tags.runs.changed'), dataIndex: 'changed', width: 100, align: 'right' as const, render: formatInt },
    { title: t('tags.fields.version'), dataIndex: 'definition_version', width: 80, render: (v: number | null) => (v ? `v${v}` : '-') },
    {
      title: t('tags.runs.error'),
      dataIndex: 'error',
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
  ];

  return (
    <>
      {header}
      <Row gutter={[16, 16]}>
        <Col span={24}>
          <Card
            title={
              <Space wrap>
                <TagsOutlined />
                <span data-testid="tag-title">{labels.name(tag)}</span>
                <Typography.Text type="secondary" copyable={{ text: tag.code }}>
                  {tag.code}
                </Typography.Text>
                <Tag color={labels.categoryColor(tag.category)}>{labels.category(tag.category)}</Tag>
                {tag.system && <Tag color="purple">{t('tags.list.system')}</Tag>}
                {tag.status === 'archived' && <Tag>{t('tags.statuses.archived')}</Tag>}
              </Space>
            }
            extra={
              <Space wrap>
                {manage && tag.status === 'active' && (
                  <Button
                    icon={<PlayCircleOutlined />}
                    loading={runTags.isPending}
                    disabled={!!running}
                    onClick={() => runTags.mutate([tag.id])}
                    data-testid="tag-run"
                  >
                    {t('tags.actions.run')}
                  </Button>
                )}
                {manage && (
                  <Button type="primary" icon={<EditOutlined />} onClick={() => navigate(`/tags/${tag.id}/edit`)} data-testid="tag-edit">
                    {t('tags.actions.edit')}
                  </Button>
                )}
                {manage && tag.source === 'model_score' && <ScoreUpload tagId={tag.id} />}
                {can('tags.export') && tag.last_run_id && <TagExport tag={tag} />}
                {manage && !tag.system && tag.status === 'active' && blocking.length > 0 && (
                  <Tooltip title={t('tags.list.archiveBlocked', { n: blocking.length })}>
                    <Button danger icon={<InboxOutlined />} disabled data-testid="tag-archive-blocked">
                      {t('tags.actions.archive')}
                    </Button>
                  </Tooltip>
                )}
                {manage && !tag.system && tag.status === 'active' && blocking.length === 0 && (
                  <Popconfirm
                    title={t('tags.list.archiveConfirm')}
                    description={tag.usage ? t('tags.list.archiveUsed', { n: tag.usage }) : undefined}
                    okText={t('app.confirm')}
                    cancelText={t('app.cancel')}
                    onConfirm={() => archive.mutate()}
                  >
                    <Button danger icon={<InboxOutlined />}>
                      {t('tags.actions.archive')}
                    </Button>
                  </Popconfirm>
                )}
              </Space>
            }
          >
            {running && (
              <Alert
                type="info"
                showIcon
                style={{ marginBottom: 16 }}
                data-testid="tag-running"
                message={
                  <Link to={`/tag-runs?run=${running.id}`}>
                    {t('tags.runs.inProgress', { id: running.id, pct: Math.round((running.progress ?? 0) * 100) })}
                    {running.progress_message ? ` · ${running.progress_message}` : ''}
                  </Link>
                }
              />
            )}
            <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
              <Col xs={12} md={6}>
                <Statistic
                  title={
                    <Space size={4}>
                      {t('tags.fields.coverage')}
                      <ScopeTag tag={tag} />
                    </Space>
                  }
                  valueRender={() => <span data-testid="detail-coverage">{formatInt(covered)}</span>}
                  value={covered ?? 0}
                  suffix={covered !== null && total ? <Typography.Text type="secondary" style={{ fontSize: 14 }}>/ {formatInt(total)}（{formatShare(covered / total)}）</Typography.Text> : undefined}
                />
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('tags.fields.usage')} value={tag.usage} valueRender={() => <span data-testid="detail-usage">{formatInt(tag.usage)}</span>} />
                <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid="detail-campaign-usage">
                  {t('tags.detail.campaignUsage', { n: tag.campaign_usage })}
                </Typography.Text>
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('tags.fields.lastRun')} valueRender={() => <RunStatusTag status={tag.last_run_status} testId="detail-last-run" />} value=" " />
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {formatDateTime(tag.last_run_at)}
                </Typography.Text>
              </Col>
              <Col xs={12} md={6}>
                <Statistic title={t('tags.fields.version')} value={`v${tag.definition_version}`} />
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {tag.tagset_version ? t('tags.detail.tagset', { v: tag.tagset_version }) : t('tags.detail.noTagset')}
                </Typography.Text>
              </Col>
            </Row>
            <Descriptions size="small" column={{ xs: 1, md: 2, xl: 3 }}>
              <Descriptions.Item label={t('tags.fields.nameZh')}>{tag.name_zh}</Descriptions.Item>
              <Descriptions.Item label={t('tags.fields.nameEn')}>{tag.name_en}</Descriptions.Item>
              <Descriptions.Item label={t('tags.fields.source')}>
                {labels.source(tag.source)} · {labels.valueType(tag.value_type)}
              </Descriptions.Item>
              <Descriptions.Item label={t('tags.fields.schedule')}>
                {tag.schedule ? <Typography.Text code>{tag.schedule}</Typography.Text> : t('tags.list.daily')}
              </Descriptions.Item>
              <Descriptions.Item label={t('tags.fields.createdAt')}>{formatDateTime(tag.created_at)}</Descriptions.Item>
              <Descriptions.Item label={t('tags.fields.updatedAt')}>{formatDateTime(tag.updated_at)}</Descriptions.Item>
              {tag.score_file && (
                <Descriptions.Item label={t('tags.scores.file')}>
                  {t('tags.scores.fileInfo', { rows: formatInt(tag.score_file.rows), at: formatDateTime(tag.score_file.uploaded_at) })}
                </Descriptions.Item>
              )}
              <Descriptions.Item label={t('tags.fields.description')} span={3}>
                {tag.description || '-'}
              </Descriptions.Item>
            </Descriptions>
          </Card>
        </Col>
        <Col span={24}>
          <Card title={t('tags.detail.definition')}>
            <DefinitionView source={tag.source} valueType={tag.value_type} definition={tag.definition} />
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card title={t('tags.detail.distribution')} style={{ height: '100%' }}>
            {tag.distribution.length ? (
              <>
                <EChart option={charts.distribution} height={Math.max(160, tag.distribution.length * 36 + 24)} testId="tag-distribution-chart" />
                <Table
                  size="small"
                  rowKey={(d) => String(d.value)}
                  pagination={false}
                  dataSource={tag.distribution}
                  data-testid="tag-distribution"
                  columns={[
                    { title: t('tags.def.value'), key: 'label', render: (_, d) => (d.value === null ? <Typography.Text type="secondary">{labels.label(d)}</Typography.Text> : `${labels.label(d, String(d.value))} (${String(d.value)})`) },
                    { title: t('tags.fields.customers'), dataIndex: 'customers', align: 'right', width: 110, render: formatInt },
                    { title: t('tags.detail.share'), dataIndex: 'share', align: 'right', width: 90, render: formatShare },
                  ]}
                />
              </>
            ) : (
              <Empty description={t('tags.detail.noRuns')} />
            )}
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card title={t('tags.detail.coverageHistory')} style={{ height: '100%' }}>
            {tag.scope !== 'bank' && <Alert type="info" showIcon style={{ marginBottom: 12 }} message={t('tags.detail.scopeHistory')} />}
            {tag.coverage_history.length ? <EChart option={charts.coverage} testId="tag-coverage-chart" /> : <Empty description={t('tags.detail.noRuns')} />}
          </Card>
        </Col>
        <Col span={24}>
          <UsageCard tag={tag} />
        </Col>
        <Col span={24}>
          <Card title={t('tags.detail.runLog')} extra={<Link to="/tag-runs">{t('tags.detail.allRuns')}</Link>}>
            <Table<RunLog>
              size="small"
              rowKey="run_id"
              data-testid="tag-run-log"
              dataSource={tag.runs}
              columns={runColumns}
              pagination={{ pageSize: 10, hideOnSinglePage: true }}
              scroll={{ x: 1000 }}
              locale={{ emptyText: t('tags.detail.noRuns') }}
            />
          </Card>
        </Col>
      </Row>
    </>
  );
}
