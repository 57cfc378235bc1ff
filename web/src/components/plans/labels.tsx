import { Tag } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Schemas } from '../../api/client';

export type Plan = Schemas['PlanRead'];
export type PlanStatus = Plan['status'];

export const STATUS_COLOR: Record<PlanStatus, string> = {
  draft: 'default',
  in_review: 'processing',
  rejected: 'error',
  withdrawn: 'warning',
  approved: 'success',
};

export const STATUSES: PlanStatus[] = ['draft', 'in_review', 'rejected', 'withdrawn', 'approved'];
export const STAGES = ['novice', 'growth', 'mature', 'churn_risk', 'dormant'] as const;
export const LINES = ['retail', 'credit_card', 'wealth', 'private_banking', 'corporate', 'small_business'] as const;
export const CHANNELS = ['sms', 'app_push', 'in_app', 'placement', 'wechat', 'outbound_call', 'rm_task', 'email', 'webhook'] as const;
export const BENEFITS = ['none', 'points', 'cash_coupon', 'rate_coupon', 'gift', 'fee_waiver'] as const;
export const MODES = ['batch', 'realtime', 'event'] as const;

export function PlanStatusTag({ status }: { status: PlanStatus }) {
  const { t } = useTranslation();
  return (
    <Tag color={STATUS_COLOR[status]} data-testid="plan-status">
      {t(`plans.statuses.${status}`)}
    </Tag>
  );
}

/** Translate a code from one of the plan label groups, falling back to the code itself. */
export function useLabel() {
  const { t, i18n } = useTranslation();
  return (group: 'stages' | 'lines' | 'channelNames' | 'benefitTypes' | 'modes', code: string | null | undefined) => {
    if (!code) return '-';
    const key = `plans.${group}.${code}`;
    return i18n.exists(key) ? (t(key as never) as string) : code;
  };
}
