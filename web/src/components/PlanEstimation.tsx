import { useMemo, useState } from 'react';
import { Alert, Button, Card, Col, Collapse, Empty, List, Row, Space, Spin, Statistic, Table, Tag, Tooltip, Typography } from 'antd';
import { CalculatorOutlined, InfoCircleOutlined } from '@ant-design/icons';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { formatDate, formatFen, formatInt } from '../lib/format';
import EChart, { type ChartOption } from './EChart';
import { useLabel } from './plans/labels';

type Estimate = Schemas['PlanEstimateRead'];
type Similar = Schemas['SimilarCampaign'];
export type EstimateBody = Schemas['PlanEstimateRequest'];

const pct = (rate: number | null | undefined, digits = 2) => (rate == null ? '-' : `${(rate * 100).toFixed(digits)}%`);

/**
 * The estimation panel (活动测算, C2) of the plan editor: similar past campaigns with why they are similar and
 * their results, the model's predicted conversion with its held-out error, and the budget / expectation check.
 * A saved plan is estimated on load; "estimate the form" sends the unsaved values.
 */
export default function PlanEstimation({ planId, formValues }: { planId: number | null; formValues: () => EstimateBody }) {
  const { t, i18n } = useTranslation();
  const en = i18n.language === 'en';
  // The form's estimate is shown until the saved plan's is fetched again (after a save).
  const [formResult, setFormResult] = useState<{ data: Estimate; at: number } | null>(null);
  const saved = useQuery({
    queryKey: ['plans', 'estimate', planId],
    queryFn: () => unwrap(api.GET('/api/plans/{plan_id}/estimate', { params: { path: { plan_id: planId! }, query: { k: 5 } } })),
    enabled: planId != null,
    retry: false,
  });
  const rerun = useMutation({
    mutationFn: () => unwrap(api.POST('/api/plans/estimate', { params: { query: { k: 5 } }, body: formValues() })),
    onSuccess: (data) => setFormResult({ data, at: Date.now() }),
  });
  const fromForm = formResult && formResult.at > saved.dataUpdatedAt ? formResult.data : null;
  const data = fromForm ?? saved.data;
  const error = (rerun.error ?? (fromForm ? null : saved.error)) as unknown;
  const loading = saved.isLoading || rerun.isPending;

  return (
    <Card
      title={<Space><CalculatorOutlined />{t('estimation.title')}</Space>}
      data-testid="estimation-panel"
      extra={
        <Button size="small" onClick={() => rerun.mutate()} loading={rerun.isPending} data-testid="estimation-rerun">
          {t('estimation.rerun')}
        </Button>
      }
    >
      {loading && !data && <Spin style={{ display: 'block', margin: 24 }} />}
      {error != null && (
        <Alert
          type={error instanceof ApiError && error.code === 'insufficient_history' ? 'warning' : 'error'}
          showIcon
          message={errorMessage(error)}
          data-testid="estimation-error"
          style={{ marginBottom: 12 }}
        />
      )}
      {!loading && !data && error == null && <Empty description={t('estimation.empty')} />}
      {data && <EstimateView data={data} en={en} fromForm={fromForm != null} />}
    </Card>
  );
}

