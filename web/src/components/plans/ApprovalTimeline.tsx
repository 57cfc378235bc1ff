import { Card, Empty, Space, Steps, Tag, Timeline, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { getToken, type Schemas } from '../../api/client';
import { formatDateTime } from '../../lib/format';
import { orgName } from '../../lib/names';

type Approvals = Schemas['PlanApprovals'];
type Step = Schemas['StepRead'];
type Event = Schemas['ApprovalEventRead'];

const STEP_STATUS: Record<Step['status'], 'wait' | 'process' | 'finish' | 'error'> = {
  waiting: 'wait',
  pending: 'process',
  approved: 'finish',
  rejected: 'error',
  cancelled: 'wait',
};
const EVENT_COLOR: Record<string, string> = {
  approve: 'green',
  approved: 'green',
  campaign_created: 'green',
  reject: 'red',
  rejected: 'red',
  withdraw: 'orange',
  withdrawn: 'orange',
  comment: 'blue',
};
const INSTANCE_COLOR: Record<string, string> = { in_progress: 'processing', approved: 'success', rejected: 'error', withdrawn: 'warning' };

function stepMode(step: Step, t: (k: string, o?: Record<string, unknown>) => string): string {
  return t(`plans.approval.stepModes.${step.mode}`, { n: step.required });
}

/** The countersign history of a plan (审批轨迹): each submission's steps, approvers and timeline. */
export default function ApprovalTimeline({ data }: { data: Approvals | undefined }) {
  const { t, i18n } = useTranslation();
  const tt = t as unknown as (k: string, o?: Record<string, unknown>) => string;
  if (!data || data.instances.length === 0) return <Empty description={t('plans.noApprovals')} />;
  const total = data.instances.length;
  return (
    <Space direction="vertical" style={{ width: '100%' }} size={16} data-testid="approval-timeline">
      {data.instances.map((instance, index) => (
        <Card
          key={instance.id}
          size="small"
          title={
            <Space>
              {t('plans.submission', { n: total - index, version: instance.plan_version })}
              <Tag color={INSTANCE_COLOR[instance.status]}>{tt(`plans.approval.instanceStatuses.${instance.status}`)}</Tag>
              <Typography.Text type="secondary">{instance.template_name}</Typography.Text>
            </Space>
          }
        >
          <Steps
            size="small"
            style={{ marginBottom: 16 }}
            items={instance.steps.map((step) => ({
              title: step.name,
              status: STEP_STATUS[step.status],
              description: (
                <Space direction="vertical" size={0}>
                  <span>
                    {stepMode(step, tt)} · {tt(`plans.approval.stepStatuses.${step.status}`)}
                  </span>
                  {step.assignees.map((a) => (
                    <span key={a.user.id}>
                      {a.user.display_name}（{orgName({ name: a.org_name ?? '-', name_en: a.org_name_en }, i18n.language)}）
                      {a.decision && (
                        <Tag color={a.decision === 'approve' ? 'green' : 'red'} style={{ marginInlineStart: 4 }}>
                          {t(a.decision === 'approve' ? 'plans.approval.approved' : 'plans.approval.rejected')}
                        </Tag>
                      )}
                    </span>
                  ))}
                </Space>
              ),
            }))}
          />
          <Timeline
            items={instance.events.map((e: Event) => ({
              color: EVENT_COLOR[e.action] ?? 'gray',
              children: (
                <div data-testid="timeline-event">
                  <Space size={6} wrap>
                    <Typography.Text strong>{tt(`plans.approval.actions.${e.action}`)}</Typography.Text>
                    <span>
                      {e.actor
                        ? e.on_behalf_of
                          ? t('plans.decidedBy', { name: e.actor.display_name, onBehalf: e.on_behalf_of.display_name })
                          : e.actor.display_name
                        : t('plans.approval.system')}
                    </span>
                    <Typography.Text type="secondary">{formatDateTime(e.created_at)}</Typography.Text>
                  </Space>
                  {e.comment && <div style={{ whiteSpace: 'pre-wrap', marginTop: 4 }}>{e.comment}</div>}
                  {e.attachments.map((d) => (
                    <div key={d.id}>
                      <a href={`/api/plans/documents/${d.id}/download`} onClick={(ev) => downloadWithToken(ev, d.id, d.filename)}>
                        {d.filename}
                      </a>
                    </div>
                  ))}
                </div>
              ),
            }))}
          />
        </Card>
      ))}
    </Space>
  );
}

/** Downloads need the bearer token, which a plain link would not send. */
export function downloadWithToken(ev: { preventDefault: () => void }, documentId: number, filename: string): void {
  ev.preventDefault();
  const token = getToken();
  void fetch(`/api/plans/documents/${documentId}/download`, { headers: token ? { Authorization: `Bearer ${token}` } : {} })
    .then((r) => (r.ok ? r.blob() : Promise.reject(new Error(String(r.status)))))
    .then((blob) => {
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = filename;
      a.click();
      URL.revokeObjectURL(url);
    })
    .catch(() => undefined);
}
