import type { ReactNode } from 'react';
import { Tag } from 'antd';
import {
  CheckCircleOutlined,
  ClockCircleOutlined,
  CloseCircleOutlined,
  ExclamationCircleOutlined,
  HistoryOutlined,
  SyncOutlined,
} from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import type { Schemas } from '../../api/client';

export type TagRead = Schemas['TagRead'];
export type TagDetail = Schemas['TagDetail'];
export type Category = TagRead['category'];
export type Source = TagRead['source'];
export type ValueType = TagRead['value_type'];
export type RunStatus = Schemas['TagRunRead']['status'];

export const CATEGORIES: Category[] = ['basic', 'value', 'behaviour', 'lifecycle', 'model_score', 'event'];
export const SOURCES: Source[] = ['rule', 'list', 'model_score', 'event'];
export const VALUE_TYPES: ValueType[] = ['enum', 'boolean', 'numeric'];
export const RUN_STATUSES: RunStatus[] = ['queued', 'running', 'succeeded', 'partial', 'failed'];
export const LIFECYCLE_CODES = ['lifecycle_stage', 'lifecycle_status'] as const;

const CATEGORY_COLORS: Record<Category, string> = {
  basic: 'blue',
  value: 'gold',
  behaviour: 'cyan',
  lifecycle: 'purple',
  model_score: 'magenta',
  event: 'green',
};

/** Labels of tag codes in the console's language. */
export function useTagLabels() {
  const { t, i18n } = useTranslation();
  const en = i18n.language === 'en';
  return {
    en,
    category: (c: Category) => t(`tags.categories.${c}`),
    categoryColor: (c: Category) => CATEGORY_COLORS[c] ?? 'default',
    source: (s: Source) => t(`tags.sources.${s}`),
    valueType: (v: ValueType) => t(`tags.valueTypes.${v}`),
    trigger: (tr: string) => (tr === 'manual' || tr === 'schedule' ? t(`tags.triggers.${tr}`) : tr),
    /** The tag's name in the console's language. */
    name: (tag: { name_zh: string; name_en: string } | null | undefined) => (!tag ? '-' : en ? tag.name_en : tag.name_zh),
    /** A value label `{label_zh, label_en}` in the console's language. */
    label: (item: { label_zh?: string | null; label_en?: string | null } | null | undefined, fallback = '-') =>
      (en ? item?.label_en : item?.label_zh) || fallback,
  };
}

const STATUS_STYLE: Record<string, { color: string; icon: ReactNode }> = {
  queued: { color: 'default', icon: <ClockCircleOutlined /> },
  running: { color: 'processing', icon: <SyncOutlined spin /> },
  succeeded: { color: 'success', icon: <CheckCircleOutlined /> },
  partial: { color: 'warning', icon: <ExclamationCircleOutlined /> },
  failed: { color: 'error', icon: <CloseCircleOutlined /> },
  carried: { color: 'default', icon: <HistoryOutlined /> },
};

const KNOWN_STATUSES = ['queued', 'running', 'succeeded', 'partial', 'failed', 'carried'] as const;

/** A run's status, or a tag's result in a run (succeeded / failed / carried over from the previous run). */
export function RunStatusTag({ status, testId }: { status: string | null | undefined; testId?: string }) {
  const { t } = useTranslation();
  if (!status) return <span data-testid={testId}>-</span>;
  const style = STATUS_STYLE[status] ?? { color: 'default', icon: null };
  const text = (KNOWN_STATUSES as readonly string[]).includes(status)
    ? t(`tags.runStatuses.${status as (typeof KNOWN_STATUSES)[number]}`)
    : status;
  return (
    <Tag color={style.color} icon={style.icon} data-testid={testId} data-status={status} style={{ marginInlineEnd: 0 }}>
      {text}
    </Tag>
  );
}

export function isActiveRun(status: string | null | undefined): boolean {
  return status === 'queued' || status === 'running';
}

/** Milliseconds → "1.2 s" / "3 min 4 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

/** 0.1234 → "12.3%". */
export function formatShare(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return '-';
  return `${(share * 100).toFixed(1)}%`;
}