function EstimateView({ data, en, fromForm }: { data: Estimate; en: boolean; fromForm: boolean }) {
  const { t } = useTranslation();
  const label = useLabel();
  const { prediction, model, budget, similar_summary: summary } = data;
  const chart = useMemo<ChartOption>(() => {
    const names = data.similar.map((s) => s.code);
    const line = (name: string, value: number | null | undefined, color: string) =>
      value == null
        ? []
        : [{ name, type: 'line' as const, data: names.map(() => +(value * 100).toFixed(2)), symbol: 'none', lineStyle: { type: 'dashed' as const, color }, itemStyle: { color } }];
    return {
      tooltip: { trigger: 'axis', valueFormatter: (v) => `${v}%` },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 48 },
      xAxis: { type: 'category', data: names, axisLabel: { rotate: 20, fontSize: 10 } },
      yAxis: { type: 'value', axisLabel: { formatter: '{value}%' } },
      series: [
        { name: t('estimation.similarRate'), type: 'bar', data: data.similar.map((s) => +(s.conversion_rate * 100).toFixed(2)), itemStyle: { color: '#5B8FF9' } },
        ...line(t('estimation.predicted'), prediction.conversion_rate, '#F6903D'),
        ...line(t('estimation.operatorRate'), budget.operator_conversion_rate, '#E8684A'),
      ],
    } as ChartOption;
  }, [data, prediction.conversion_rate, budget.operator_conversion_rate, t]);

  const explanation = (s: Similar) => (
    <List
      size="small"
      dataSource={s.explanation}
      data-testid="similar-explanation"
      renderItem={(c) => <List.Item style={{ padding: '2px 0', border: 0 }}>{en ? c.detail_en : c.detail_zh}</List.Item>}
      footer={<Typography.Text strong>{t('estimation.scoreSum', { score: s.score.toFixed(2) })}</Typography.Text>}
    />
  );

  return (
    <Space direction="vertical" size={12} style={{ width: '100%' }}>
      {fromForm && <Tag color="blue">{t('estimation.fromForm')}</Tag>}
      <Row gutter={[12, 12]}>
        <Col xs={12} md={6}>
          <Statistic title={t('estimation.predicted')} value={pct(prediction.conversion_rate)} valueStyle={{ color: '#d46b08' }} />
          <Typography.Text type="secondary" data-testid="estimation-predicted">
            {pct(prediction.conversion_rate)} · {t('estimation.interval', { level: Math.round(prediction.level * 100), low: pct(prediction.low), high: pct(prediction.high) })}
          </Typography.Text>
        </Col>
        <Col xs={12} md={6}>
          <Statistic title={t('estimation.similarWeighted')} value={pct(summary.weighted_conversion_rate)} />
          <Typography.Text type="secondary">{t('estimation.similarBest', { rate: pct(summary.max_conversion_rate) })}</Typography.Text>
        </Col>
        <Col xs={12} md={6}>
          <Statistic title={t('estimation.predictedResponses')} value={formatInt(budget.predicted_responses)} />
          <Typography.Text type="secondary">{t('estimation.reach', { reach: formatInt(budget.reach) })}</Typography.Text>
        </Col>
        <Col xs={12} md={6}>
          <Statistic title={t('estimation.costPerResponse')} value={formatFen(budget.cost_per_response_fen)} />
          <Typography.Text type="secondary">{t('estimation.similarCost', { cost: formatFen(budget.similar_cost_per_response_fen) })}</Typography.Text>
        </Col>
      </Row>
      {budget.operator_conversion_rate != null && (
        <Typography.Text data-testid="estimation-operator">
          {t('estimation.operatorLine', { rate: pct(budget.operator_conversion_rate), responses: formatInt(budget.operator_responses) })}
          {budget.operator_source === 'text' && ` (${t('estimation.fromText')})`}
        </Typography.Text>
      )}
      <div data-testid="estimation-flags">
        {data.flags.length === 0 ? (
          <Alert type="success" showIcon message={t('estimation.noFlags')} />
        ) : (
          data.flags.map((f) => (
            <Alert key={f.code} type={f.level === 'warning' ? 'warning' : 'info'} showIcon message={en ? f.message_en : f.message_zh} style={{ marginBottom: 6 }} data-testid={`flag-${f.code}`} />
          ))
        )}
      </div>
      {data.similar.length > 0 && <EChart option={chart} height={240} testId="estimation-chart" />}
      <Table<Similar>
        size="small"
        rowKey="campaign_id"
        pagination={false}
        dataSource={data.similar}
        data-testid="estimation-similar"
        scroll={{ x: 900 }}
        expandable={{ expandedRowRender: explanation }}
        columns={[
          {
            title: t('estimation.campaign'),
            key: 'name',
            render: (_, s) => (
              <Space direction="vertical" size={0}>
                <Typography.Text strong>{s.name}</Typography.Text>
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {s.code} · {formatDate(s.start_date)} ~ {formatDate(s.end_date)} · {en ? s.owner_org_name_en || s.owner_org_name : s.owner_org_name}
                </Typography.Text>
                <Space size={2} wrap>
                  <Tag>{label('stages', s.lifecycle_stage)}</Tag>
                  <Tag>{label('modes', s.mode)}</Tag>
                  {s.channels.map((c) => <Tag key={c} color="blue">{label('channelNames', c)}</Tag>)}
                </Space>
              </Space>
            ),
          },
          {
            title: t('estimation.score'),
            dataIndex: 'score',
            width: 110,
            render: (score: number, s) => (
              <Tooltip title={explanation(s)}>
                <Tag color={score >= 0.8 ? 'green' : score >= 0.5 ? 'gold' : 'default'} data-testid="similar-score">
                  {score.toFixed(2)} <InfoCircleOutlined />
                </Tag>
              </Tooltip>
            ),
          },
          { title: t('estimation.sent'), dataIndex: 'sent', align: 'right', render: (v: number) => formatInt(v) },
          { title: t('estimation.conversion'), dataIndex: 'conversion_rate', align: 'right', render: (v: number) => pct(v) },
          {
            title: t('estimation.lift'),
            dataIndex: 'lift_pp',
            align: 'right',
            render: (v: number | null) => (v == null ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(2)} pp`),
          },
          { title: t('estimation.cost'), dataIndex: 'cost_fen', align: 'right', render: (v: number) => formatFen(v) },
          { title: t('estimation.roi'), dataIndex: 'roi', align: 'right', render: (v: string | null) => (v == null ? '-' : `${(Number(v) * 100).toFixed(1)}%`) },
        ]}
      />
      <Collapse
        size="small"
        items={[
          {
            key: 'model',
            label: (
              <span data-testid="estimation-model-error">
                {t('estimation.modelError', { mae: model.mae_pp.toFixed(2), baseline: model.baseline_mae_pp.toFixed(2), train: model.n_train, test: model.n_test })}
              </span>
            ),
            children: (
              <Space direction="vertical" style={{ width: '100%' }}>
                <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>{en ? model.description_en : model.description_zh}</Typography.Paragraph>
                {prediction.imputed.length > 0 && (
                  <Typography.Text type="secondary">
                    {t('estimation.imputed', { features: prediction.imputed.map((x) => (en ? x.label_en : x.label_zh)).join(en ? ', ' : '、') })}
                  </Typography.Text>
                )}
                <Table
                  size="small"
                  rowKey="name"
                  pagination={{ pageSize: 8, size: 'small' }}
                  dataSource={model.features}
                  data-testid="estimation-model-features"
                  columns={[
                    { title: t('estimation.feature'), key: 'label', render: (_, f) => (en ? f.label_en : f.label_zh) },
                    { title: t('estimation.coefficient'), dataIndex: 'coefficient', align: 'right', render: (v: number) => v.toFixed(3) },
                    { title: t('estimation.oddsRatio'), dataIndex: 'odds_ratio', align: 'right', render: (v: number) => `×${v.toFixed(2)}` },
                  ]}
                />
              </Space>
            ),
          },
        ]}
      />
    </Space>
  );
}
