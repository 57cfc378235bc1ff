import { Card, Col, Descriptions, Empty, Row, Skeleton, Space, Table, Tag, Typography } from 'antd';
import { ArrowRightOutlined, TagsOutlined } from '@ant-design/icons';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../../api/client';
import { useAuth } from '../../auth/AuthContext';
import { formatDateTime } from '../../lib/format';
import { CATEGORIES, useTagLabels, type Category } from './labels';

type Value = Schemas['CustomerTagValue'];
type Change = Schemas['CustomerTagChange'];

const LIFECYCLE_COLORS: Record<string, string> = {
  acquire: 'default',
  activate: 'blue',
  grow: 'geekblue',
  retain: 'cyan',
  refer: 'gold',
  novice: 'green',
  growth: 'blue',
  mature: 'geekblue',
  churn_risk: 'orange',
  dormant: 'default',
};

function ValueTag({ item, testId }: { item: Value | null | undefined; testId?: string }) {
  const labels = useTagLabels();
  if (!item || item.value === null || item.value === undefined) return <Typography.Text type="secondary" data-testid={testId}>-</Typography.Text>;
  return (
    <Tag color={LIFECYCLE_COLORS[String(item.value)] ?? 'blue'} data-testid={testId}>
      {labels.label(item, String(item.value))}
    </Tag>
  );
}

/** 标签 card of the customer 360 view: current tag values, lifecycle stage and status, and their change history. */
export default function CustomerTagsCard({ customerNo }: { customerNo: string }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const labels = useTagLabels();
  const query = useQuery({
    queryKey: ['customer-tags', customerNo],
    queryFn: () => unwrap(api.GET('/api/customers/{customer_no}/tags', { params: { path: { customer_no: customerNo } } })),
  });
  const data = query.data;
  const tagLink = (item: { tag_id?: number | null; code: string; name_zh: string; name_en: string }) =>
    item.tag_id && can('tags.read') ? <Link to={`/tags/${item.tag_id}`}>{labels.name(item)}</Link> : labels.name(item);

  const withValue = (data?.tags ?? []).filter((v) => v.value !== null && v.value !== undefined && v.value !== false && v.code !== 'lifecycle_stage' && v.code !== 'lifecycle_status');
  const byCategory = CATEGORIES.map((c) => ({ category: c, items: withValue.filter((v) => v.category === c) })).filter((g) => g.items.length);
  const label = (zh: string | null | undefined, en: string | null | undefined, raw: string | null) =>
    (labels.en ? en : zh) || raw || '-';

  return (
    <Card
      title={
        <Space>
          <TagsOutlined />
          {t('tags.c360.title')}
        </Space>
      }
      extra={data?.computed_at ? <Typography.Text type="secondary">{t('tags.c360.computedAt', { at: formatDateTime(data.computed_at), v: data.tagset_version })}</Typography.Text> : null}
      data-testid="c360-tags"
    >
      {query.isLoading ? (
        <Skeleton active />
      ) : !data || data.tagset_version === null ? (
        <Empty description={t('tags.c360.noTagset')} />
      ) : (
        <Row gutter={[24, 16]}>
          <Col xs={24} lg={12}>
            <Descriptions size="small" column={2} style={{ marginBottom: 12 }}>
              <Descriptions.Item label={t('tags.c360.stage')}>
                <ValueTag item={data.lifecycle_stage} testId="c360-lifecycle-stage" />
              </Descriptions.Item>
              <Descriptions.Item label={t('tags.c360.status')}>
                <ValueTag item={data.lifecycle_status} testId="c360-lifecycle-status" />
              </Descriptions.Item>
            </Descriptions>
            {byCategory.length ? (
              <Descriptions size="small" column={1} bordered data-testid="c360-tag-values">
                {byCategory.map((g) => (
                  <Descriptions.Item key={g.category} label={labels.category(g.category as Category)}>
                    <Space size={[4, 6]} wrap>
                      {g.items.map((v) => (
                        <Tag key={v.code} color={labels.categoryColor(g.category as Category)}>
                          {tagLink(v)}
                          {v.value === true ? '' : `：${labels.label(v, String(v.value))}`}
                        </Tag>
                      ))}
                    </Space>
                  </Descriptions.Item>
                ))}
              </Descriptions>
            ) : (
              <Typography.Text type="secondary">{t('tags.c360.noValues')}</Typography.Text>
            )}
          </Col>
          <Col xs={24} lg={12}>
            <Typography.Text strong>{t('tags.c360.history')}</Typography.Text>
            <Table<Change>
              size="small"
              rowKey={(c) => `${c.run_id}-${c.code}`}
              dataSource={data.history}
              pagination={{ pageSize: 8, size: 'small', hideOnSinglePage: true }}
              locale={{ emptyText: t('tags.c360.noHistory') }}
              data-testid="c360-tag-history"
              style={{ marginTop: 8 }}
              columns={[
                { title: t('tags.c360.at'), dataIndex: 'at', width: 160, render: formatDateTime },
                { title: t('tags.fields.name'), key: 'tag', render: (_, c) => labels.name(c) },
                {
                  title: t('tags.c360.change'),
                  key: 'change',
                  render: (_, c) => (
                    <Space size={4}>
                      <Typography.Text type="secondary">{label(c.previous_label_zh, c.previous_label_en, c.previous)}</Typography.Text>
                      <ArrowRightOutlined style={{ fontSize: 10 }} />
                      <span>{label(c.value_label_zh, c.value_label_en, c.value)}</span>
                    </Space>
                  ),
                },
              ]}
            />
          </Col>
        </Row>
      )}
    </Card>
  );
}
