import { useState } from 'react';
import { Alert, App, Button, Card, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { KeyOutlined, PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime } from '../lib/format';

type Row = Schemas['EventSourceRead'];
type Created = Schemas['EventSourceWithKey'];
type Kind = Row['kind'];
const KINDS: Kind[] = ['app', 'web', 'partner', 'server'];

/** 事件源: sources and their write keys; a key is shown in full only when created or rotated. */
export default function EventSourcesPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const client = useQueryClient();
  const manage = can('sources.manage');
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<Created | null>(null);
  const [form] = Form.useForm<{ name: string; kind: Kind; description?: string }>();

  const query = useQuery({
    queryKey: ['event-sources', page],
    queryFn: () => unwrap(api.GET('/api/event-sources', { params: { query: { page, page_size: 20 } } })),
    placeholderData: keepPreviousData,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['event-sources'] });
  const create = useMutation({
    mutationFn: (body: { name: string; kind: Kind; description?: string }) => unwrap(api.POST('/api/event-sources', { body })),
    onSuccess: (created) => {
      setCreating(false);
      form.resetFields();
      setShown(created);
      refresh();
    },
    onError: (err) => message.error(errorMessage(err)),
  });
  const rotate = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/event-sources/{source_id}/rotate-key', { params: { path: { source_id: id } } })),
    onSuccess: (created) => {
      setShown(created);
      refresh();
    },
    onError: (err) => message.error(errorMessage(err)),
  });
  const toggle = useMutation({
    mutationFn: (row: Row) =>
      unwrap(api.PATCH('/api/event-sources/{source_id}', { params: { path: { source_id: row.id } }, body: { enabled: !row.enabled } })),
    onSuccess: refresh,
    onError: (err) => message.error(errorMessage(err)),
  });

  const columns: TableProps<Row>['columns'] = [
    { title: t('events.sources.name'), dataIndex: 'name', width: 180, render: (n: string) => <Typography.Text strong>{n}</Typography.Text> },
    { title: t('events.sources.kind'), dataIndex: 'kind', width: 120, render: (k: Kind) => <Tag>{t(`events.kinds.${k}`)}</Tag> },
    { title: t('events.sources.org'), dataIndex: 'org_name', width: 120 },
    { title: t('events.sources.keyPrefix'), dataIndex: 'key_prefix', width: 140, render: (p: string) => <Typography.Text code>{p}…</Typography.Text> },
    {
      title: t('events.sources.enabled'), dataIndex: 'enabled', width: 90,
      render: (on: boolean) => <Tag color={on ? 'green' : 'default'}>{on ? t('events.sources.on') : t('events.sources.off')}</Tag>,
    },
    { title: t('events.sources.description'), dataIndex: 'description', ellipsis: true, render: (d: string | null) => d || '-' },
    { title: t('events.sources.createdAt'), dataIndex: 'created_at', width: 170, render: formatDateTime },
    { title: t('events.sources.rotatedAt'), dataIndex: 'rotated_at', width: 170, render: formatDateTime },
  ];
  if (manage) {
    columns.push({
      title: t('app.actions'), key: 'actions', width: 200, fixed: 'right',
      render: (_, row) => (
        <Space>
          <Popconfirm title={t('events.sources.rotateConfirm')} onConfirm={() => rotate.mutate(row.id)}>
            <Button size="small" icon={<KeyOutlined />} data-testid={`rotate-${row.id}`}>{t('events.sources.rotate')}</Button>
          </Popconfirm>
          <Button size="small" danger={row.enabled} onClick={() => toggle.mutate(row)}>
            {row.enabled ? t('events.sources.disable') : t('events.sources.enable')}
          </Button>
        </Space>
      ),
    });
  }
  const endpoint = `${window.location.origin}/v1/batch`;

  return (
    <Card>
      {manage && (
        <Button type="primary" icon={<PlusOutlined />} style={{ float: 'right' }} onClick={() => setCreating(true)}>
          {t('events.sources.create')}
        </Button>
      )}
      <Typography.Title level={4} className="ol-page-title">{t('events.sources.title')}</Typography.Title>
      <Typography.Paragraph type="secondary">
        {t('events.sources.hint')} {t('events.sources.endpoint')}: <Typography.Text code copyable>{endpoint}</Typography.Text>
      </Typography.Paragraph>
      <Table<Row>
        rowKey="id" size="middle" data-testid="sources-table" columns={columns} dataSource={query.data?.items ?? []}
        loading={query.isFetching && !query.data} scroll={{ x: 1300 }} locale={{ emptyText: t('events.sources.empty') }}
        pagination={{ current: page, pageSize: 20, total: query.data?.total ?? 0, onChange: setPage,
                      showTotal: (total) => t('app.total', { count: total }) }}
      />
      <Modal open={creating} title={t('events.sources.create')} onCancel={() => setCreating(false)}
             onOk={() => form.submit()} confirmLoading={create.isPending} destroyOnHidden>
        <Form form={form} layout="vertical" initialValues={{ kind: 'app' }} onFinish={(v) => create.mutate(v)}>
          <Form.Item name="name" label={t('events.sources.name')} rules={[{ required: true, whitespace: true, message: t('events.sources.nameRequired') }]}>
            <Input maxLength={100} />
          </Form.Item>
          <Form.Item name="kind" label={t('events.sources.kind')} extra={t('events.sources.partnerHint')}>
            <Select options={KINDS.map((k) => ({ value: k, label: t(`events.kinds.${k}`) }))} />
          </Form.Item>
          <Form.Item name="description" label={t('events.sources.description')}>
            <Input.TextArea maxLength={500} rows={2} />
          </Form.Item>
        </Form>
      </Modal>
      <Modal open={shown !== null} title={t('events.sources.keyTitle')} onCancel={() => setShown(null)}
             footer={<Button type="primary" onClick={() => setShown(null)}>{t('events.sources.saved')}</Button>}>
        <Alert type="warning" showIcon message={t('events.sources.keyWarning')} style={{ marginBottom: 16 }} />
        <Typography.Paragraph>{shown?.name}</Typography.Paragraph>
        <Typography.Paragraph copyable code data-testid="new-write-key">{shown?.write_key}</Typography.Paragraph>
      </Modal>
    </Card>
  );
}
