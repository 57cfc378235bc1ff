import { App, Button, Card, Col, Descriptions, Empty, Row, Space, Statistic, Table, Tag, Typography } from 'antd';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime, formatInt } from '../lib/format';

type Wave = Schemas['WaveRead'];
type Action = 'ready' | 'launch_test' | 'launch' | 'pause' | 'resume' | 'stop';
const PATHS = {
  ready: '/api/campaigns/{campaign_id}/ready',
  launch_test: '/api/campaigns/{campaign_id}/launch-test',
  launch: '/api/campaigns/{campaign_id}/launch',
  pause: '/api/campaigns/{campaign_id}/pause',
  resume: '/api/campaigns/{campaign_id}/resume',
  stop: '/api/campaigns/{campaign_id}/stop',
} as const;
const STATUS_COLORS: Record<string, string> = { draft: 'default', ready: 'cyan', testing: 'gold', running: 'green', paused: 'orange', stopped: 'red', completed: 'blue' };

function Counts({ title, counts, prefix, testId }: { title: string; counts: Record<string, number>; prefix: string; testId: string }) {
  const { t } = useTranslation();
  const entries = Object.entries(counts);
  return (
    <Card size="small" title={title} data-testid={testId}>
      {entries.length === 0 ? (
        <Typography.Text type="secondary">{t('campaignExec.none')}</Typography.Text>
      ) : (
        <Space wrap size="large">
          {entries.map(([k, v]) => (
            <Statistic key={k} title={t(`${prefix}.${k}` as never, { defaultValue: k }) as string} value={v} formatter={(n) => formatInt(Number(n))} />
          ))}
        </Space>
      )}
    </Card>
  );
}

