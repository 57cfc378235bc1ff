import { useState } from 'react';
import { Card, Segmented, Table, Tag, Tooltip } from 'antd';
import type { TableProps } from 'antd';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { currentLanguage } from '../i18n';
import { formatDateTime } from '../lib/format';

type Item = Schemas['ContactItem'];
const OUTCOME_COLORS: Record<string, string> = { allowed: 'green', deferred: 'orange', skipped: 'red' };
const STATUS_COLORS: Record<string, string> = { pending: 'processing', sending: 'processing', sent: 'blue', delivered: 'success', failed: 'error', cancelled: 'default' };

/** 营销接触 on the customer 360: every contact decision (skipped ones with their reason) and message, newest first. */
export default function CustomerContactsCard({ customerNo }: { customerNo: string }) {
  const { t } = useTranslation();
  const zh = currentLanguage() === 'zh-CN';
  const [page, setPage] = useState(1);
  const [kind, setKind] = useState<'all' | 'decision' | 'message'>('all');
  const query = useQuery({
    queryKey: ['customer-contacts', customerNo, page, kind],
    queryFn: () => unwrap(api.GET('/api/customers/{customer_no}/contacts', {
      params: { path: { customer_no: customerNo }, query: { page, page_size: 10, kind: kind === 'all' ? undefined : kind } },
    })),
    placeholderData: keepPreviousData,
  });
  const channelName = (c: string | null) => (c ? t(`contacts.channelNames.${c}` as 'contacts.channelNames.sms', { defaultValue: c }) : '-');
  const columns: TableProps<Item>['columns'] = [
    { title: t('contacts.time'), dataIndex: 'at', width: 170, render: formatDateTime },
    { title: t('contacts.kind'), dataIndex: 'kind', width: 80, render: (k: Item['kind']) => (k === 'decision' ? t('contacts.decisionKind') : t('contacts.messageKind')) },
    { title: t('contacts.campaign'), dataIndex: 'campaign_name', ellipsis: true, render: (n: string | null, r) => n ?? `#${r.campaign_id}` },
    { title: t('contacts.channel'), dataIndex: 'channel', width: 110, render: channelName },
    { title: t('contacts.outcome'), key: 'outcome', width: 110, render: (_, r) => (r.kind === 'decision'
      ? <Tag color={OUTCOME_COLORS[r.outcome ?? '']}>{t(`contacts.outcomes.${r.outcome}` as 'contacts.outcomes.allowed', { defaultValue: r.outcome ?? '' })}</Tag>
      : <Tag color={STATUS_COLORS[r.status ?? '']}>{t(`contacts.messageStatuses.${r.status}` as 'contacts.messageStatuses.sent', { defaultValue: r.status ?? '' })}</Tag>) },
    { title: t('contacts.reason'), key: 'reason', render: (_, r) => {
      const text = r.kind === 'decision' ? (zh ? r.reason_zh : r.reason_en) : r.last_error;
      if (!text) return r.defer_until ? `${t('contacts.deferUntil')} ${formatDateTime(r.defer_until)}` : '-';
      return r.detail ? <Tooltip title={<pre style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{JSON.stringify(r.detail, null, 2)}</pre>}><span>{text}</span></Tooltip> : text;
    } },
  ];
  return (
    <Card title={t('contacts.contactsCard')}
          extra={<Segmented size="small" value={kind} onChange={(v) => { setKind(v as typeof kind); setPage(1); }}
                            options={[{ value: 'all', label: t('app.all') }, { value: 'decision', label: t('contacts.decisionKind') }, { value: 'message', label: t('contacts.messageKind') }]} />}>
      <Table<Item> rowKey={(r) => `${r.kind}-${r.id}`} size="small" data-testid="c360-contacts" columns={columns} dataSource={query.data?.items ?? []}
                   loading={query.isFetching && !query.data} locale={{ emptyText: t('contacts.noContacts') }} scroll={{ x: 800 }}
                   pagination={{ current: page, pageSize: 10, total: query.data?.total ?? 0, onChange: setPage, hideOnSinglePage: true }} />
    </Card>
  );
}
