import dayjs from 'dayjs';
import utc from 'dayjs/plugin/utc';
import timezone from 'dayjs/plugin/timezone';
import i18n from '../i18n';

dayjs.extend(utc);
dayjs.extend(timezone);

/** Times are shown in the bank's time zone, whatever the browser's. */
export const DISPLAY_TZ = 'Asia/Shanghai';

const yuan = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const plain2 = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const integer = new Intl.NumberFormat('en-US');

/** Integer fen → "¥1,234,567.89". */
export function formatFen(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return '-';
  const sign = fen < 0 ? '-' : '';
  return `${sign}¥${yuan.format(Math.abs(fen) / 100)}`;
}

/** Integer fen → "123.46 万元" (zh) or "¥1.23M" (en), for large amounts in summaries. */
export function formatFenShort(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return '-';
  const yuanValue = fen / 100;
  if (i18n.language === 'en') {
    return `¥${new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 }).format(yuanValue)}`;
  }
  if (Math.abs(yuanValue) >= 100_000_000) return `${plain2.format(yuanValue / 100_000_000)} 亿元`;
  if (Math.abs(yuanValue) >= 10_000) return `${plain2.format(yuanValue / 10_000)} 万元`;
  return `${plain2.format(yuanValue)} 元`;
}

/** Integer fen → 万元 as a number (chart axes). */
export function fenToWan(fen: number): number {
  return Math.round(fen / 10_000) / 100;
}

export function formatInt(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : integer.format(n);
}

/** ISO date-time from the API (UTC) → "2026-03-01 14:05:09" in Asia/Shanghai. */
export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '-';
  const d = dayjs(value);
  return d.isValid() ? d.tz(DISPLAY_TZ).format('YYYY-MM-DD HH:mm:ss') : value;
}

/** A calendar date from the API ("2026-03-01") shown as is. */
export function formatDate(value: string | null | undefined): string {
  return value ? value.slice(0, 10) : '-';
}

/** "2026-03-01" → "2026-03" (month axis labels). */
export function formatMonth(value: string): string {
  return value.slice(0, 7);
}

/** A wall-clock time picked in the UI, read as Asia/Shanghai, as an ISO instant for the API. */
export function shanghaiIso(d: dayjs.Dayjs): string {
  return dayjs.tz(d.format('YYYY-MM-DDTHH:mm:ss'), DISPLAY_TZ).toISOString();
}

export { dayjs };
