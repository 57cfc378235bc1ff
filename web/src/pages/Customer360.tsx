import { useMemo } from 'react';
import { Breadcrumb, Button, Card, Col, Descriptions, Empty, Result, Row, Skeleton, Space, Statistic, Tag, Tooltip, Typography } from 'antd';
import { ArrowLeftOutlined, EyeInvisibleOutlined, UserOutlined } from '@ant-design/icons';
import { useQuery } from '@tanstack/react-query';
import { Link, useNavigate, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import EChart, { type ChartOption } from '../components/EChart';
import CustomerTagsCard from '../components/tags/CustomerTagsCard';
import CustomerEventsCard from '../components/events/CustomerEventsCard';
import CustomerBenefitGrantsCard from '../components/elements/CustomerBenefitGrantsCard';
import ConsentCard from '../components/ConsentCard';
import CustomerContactsCard from '../components/CustomerContactsCard';
import { fenToWan, formatDate, formatDateTime, formatFen, formatFenShort, formatMonth } from '../lib/format';
import { riskColor, segmentColor, useCustomerLabels } from '../lib/customerLabels';

type C360 = Schemas['Customer360'];

function useTrendOptions(monthly: C360['monthly'] | undefined) {
  const { t, i18n } = useTranslation();
  return useMemo(() => {
    const months = (monthly ?? []).map((p) => formatMonth(p.month));
    const aum: ChartOption = {
      tooltip: {
        trigger: 'axis',
        valueFormatter: (v) => (typeof v === 'number' ? `${v.toLocaleString('en-US')} ${t('c360.aumAxis')}` : String(v)),
      },
      grid: { left: 56, right: 28, top: 24, bottom: 28 },
      xAxis: { type: 'category', data: months, boundaryGap: false },
      yAxis: { type: 'value', name: t('c360.aumAxis'), nameTextStyle: { align: 'right' } },
      series: [
        {
          name: t('customers.aum'),
          type: 'line',
          smooth: true,
          symbolSize: 6,
          areaStyle: { opacity: 0.12 },
          data: (monthly ?? []).map((p) => fenToWan(p.aum_fen)),
        },
      ],
    };
    const logins: ChartOption = {
      tooltip: { trigger: 'axis' },
      grid: { left: 40, right: 16, top: 24, bottom: 28 },
      xAxis: { type: 'category', data: months },
      yAxis: { type: 'value', minInterval: 1, name: t('c360.loginsUnit') },
      series: [
        {
          name: t('c360.appLogins'),
          type: 'bar',
          barMaxWidth: 24,
          itemStyle: { color: '#13a8a8', borderRadius: [3, 3, 0, 0] },
          data: (monthly ?? []).map((p) => p.app_logins),
        },
      ],
    };
    return { aum, logins };
  }, [monthly, t, i18n.language]);
}

export default function Customer360Page() {
  const { customerNo = '' } = useParams();
  const { t, i18n } = useTranslation();
  const english = i18n.language.startsWith('en');
  const navigate = useNavigate();
  const labels = useCustomerLabels();
  const query = useQuery({
    queryKey: ['customer', customerNo],
    queryFn: () => unwrap(api.GET('/api/customers/{customer_no}', { params: { path: { customer_no: customerNo } } })),
  });
  const charts = useTrendOptions(query.data?.monthly);

  const header = (
    <Space style={{ marginBottom: 16 }} align="center">
      <Button icon={<ArrowLeftOutlined />} onClick={() => navigate(-1)} aria-label={t('app.back')} />
      <Breadcrumb items={[{ title: <Link to="/customers">{t('customers.title')}</Link> }, { title: t('c360.title') }]} />
    </Space>
  );

  if (query.isLoading) {
    return (
      <>
        {header}
        <Card>
          <Skeleton active paragraph={{ rows: 8 }} />
        </Card>
      </>
    );
  }
  if (query.error || !query.data) {
    const notFound = query.error instanceof ApiError && query.error.status === 404;
    return (
      <>
        {header}
        <Result
          status={notFound ? '404' : 'error'}
          title={notFound ? t('c360.notFound') : t('app.loadFailed')}
          subTitle={notFound ? undefined : errorMessage(query.error)}
          extra={<Button onClick={() => navigate('/customers')}>{t('app.back')}</Button>}
        />
      </>
    );
  }

  const { profile, holdings, monthly, org, rm } = query.data;
  const holdingItems: { key: keyof typeof holdings; label: string }[] = [
    { key: 'deposit_fen', label: t('c360.deposit') },
    { key: 'wealth_fen', label: t('c360.wealth') },
    { key: 'fund_fen', label: t('c360.fund') },
    { key: 'insurance_fen', label: t('c360.insurance') },
    { key: 'loan_fen', label: t('c360.loan') },
  ];
  const card = !holdings.has_credit_card ? (
    <Tag>{t('c360.cardNone')}</Tag>
  ) : holdings.credit_card_activated ? (
    <Tag color="success">{t('c360.cardActivated')}</Tag>
  ) : (
    <Tag color="warning">{t('c360.cardNotActivated')}</Tag>
  );

  return (
    <>
      {header}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={16}>
          <Card
            title={
              <Space>
                <UserOutlined />
                <span data-testid="c360-title">{t('c360.title')}</span>
                <Typography.Text type="secondary">{profile.customer_no}</Typography.Text>
                {profile.masked && (
                  <Tooltip title={t('customers.maskedHint')}>
                    <Tag icon={<EyeInvisibleOutlined />}>{t('customers.masked')}</Tag>
                  </Tooltip>
                )}
              </Space>
            }
          >
            <Descriptions column={{ xs: 1, sm: 2, lg: 3 }} size="small" data-testid="c360-profile">
              <Descriptions.Item label={t('customers.name')}>{profile.name}</Descriptions.Item>
              <Descriptions.Item label={t('customers.gender')}>{labels.gender(profile.gender)}</Descriptions.Item>
              <Descriptions.Item label={t('c360.age')}>{profile.age ?? '-'}</Descriptions.Item>
              <Descriptions.Item label={t('customers.phone')}>{profile.phone ?? '-'}</Descriptions.Item>
              <Descriptions.Item label={t('c360.idNumber')}>{profile.id_number ?? '-'}</Descriptions.Item>
              <Descriptions.Item label={t('c360.birthDate')}>{formatDate(profile.birth_date)}</Descriptions.Item>
              <Descriptions.Item label={t('customers.segment')}>
                <Tag color={segmentColor(profile.segment)}>{labels.segment(profile.segment)}</Tag>
              </Descriptions.Item>
              <Descriptions.Item label={t('customers.riskLevel')}>
                {profile.risk_level ? <Tag color={riskColor(profile.risk_level)}>{profile.risk_level}</Tag> : '-'}
              </Descriptions.Item>
              <Descriptions.Item label={t('customers.lifecycle')}>{labels.stage(profile.lifecycle_stage)}</Descriptions.Item>
              <Descriptions.Item label={t('c360.firstAccount')}>{formatDate(profile.first_account_date)}</Descriptions.Item>
              <Descriptions.Item label={t('c360.payroll')}>{profile.payroll_flag ? t('app.yes') : t('app.no')}</Descriptions.Item>
              <Descriptions.Item label={t('c360.appLoginsMonth')}>{profile.app_logins_month}</Descriptions.Item>
              <Descriptions.Item label={t('c360.updatedAt')}>{formatDateTime(profile.updated_at)}</Descriptions.Item>
            </Descriptions>
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card title={t('c360.assignedRm')} style={{ height: '100%' }}>
            <Descriptions column={1} size="small">
              <Descriptions.Item label={t('c360.assignedRm')}>
                <span data-testid="c360-rm">{rm ? `${rm.display_name} (${rm.username})` : t('c360.noRm')}</span>
              </Descriptions.Item>
              <Descriptions.Item label={t('c360.orgPath')}>
                <span data-testid="c360-org-path">
                  {org.path_names.map((name, i) => (english && org.path_names_en[i]) || name).join(' / ')}
                </span>
              </Descriptions.Item>
              <Descriptions.Item label={t('customers.org')}>
                {(english && org.name_en) || org.name} ({org.code})
              </Descriptions.Item>
            </Descriptions>
          </Card>
        </Col>
        <Col span={24}>
          <Card title={t('c360.holdings')}>
            <Row gutter={[16, 16]}>
              <Col xs={12} md={8} xl={4}>
                <Statistic title={t('c360.totalAum')} value={formatFenShort(profile.aum_fen)} valueStyle={{ color: '#1d4ed8' }} />
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {formatFen(profile.aum_fen)}
                </Typography.Text>
              </Col>
              {holdingItems.map((h) => (
                <Col xs={12} md={8} xl={3} key={h.key}>
                  <Statistic title={h.label} value={formatFen(holdings[h.key] as number)} valueStyle={{ fontSize: 18 }} />
                </Col>
              ))}
              <Col xs={12} md={8} xl={5}>
                <Statistic title={t('c360.creditCard')} valueRender={() => card} value=" " />
              </Col>
            </Row>
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card title={t('c360.aumTrend')}>
            {monthly.length ? <EChart option={charts.aum} testId="aum-chart" /> : <Empty description={t('c360.noMonthly')} />}
          </Card>
        </Col>
        <Col xs={24} lg={12}>
          <Card title={t('c360.appLogins')}>
            {monthly.length ? <EChart option={charts.logins} testId="logins-chart" /> : <Empty description={t('c360.noMonthly')} />}
          </Card>
        </Col>
        <Col span={24}>
          <CustomerTagsCard customerNo={profile.customer_no} />
        </Col>
        <Col span={24}>
          <CustomerEventsCard customerNo={profile.customer_no} />
        </Col>
        <Col span={24}>
          <CustomerBenefitGrantsCard customerNo={profile.customer_no} />
        </Col>
        <Col span={24}>
          <ConsentCard customerNo={profile.customer_no} />
        </Col>
        <Col span={24}>
          <CustomerContactsCard customerNo={profile.customer_no} />
        </Col>
      </Row>
    </>
  );
}
