import { useTranslation } from 'react-i18next';
import type { Schemas } from '../api/client';

type Segment = Schemas['CustomerListItem']['segment'];
type RiskLevel = NonNullable<Schemas['CustomerListItem']['risk_level']>;

export const SEGMENTS: Segment[] = ['retail', 'private', 'corporate', 'small_business'];
export const RISK_LEVELS: RiskLevel[] = ['R1', 'R2', 'R3', 'R4', 'R5'];
const STAGES = ['acquire', 'activate', 'grow', 'retain', 'refer'] as const;
type Stage = (typeof STAGES)[number];

export function segmentColor(s: Segment): string {
  return { retail: 'blue', private: 'gold', corporate: 'purple', small_business: 'cyan' }[s] ?? 'default';
}

export function riskColor(r: RiskLevel): string {
  return { R1: 'green', R2: 'lime', R3: 'orange', R4: 'volcano', R5: 'red' }[r] ?? 'default';
}

/** Labels for customer code values in the console's language; unknown codes are shown as they are. */
export function useCustomerLabels() {
  const { t } = useTranslation();
  return {
    segment: (s: Segment) => t(`customers.segments.${s}`),
    gender: (g: string | null | undefined) => (g === 'M' || g === 'F' ? t(`customers.genders.${g}`) : g ?? '-'),
    stage: (s: string | null | undefined) =>
      s && (STAGES as readonly string[]).includes(s) ? t(`customers.stages.${s as Stage}`) : s ?? '-',
  };
}
