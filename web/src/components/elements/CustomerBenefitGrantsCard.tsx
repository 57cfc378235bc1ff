import { useState } from 'react';
import { Card, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../../api/client';
import { formatDateTime, formatFen } from '../../lib/format';

type Grant = Schemas['GrantRead'];
const COLORS: Record<string, string> = { reserved: 'processing', granted: 'success', released: 'default' };

/** 权益发放 on the customer 360: every benefit grant to the customer, newest first. */
export default function CustomerBenefitGrantsCard({ customerNo }: { customerNo: string }) {
  const { t } = useTranslation();
  const [page, setPage] = useState(1);
  const query = useQuery({
    queryKey: ['customer-benefit-grants', customerNo, page],
    queryFn: () => unwrap(api.GET('/api/customers/{customer_no}/benefit-grants', {
      params: { path: { customer_no: customerNo }, query: { page, page_size: 10 } },
    })),
    placeholderData: keepPreviousData,
  });
  const columns: TableProps<Grant>['columns'] = [
    { title: t('elements.grants.reservedAt'), dataIndex: 'reserved_at', width: 170, render: formatDateTime },
    { title: t('elements.grants.benefit'), key: 'benefit', render: (_, g) => <Typography.Text strong>{g.benefit_name}</Typography.Text> },
    { title: t('elements.grants.campaign'), key: 'campaign', ellipsis: true, render: (_, g) => g.campaign_name ?? g.campaign_code ?? '-' },
    { title: t('elements.grants.status'), dataIndex: 'status', width: 90, render: (s: Grant['status']) => <Tag color={COLORS[s]}>{t(`elements.grantStatus.${s}`)}</Tag> },
    { title: t('elements.grants.cost'), dataIndex: 'cost_fen', width: 100, align: 'right', render: formatFen },
    { title: t('elements.grants.grantedAt'), dataIndex: 'granted_at', width: 170, render: formatDateTime },
  ];
  return (
    <Card title={t('elements.grants.c360Title')}>
      <Table<Grant> rowKey="id" size="small" data-testid="c360-benefit-grants" columns={columns} dataSource={query.data?.items ?? []}
                    loading={query.isFetching && !query.data} locale={{ emptyText: t('elements.grants.empty') }} scroll={{ x: 800 }}
                    pagination={{ current: page, pageSize: 10, total: query.data?.total ?? 0, onChange: setPage, hideOnSinglePage: true }} />
    </Card>
  );
}
