import { useEffect, useMemo, useState } from 'react';
import { Alert, Button, Card, Col, Form, Input, Modal, Row, Space, Spin, Statistic, Table, Tag, Tooltip, Typography } from 'antd';
import { CameraOutlined, SaveOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate, useParams } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import BreakdownCharts from '../components/audience/BreakdownCharts';
import { featureOf, useAudienceCatalog } from '../components/audience/catalog';
import ConditionGroup from '../components/audience/ConditionGroup';
import ExportButton from '../components/audience/ExportButton';
import { type GroupNode, countConditions, fromExpression, newGroup, toExpression } from '../components/audience/model';
import { formatDateTime, formatInt } from '../lib/format';
import { orgName } from '../lib/names';
import { notifyError } from '../lib/notify';

type Problem = { path: string; code: string; message_zh: string; message_en: string };

function useDebounced<T>(value: T, ms: number): T {
  const [current, setCurrent] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setCurrent(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return current;
}

/** The audience builder (人群圈选): nested condition groups, live count and breakdown, save / snapshot / export. */
export default function AudienceBuilderPage() {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const { audienceId: idParam } = useParams();
  const audienceId = idParam && idParam !== 'new' ? Number(idParam) : undefined;
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const { can } = useAuth();
  const canManage = can('audiences.manage');
  const canExport = can('audiences.export');

  const catalog = useAudienceCatalog();
  const saved = useQuery({
    queryKey: ['audience', audienceId],
    queryFn: () => unwrap(api.GET('/api/audiences/{audience_id}', { params: { path: { audience_id: audienceId ?? 0 } } })),
    enabled: audienceId !== undefined,
  });

  const [tree, setTree] = useState<GroupNode>(() => newGroup('and'));
  const [loadedFor, setLoadedFor] = useState<number | undefined>(undefined);
  const [savedJson, setSavedJson] = useState<string | null>(null);
  const [saveOpen, setSaveOpen] = useState(false);
  const [snapshotOpen, setSnapshotOpen] = useState(false);
  const [form] = Form.useForm<{ name: string; description?: string }>();
  const [snapshotForm] = Form.useForm<{ purpose?: string }>();

  useEffect(() => {
    if (saved.data && loadedFor !== saved.data.id) {
      const root = fromExpression(saved.data.expression);
      setTree(root);
      setLoadedFor(saved.data.id);
    }
  }, [saved.data, loadedFor]);

  const isRange = useMemo(
    () => (name: string) => featureOf(catalog.data, name)?.condition === 'range',
    [catalog.data],
  );
  const expression = useMemo(() => toExpression(tree, isRange), [tree, isRange]);
  const expressionJson = expression ? JSON.stringify(expression) : null;
  useEffect(() => {
    // What was loaded counts as saved; the builder's own ids make the JSON differ from the stored one.
    if (catalog.data && saved.data && loadedFor === saved.data.id && savedJson === null && expressionJson) {
      setSavedJson(expressionJson);
    }
  }, [catalog.data, saved.data, loadedFor, savedJson, expressionJson]);
  const dirty = audienceId === undefined || expressionJson !== savedJson;
  const debounced = useDebounced(expressionJson, 300);

  const estimate = useQuery({
    queryKey: ['audience-estimate', debounced],
    queryFn: () => unwrap(api.POST('/api/audiences/estimate', { body: { expression: JSON.parse(debounced ?? '{}') } })),
    enabled: !!debounced && !!catalog.data,
    placeholderData: keepPreviousData,
    retry: false,
    staleTime: 10_000,
    meta: { silent: true },
  });
  const error = estimate.error instanceof ApiError ? estimate.error : null;
  const problems: Problem[] = error?.code === 'invalid_audience' && Array.isArray(error.details) ? (error.details as Problem[]) : [];
  const result = expressionJson && !estimate.isError ? estimate.data : undefined;
  const counts = useMemo(() => {
    const map = new Map<string, number>();
    if (result && expressionJson === debounced) for (const n of result.nodes) if (n.id) map.set(n.id, n.count);
    return map;
  }, [result, expressionJson, debounced]);
  const settled = !!result && expressionJson === debounced && !estimate.isFetching;

  const save = useMutation({
    mutationFn: async (values: { name: string; description?: string }) => {
      const body = { name: values.name, description: values.description || null, expression: expression ?? {} };
      if (audienceId === undefined) return unwrap(api.POST('/api/audiences', { body }));
      return unwrap(api.PATCH('/api/audiences/{audience_id}', { params: { path: { audience_id: audienceId } }, body }));
    },
    onSuccess: (audience: Schemas['AudienceRead']) => {
      setSaveOpen(false);
      setSavedJson(expressionJson);
      void queryClient.invalidateQueries({ queryKey: ['audiences'] });
      void queryClient.invalidateQueries({ queryKey: ['audience-catalog'] });
      queryClient.setQueryData(['audience', audience.id], audience);
      if (audienceId === undefined) {
        setLoadedFor(audience.id);
        navigate(`/audiences/${audience.id}`, { replace: true });
      }
    },
    onError: (err) => notifyError(errorMessage(err)),
  });

  const snapshots = useQuery({
    queryKey: ['audience-snapshots', audienceId],
    queryFn: () =>
      unwrap(api.GET('/api/audiences/{audience_id}/snapshots', { params: { path: { audience_id: audienceId ?? 0 }, query: { page_size: 50 } } })),
    enabled: audienceId !== undefined,
  });
  const snapshot = useMutation({
    mutationFn: (values: { purpose?: string }) =>
      unwrap(api.POST('/api/audiences/{audience_id}/snapshots', { params: { path: { audience_id: audienceId ?? 0 } }, body: { purpose: values.purpose || null } })),
    onSuccess: () => {
      setSnapshotOpen(false);
      snapshotForm.resetFields();
      void queryClient.invalidateQueries({ queryKey: ['audience-snapshots', audienceId] });
    },
    onError: (err) => notifyError(errorMessage(err)),
  });

  const editable = audienceId === undefined || saved.data?.editable !== false;
  const archived = !!saved.data?.archived;
  const title = audienceId === undefined ? t('audiences.builder.newTitle') : saved.data?.name ?? '';

  if (audienceId !== undefined && saved.isLoading) return <Spin style={{ display: 'block', margin: 48 }} />;

  return (
    <Space direction="vertical" size={16} style={{ width: '100%' }}>
      <Card>
        <Space style={{ width: '100%', justifyContent: 'space-between' }} wrap>
          <Typography.Title level={4} className="ol-page-title" style={{ marginBottom: 0 }} data-testid="builder-title">
            {title}
            {archived && <Tag style={{ marginLeft: 8 }}>{t('audiences.archived')}</Tag>}
            {audienceId !== undefined && dirty && <Tag color="orange" style={{ marginLeft: 8 }}>{t('audiences.builder.unsaved')}</Tag>}
          </Typography.Title>
          <Space wrap>
            <Button onClick={() => navigate('/audiences')}>{t('app.back')}</Button>
            {canManage && editable && !archived && (
              <Button
                type="primary"
                icon={<SaveOutlined />}
                disabled={!expression || !!problems.length}
                onClick={() => {
                  form.setFieldsValue({ name: saved.data?.name ?? '', description: saved.data?.description ?? '' });
                  setSaveOpen(true);
                }}
                data-testid="save-audience"
              >
                {t('app.save')}
              </Button>
            )}
            {canManage && audienceId !== undefined && !archived && (
              <Tooltip title={dirty ? t('audiences.builder.saveFirst') : t('audiences.builder.snapshotHint')}>
                <Button icon={<CameraOutlined />} disabled={dirty} onClick={() => setSnapshotOpen(true)} data-testid="snapshot-button">
                  {t('audiences.builder.snapshot')}
                </Button>
              </Tooltip>
            )}
            {canExport && audienceId !== undefined && !dirty && <ExportButton audienceId={audienceId} />}
          </Space>
        </Space>
        {saved.data?.description && <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>{saved.data.description}</Typography.Paragraph>}
        {saved.data && !saved.data.editable && (
          <Alert style={{ marginTop: 12 }} type="info" showIcon message={t('audiences.builder.readOnly', { org: orgName({ name: saved.data.org_name ?? '-', name_en: saved.data.org_name_en }, lang) })} />
        )}
      </Card>

      {catalog.data && catalog.data.tagset_version === null && (
        <Alert type="warning" showIcon message={t('audiences.builder.noTagset')} />
      )}

      <Row gutter={16}>
        <Col xs={24} xl={15}>
          <ConditionGroup group={tree} catalog={catalog.data} counts={counts} currentAudienceId={audienceId} onChange={setTree} />
        </Col>
        <Col xs={24} xl={9}>
          <Card data-testid="estimate-panel">
            <Row gutter={16}>
              <Col span={12}>
                <Statistic
                  title={t('audiences.builder.total')}
                  value={result ? result.total : '—'}
                  formatter={(v) => (
                    <span data-testid="audience-total" data-settled={settled ? 'true' : 'false'}>
                      {typeof v === 'number' ? formatInt(v) : v}
                    </span>
                  )}
                />
              </Col>
              <Col span={12}>
                <Statistic
                  title={t('audiences.builder.universe')}
                  value={result ? result.universe : '—'}
                  formatter={(v) => (typeof v === 'number' ? formatInt(v) : v)}
                  suffix={result && result.universe ? <Typography.Text type="secondary" style={{ fontSize: 14 }}>({((result.total / result.universe) * 100).toFixed(1)}%)</Typography.Text> : null}
                />
              </Col>
            </Row>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {!expression
                ? t('audiences.builder.addFirst')
                : estimate.isFetching || expressionJson !== debounced
                  ? t('audiences.builder.calculating')
                  : result
                    ? t('audiences.builder.meta', { version: result.tagset_version, ms: result.elapsed_ms.toFixed(1), conditions: countConditions(tree) })
                    : ''}
            </Typography.Text>
            {problems.length > 0 && (
              <Alert
                style={{ marginTop: 12 }}
                type="error"
                showIcon
                message={t('audiences.builder.invalid')}
                description={<ul style={{ margin: 0, paddingLeft: 18 }}>{problems.map((p) => <li key={p.path + p.code}>{lang === 'en' ? p.message_en : p.message_zh}</li>)}</ul>}
                data-testid="estimate-problems"
              />
            )}
            {error && !problems.length && <Alert style={{ marginTop: 12 }} type="warning" showIcon message={error.localized()} />}
            <div style={{ marginTop: 16 }}>
              <BreakdownCharts breakdown={result?.breakdown} />
            </div>
          </Card>
        </Col>
      </Row>

      {audienceId !== undefined && (
        <Card title={t('audiences.snapshots.title')}>
          <Table<Schemas['SnapshotRead']>
            rowKey="id"
            size="small"
            data-testid="snapshots-table"
            loading={snapshots.isFetching}
            dataSource={snapshots.data?.items ?? []}
            pagination={false}
            locale={{ emptyText: t('audiences.snapshots.empty') }}
            columns={[
              { title: 'ID', dataIndex: 'id', width: 70 },
              { title: t('audiences.snapshots.purpose'), dataIndex: 'purpose', render: (v: string | null) => v ?? '-' },
              { title: t('audiences.snapshots.size'), dataIndex: 'size', align: 'right', render: (v: number) => formatInt(v) },
              { title: t('audiences.snapshots.scope'), dataIndex: 'scope_org_name', render: (_: unknown, s) => orgName({ name: s.scope_org_name ?? '-', name_en: s.scope_org_name_en }, lang) },
              { title: t('audiences.snapshots.tagset'), dataIndex: 'tagset_version', width: 110 },
              { title: t('audiences.snapshots.createdBy'), dataIndex: 'created_by_name', render: (v: string | null) => v ?? '-' },
              { title: t('audiences.snapshots.createdAt'), dataIndex: 'created_at', render: (v: string) => formatDateTime(v) },
              ...(canExport ? [{ title: t('app.actions'), key: 'export', render: (_: unknown, s: Schemas['SnapshotRead']) => <ExportButton snapshotId={s.id} size="small" /> }] : []),
            ]}
          />
        </Card>
      )}

      <Modal
        open={saveOpen}
        title={audienceId === undefined ? t('audiences.builder.saveTitle') : t('audiences.builder.updateTitle')}
        onCancel={() => setSaveOpen(false)}
        onOk={() => form.submit()}
        confirmLoading={save.isPending}
        okButtonProps={{ 'data-testid': 'save-confirm' } as React.ComponentProps<typeof Button>}
        destroyOnHidden
      >
        <Form form={form} layout="vertical" onFinish={(values) => save.mutate(values)} preserve={false}>
          <Form.Item name="name" label={t('audiences.name')} rules={[{ required: true, whitespace: true, message: t('audiences.builder.nameRequired') }, { max: 100 }]}>
            <Input id="audience-name" maxLength={100} autoFocus />
          </Form.Item>
          <Form.Item name="description" label={t('audiences.description')} rules={[{ max: 1000 }]}>
            <Input.TextArea rows={3} maxLength={1000} />
          </Form.Item>
          {result && <Typography.Text type="secondary">{t('audiences.builder.saveSize', { n: formatInt(result.total) })}</Typography.Text>}
        </Form>
      </Modal>

      <Modal
        open={snapshotOpen}
        title={t('audiences.builder.snapshot')}
        onCancel={() => setSnapshotOpen(false)}
        onOk={() => snapshotForm.submit()}
        confirmLoading={snapshot.isPending}
      >
        <Typography.Paragraph type="secondary">{t('audiences.builder.snapshotHint')}</Typography.Paragraph>
        <Form form={snapshotForm} layout="vertical" onFinish={(values) => snapshot.mutate(values)}>
          <Form.Item name="purpose" label={t('audiences.snapshots.purpose')} rules={[{ max: 200 }]}>
            <Input maxLength={200} placeholder={t('audiences.snapshots.purposePlaceholder')} />
          </Form.Item>
        </Form>
      </Modal>
    </Space>
  );
}
