import { useEffect, useState } from 'react';
import { Card, Empty, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { useLabel } from '../components/plans/labels';
import { formatDateTime, formatFen } from '../lib/format';

type Change = Schemas['FieldChange'];
const GROUP: Record<string, 'stages' | 'lines' | 'channelNames' | 'benefitTypes' | 'modes'> = {
  lifecycle_stage: 'stages',
  business_line: 'lines',
  channels: 'channelNames',
  benefit_type: 'benefitTypes',
  mode: 'modes',
};

/** Two versions of a plan side by side, field by field (版本比对). */
export default function PlanVersionsPage() {
  const { planId } = useParams();
  const id = Number(planId);
  const { t, i18n } = useTranslation();
  const label = useLabel();
  const [from, setFrom] = useState<number>();
  const [to, setTo] = useState<number>();
  const [onlyChanged, setOnlyChanged] = useState(false);

  const plan = useQuery({
    queryKey: ['plans', 'one', id],
    queryFn: () => unwrap(api.GET('/api/plans/{plan_id}', { params: { path: { plan_id: id } } })),
  });
  const versions = useQuery({
    queryKey: ['plans', 'versions', id],
    queryFn: () => unwrap(api.GET('/api/plans/{plan_id}/versions', { params: { path: { plan_id: id } } })),
  });
  useEffect(() => {
    const list = versions.data ?? [];
    if (list.length && to === undefined) {
      setTo(list[0].version);
      setFrom(list[Math.min(1, list.length - 1)].version);
    }
  }, [versions.data, to]);
  const comparison = useQuery({
    queryKey: ['plans', 'compare', id, from, to],
    queryFn: () =>
      unwrap(
        api.GET('/api/plans/{plan_id}/versions/compare', {
          params: { path: { plan_id: id }, query: { from_version: from!, to_version: to! } },
        }),
      ),
    enabled: from !== undefined && to !== undefined,
  });

  const show = (field: string, value: unknown) => {
    if (value === null || value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) return '-';
    if (field === 'budget_fen') return formatFen(Number(value));
    if (field === 'expected_conversion_rate') return `${(Number(value) * 100).toFixed(2)}%`;
    if (GROUP[field]) return Array.isArray(value) ? value.map((v) => label(GROUP[field], String(v))).join('、') : label(GROUP[field], String(value));
    if (Array.isArray(value)) return value.join('、');
    return String(value);
  };
  const options = (versions.data ?? []).map((v) => ({
    value: v.version,
    label: `v${v.version} · ${v.frozen ? t('plans.frozen') : t('plans.draftVersion')} · ${formatDateTime(v.created_at)}${v.note ? ` · ${v.note}` : ''}`,
  }));
  const rows = (comparison.data?.fields ?? []).filter((f) => !onlyChanged || f.changed);

  return (
    <Card>
      <Space direction="vertical" style={{ width: '100%' }} size={16}>
        <Space style={{ justifyContent: 'space-between', width: '100%' }}>
          <Typography.Title level={4} style={{ margin: 0 }}>
            {t('plans.versions')} · <Link to={`/plans/${id}`}>{plan.data?.title}</Link>
          </Typography.Title>
          {comparison.data && <Tag color={comparison.data.changed ? 'orange' : 'default'} data-testid="changed-count">{t('plans.changedCount', { count: comparison.data.changed })}</Tag>}
        </Space>
        <div className="ol-toolbar">
          <span>{t('plans.compareFrom')}</span>
          <Select style={{ width: 320 }} value={from} options={options} onChange={setFrom} data-testid="version-from" />
          <span>{t('plans.compareTo')}</span>
          <Select style={{ width: 320 }} value={to} options={options} onChange={setTo} data-testid="version-to" />
          <Switch checked={onlyChanged} onChange={setOnlyChanged} /> {t('plans.onlyChanged')}
        </div>
        <Table<Change>
          rowKey="field"
          size="small"
          pagination={false}
          loading={comparison.isFetching}
          dataSource={rows}
          locale={{ emptyText: <Empty /> }}
          data-testid="version-compare"
          columns={[
            { title: t('plans.field'), key: 'label', width: 180, render: (_: unknown, r) => (i18n.language === 'en' ? r.label_en : r.label_zh) },
            { title: `v${from ?? ''}`, key: 'before', render: (_: unknown, r) => show(r.field, r.before) },
            {
              title: `v${to ?? ''}`,
              key: 'after',
              render: (_: unknown, r) => (r.changed ? <Typography.Text mark>{show(r.field, r.after)}</Typography.Text> : show(r.field, r.after)),
            },
          ]}
        />
      </Space>
    </Card>
  );
}