/** Campaign detail (活动详情): status and launch controls, waves with their funnels, live contact counts. */
export default function CampaignDetailPage() {
  const { t, i18n } = useTranslation();
  const { can } = useAuth();
  const { message, modal } = App.useApp();
  const queryClient = useQueryClient();
  const campaignId = Number(useParams().campaignId);
  const detail = useQuery({
    queryKey: ['campaign-detail', campaignId],
    queryFn: () => unwrap(api.GET('/api/campaigns/{campaign_id}/detail', { params: { path: { campaign_id: campaignId } } })),
    refetchInterval: (q) => (['testing', 'running'].includes(q.state.data?.campaign.status ?? '') ? 3000 : false),
  });
  const act = useMutation({
    mutationFn: (action: Action) => unwrap(api.POST(PATHS[action], { params: { path: { campaign_id: campaignId } }, body: null })),
    onSuccess: () => {
      message.success(t('campaignExec.done'));
      void queryClient.invalidateQueries({ queryKey: ['campaign-detail', campaignId] });
      void queryClient.invalidateQueries({ queryKey: ['campaign', campaignId] });
      void queryClient.invalidateQueries({ queryKey: ['campaigns'] });
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const d = detail.data;
  if (!d) return <Card loading={detail.isLoading} />;
  const c = d.campaign;
  const confirm = (action: Action) =>
    modal.confirm({
      title: t(`campaignExec.actions.${action}`),
      content: t(`campaignExec.confirm.${action}`),
      okButtonProps: { danger: action === 'stop', 'data-testid': 'confirm-ok' } as never,
      onOk: () => act.mutateAsync(action),
    });
  const en = i18n.language.startsWith('en');
  return (
    <Space direction="vertical" size="middle" style={{ width: '100%' }}>
      <Card
        title={
          <Space>
            <Typography.Text code>{c.code}</Typography.Text>
            <span data-testid="detail-name">{c.name}</span>
            <Tag color={STATUS_COLORS[c.status]} data-testid="campaign-status">
              {t(`campaignExec.statuses.${c.status}` as never, { defaultValue: c.status }) as string}
            </Tag>
          </Space>
        }
        extra={
          <Space>
            <Link to="/campaigns">{t('campaignExec.back')}</Link>
            {can('campaigns.manage') && (
              <Link to={`/campaigns/${c.id}/configure`} data-testid="detail-configure">
                {t('campaignExec.configure')}
              </Link>
            )}
          </Space>
        }
      >
        <Descriptions size="small" column={{ xs: 1, md: 3 }}>
          <Descriptions.Item label={t('campaignExec.fields.mode')}>{t(`campaignExec.modes.${c.mode}` as never) as string}</Descriptions.Item>
          <Descriptions.Item label={t('campaignExec.fields.channels')}>{(c.channels ?? []).map((ch) => t(`campaignExec.channels.${ch}` as never) as string).join(' → ') || '-'}</Descriptions.Item>
          <Descriptions.Item label={t('campaignExec.fields.priority')}>{c.priority}</Descriptions.Item>
          <Descriptions.Item label={t('campaignExec.fields.testPct')}>{c.test_pct}%</Descriptions.Item>
          <Descriptions.Item label={t('campaignExec.fields.controlPct')}>{c.control_pct}%</Descriptions.Item>
          <Descriptions.Item label={t('plans.campaign.plan')}>
            <Link to={`/plans/${c.plan_id}`}>{c.plan_title} · v{c.plan_version}</Link>
          </Descriptions.Item>
          <Descriptions.Item label={t('plans.campaign.ownerOrg')}>{(en ? c.owner_org_name_en : null) ?? c.owner_org_name ?? '-'}</Descriptions.Item>
          <Descriptions.Item label={t('campaignExec.launchedAt')}>{formatDateTime(c.launched_at)}</Descriptions.Item>
          {c.missing?.length ? <Descriptions.Item label={t('campaignExec.missing')}>{c.missing.join(', ')}</Descriptions.Item> : null}
        </Descriptions>
        {can('campaigns.manage') && (
          <Space style={{ marginTop: 12 }} wrap>
            {(d.allowed_actions as Action[]).map((a) => (
              <Button key={a} type={a === 'launch' || a === 'launch_test' ? 'primary' : 'default'} danger={a === 'stop'} onClick={() => confirm(a)} loading={act.isPending && act.variables === a} data-testid={`action-${a}`}>
                {t(`campaignExec.actions.${a}`)}
              </Button>
            ))}
          </Space>
        )}
      </Card>
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={12}><Counts title={t('campaignExec.members')} counts={d.members} prefix="campaignExec.cells" testId="detail-members" /></Col>
        <Col xs={24} lg={12}><Counts title={t('campaignExec.decisions')} counts={d.decisions} prefix="campaignExec.outcomes" testId="detail-decisions" /></Col>
        <Col xs={24} lg={12}><Counts title={t('campaignExec.outboxTitle')} counts={d.outbox} prefix="campaignExec.outbox" testId="detail-outbox" /></Col>
        <Col xs={24} lg={12}><Counts title={t('campaignExec.byChannel')} counts={d.outbox_by_channel} prefix="campaignExec.channels" testId="detail-channels" /></Col>
      </Row>
      <Card size="small" title={t('campaignExec.skipReasons')}>
        <Space wrap>
          {Object.entries(d.reasons).map(([k, v]) => <Tag key={k}>{`${k}: ${formatInt(v)}`}</Tag>)}
          {Object.keys(d.reasons).length === 0 && <Typography.Text type="secondary">{t('campaignExec.none')}</Typography.Text>}
        </Space>
      </Card>
      <Card size="small" title={t('campaignExec.waves')}>
        <Table<Wave>
          rowKey="id"
          size="small"
          pagination={false}
          data-testid="detail-waves"
          dataSource={d.waves}
          locale={{ emptyText: <Empty /> }}
          expandable={{
            rowExpandable: (w) => !!w.funnel,
            expandedRowRender: (w) => <WaveFunnel funnel={w.funnel as Record<string, unknown>} />,
          }}
          columns={[
            { title: t('campaignExec.wave.seq'), dataIndex: 'seq', width: 60 },
            { title: t('campaignExec.wave.name'), dataIndex: 'name' },
            { title: t('campaignExec.wave.kind'), dataIndex: 'kind', render: (k: string) => t(`campaignExec.kinds.${k}` as never) as string },
            { title: t('campaignExec.wave.scheduledAt'), dataIndex: 'scheduled_at', render: (v: string | null) => (v ? formatDateTime(v) : t('campaignExec.wave.now')) },
            { title: t('campaignExec.wave.status'), dataIndex: 'status', render: (s: string) => <Tag data-testid="wave-status">{t(`campaignExec.waveStatuses.${s}` as never, { defaultValue: s }) as string}</Tag> },
            { title: t('campaignExec.snapshotSize'), key: 'size', align: 'right', render: (_: unknown, w) => formatInt((w.funnel as { snapshot_size?: number } | null)?.snapshot_size) },
            { title: t('campaignExec.startedAt'), dataIndex: 'started_at', render: formatDateTime },
            { title: t('campaignExec.finishedAt'), dataIndex: 'finished_at', render: formatDateTime },
          ]}
        />
      </Card>
    </Space>
  );
}

function WaveFunnel({ funnel }: { funnel: Record<string, unknown> }) {
  const { t } = useTranslation();
  const groups: [string, string][] = [
    ['cells', 'campaignExec.members'],
    ['filtered', 'campaignExec.removed'],
    ['outcomes', 'campaignExec.decisions'],
    ['reasons', 'campaignExec.skipReasons'],
    ['channels', 'campaignExec.byChannel'],
  ];
  return (
    <Space direction="vertical">
      {groups.map(([key, label]) => {
        const values = (funnel[key] ?? {}) as Record<string, number>;
        return (
          <Space key={key} wrap>
            <Typography.Text strong>{t(label as never) as string}:</Typography.Text>
            {Object.entries(values).map(([k, v]) => <Tag key={k}>{`${k}: ${formatInt(v)}`}</Tag>)}
          </Space>
        );
      })}
    </Space>
  );
}
