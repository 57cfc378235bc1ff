import { useMemo } from 'react';
import { Col, Empty, Row, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import EChart, { type ChartOption } from '../EChart';
import type { Schemas } from '../../api/client';
import { label } from './catalog';

type Items = Schemas['BreakdownItem'][];

/** The audience by branch (bar) and by lifecycle stage (pie). */
export default function BreakdownCharts({ breakdown }: { breakdown: Record<string, Items> | undefined }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const branches = breakdown?.branch ?? [];
  const stages = breakdown?.lifecycle_stage ?? [];

  const bar = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'axis' },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', inverse: true, data: branches.map((b) => label(b, lang)) },
      series: [{ type: 'bar', name: t('audiences.builder.customers'), data: branches.map((b) => b.count), itemStyle: { color: '#1d4ed8' } }],
    }),
    [branches, lang, t],
  );
  const pie = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
      legend: { bottom: 0, type: 'scroll' },
      series: [
        {
          type: 'pie',
          radius: ['35%', '65%'],
          center: ['50%', '45%'],
          data: stages.map((s) => ({ name: label(s, lang), value: s.count })),
          label: { formatter: '{b}\n{c}' },
        },
      ],
    }),
    [stages, lang],
  );

  return (
    <Row gutter={16}>
      <Col xs={24} lg={12}>
        <Typography.Text strong>{t('audiences.builder.byBranch')}</Typography.Text>
        {branches.length ? <EChart option={bar} height={Math.max(180, branches.length * 28 + 40)} testId="chart-branch" /> : <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />}
      </Col>
      <Col xs={24} lg={12}>
        <Typography.Text strong>{t('audiences.builder.byStage')}</Typography.Text>
        {stages.length ? <EChart option={pie} height={240} testId="chart-stage" /> : <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} />}
      </Col>
    </Row>
  );
}
