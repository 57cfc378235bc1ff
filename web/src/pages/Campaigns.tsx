import { useState } from 'react';
import { App, Button, Card, DatePicker, Empty, Form, Input, Modal, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { EditOutlined, SettingOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { dayjs, formatDate, formatDateTime } from '../lib/format';
import { orgName } from '../lib/names';

type Campaign = Schemas['CampaignRead'];

/** Campaigns (营销活动): drafts generated from approved plans; their information can be corrected by hand. */
export default function CampaignsPage() {
  const { t, i18n } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const [draft, setDraft] = useState(params.get('code') ?? '');
  const [q, setQ] = useState(params.get('code') ?? '');
  const [page, setPage] = useState(1);
  const [editing, setEditing] = useState<Campaign | null>(null);
  const campaigns = useQuery({
    queryKey: ['campaigns', { q, page }],
    queryFn: () => unwrap(api.GET('/api/campaigns', { params: { query: { q: q || undefined, page, page_size: 20 } } })),
    placeholderData: keepPreviousData,
  });
  const update = useMutation({
    mutationFn: ({ id, body }: { id: number; body: Schemas['CampaignUpdate'] }) =>
      unwrap(api.PATCH('/api/campaigns/{campaign_id}', { params: { path: { campaign_id: id } }, body })),
    onSuccess: () => {
      message.success(t('plans.campaign.updated'));
      setEditing(null);
      void queryClient.invalidateQueries({ queryKey: ['campaigns'] });
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const columns: TableProps<Campaign>['columns'] = [
    { title: t('plans.campaign.code'), dataIndex: 'code', width: 160, render: (c: string) => <Typography.Text code data-testid="campaign-code">{c}</Typography.Text> },
    { title: t('plans.campaign.name'), dataIndex: 'name', render: (n: string, c) => <Link to={`/campaigns/${c.id}`} data-testid="campaign-name">{n}</Link> },
    {
      title: t('plans.campaign.dates'),
      key: 'dates',
      width: 210,
      render: (_: unknown, c) => (c.start_date ? `${formatDate(c.start_date)} ~ ${formatDate(c.end_date)}` : '-'),
    },
    {
      title: t('plans.campaign.plan'),
      key: 'plan',
      render: (_: unknown, c) => (
        <Link to={`/plans/${c.plan_id}`}>
          {c.plan_title} · v{c.plan_version}
        </Link>
      ),
    },
    { title: t('plans.campaign.ownerOrg'), key: 'org', width: 140, render: (_: unknown, c) => orgName({ name: c.owner_org_name ?? '-', name_en: c.owner_org_name_en }, i18n.language) },
    { title: t('plans.campaign.status'), dataIndex: 'status', width: 90, render: (s: string) => <Tag data-testid="campaign-status">{t(`campaignExec.statuses.${s}` as never, { defaultValue: s }) as string}</Tag> },
    { title: t('plans.updatedAt'), dataIndex: 'updated_at', width: 170, render: formatDateTime },
    {
      title: t('app.actions'),
      key: 'actions',
      width: 200,
      render: (_: unknown, c) =>
        can('campaigns.manage') && (
          <Space size={0}>
            {['draft', 'ready', 'paused'].includes(c.status) && (
              <Button size="small" type="link" icon={<EditOutlined />} onClick={() => setEditing(c)} data-testid="campaign-edit">
                {t('plans.campaign.edit')}
              </Button>
            )}
            <Link to={`/campaigns/${c.id}/configure`} data-testid="campaign-configure">
              <SettingOutlined /> {t('campaignExec.configure')}
            </Link>
          </Space>
        ),
    },
  ];
  return (
    <Card>
      <Typography.Title level={4} style={{ marginTop: 0 }}>
        {t('plans.campaign.title')}
      </Typography.Title>
      <div className="ol-toolbar">
        <Input.Search
          allowClear
          enterButton
          style={{ width: 280 }}
          placeholder={t('plans.campaign.searchPlaceholder')}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onSearch={(v) => {
            setQ(v.trim());
            setPage(1);
          }}
        />
      </div>
      <Table<Campaign>
        rowKey="id"
        size="middle"
        data-testid="campaigns-table"
        columns={columns}
        dataSource={campaigns.data?.items ?? []}
        loading={campaigns.isFetching}
        scroll={{ x: 1200 }}
        locale={{ emptyText: <Empty description={t('plans.campaign.empty')} /> }}
        pagination={{ current: page, pageSize: 20, total: campaigns.data?.total ?? 0, onChange: setPage, showTotal: (n) => t('app.total', { count: n }) }}
      />
      <Modal open={!!editing} title={t('plans.campaign.edit')} onCancel={() => setEditing(null)} footer={null} destroyOnHidden width={640}>
        {editing && (
          <Form<{ name: string; description?: string; dates?: [dayjs.Dayjs | null, dayjs.Dayjs | null] }>
            layout="vertical"
            initialValues={{
              name: editing.name,
              description: editing.description ?? '',
              dates: [editing.start_date ? dayjs(editing.start_date) : null, editing.end_date ? dayjs(editing.end_date) : null],
            }}
            onFinish={(v) =>
              update.mutate({
                id: editing.id,
                body: {
                  name: v.name,
                  description: v.description ?? null,
                  start_date: v.dates?.[0]?.format('YYYY-MM-DD') ?? null,
                  end_date: v.dates?.[1]?.format('YYYY-MM-DD') ?? null,
                },
              })
            }
          >
            <Form.Item label={t('plans.campaign.code')}>
              <Input value={editing.code} disabled />
            </Form.Item>
            <Form.Item name="name" label={t('plans.campaign.name')} rules={[{ required: true, whitespace: true, message: t('plans.campaign.nameRequired') }]}>
              <Input maxLength={200} data-testid="campaign-name-input" />
            </Form.Item>
            <Form.Item name="dates" label={t('plans.campaign.dates')}>
              <DatePicker.RangePicker allowEmpty={[true, true]} style={{ width: '100%' }} />
            </Form.Item>
            <Form.Item name="description" label={t('plans.campaign.description')}>
              <Input.TextArea rows={5} maxLength={5000} />
            </Form.Item>
            <Space style={{ width: '100%', justifyContent: 'flex-end' }}>
              <Button onClick={() => setEditing(null)}>{t('app.cancel')}</Button>
              <Button type="primary" htmlType="submit" loading={update.isPending} data-testid="campaign-save">
                {t('app.save')}
              </Button>
            </Space>
          </Form>
        )}
      </Modal>
    </Card>
  );
}
