import { useState } from 'react';
import { Alert, App, Button, Card, Drawer, Form, Input, InputNumber, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import FileUploadDialog, { formData } from '../components/FileUploadDialog';
import { formatDateTime, formatInt } from '../lib/format';

type List = Schemas['SuppressionListRead'];
type Entry = Schemas['EntryRead'];
type Report = Schemas['EntriesReport'];
const CHANNELS = ['app_push', 'sms', 'wechat', 'email', 'rm_task'] as const;

interface ListForm {
  name: string;
  kind: 'dnd' | 'suppression';
  channel?: (typeof CHANNELS)[number] | null;
  campaign_id?: number | null;
  description?: string | null;
}

/** 免打扰与屏蔽名单: the global do-not-disturb list and suppression lists per channel or campaign. */
export default function SuppressionListsPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const [page, setPage] = useState(1);
  const [creating, setCreating] = useState(false);
  const [selected, setSelected] = useState<List | null>(null);
  const [form] = Form.useForm<ListForm>();
  const kind = Form.useWatch('kind', form);
  const lists = useQuery({
    queryKey: ['suppression-lists', page],
    queryFn: () => unwrap(api.GET('/api/suppression-lists', { params: { query: { page, page_size: 20 } } })),
    placeholderData: keepPreviousData,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['suppression-lists'] });
  const create = useMutation({
    mutationFn: (v: ListForm) => unwrap(api.POST('/api/suppression-lists', { body: {
      name: v.name, kind: v.kind, channel: v.kind === 'dnd' ? null : v.channel ?? null,
      campaign_id: v.kind === 'dnd' ? null : v.campaign_id ?? null, description: v.description || null } })),
    onSuccess: () => { setCreating(false); form.resetFields(); void refresh(); },
    onError: (err) => message.error(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE('/api/suppression-lists/{list_id}', { params: { path: { list_id: id } } })),
    onSuccess: refresh,
    onError: (err) => message.error(errorMessage(err)),
  });
  const channelName = (c: string | null) => (c ? t(`contacts.channelNames.${c}` as 'contacts.channelNames.sms', { defaultValue: c }) : t('contacts.allChannels'));
  const columns: TableProps<List>['columns'] = [
    { title: t('contacts.name'), dataIndex: 'name', render: (n: string, r) => <Button type="link" style={{ padding: 0 }} onClick={() => setSelected(r)} data-testid={`suppression-list-${r.id}`}>{n}</Button> },
    { title: t('contacts.listKind'), dataIndex: 'kind', width: 140, render: (k: 'dnd' | 'suppression') => <Tag color={k === 'dnd' ? 'red' : 'orange'}>{t(`contacts.listKinds.${k}`)}</Tag> },
    { title: t('contacts.channel'), dataIndex: 'channel', width: 120, render: channelName },
    { title: t('contacts.campaignId'), dataIndex: 'campaign_id', width: 110, render: (c: number | null) => c ?? '-' },
    { title: t('contacts.entryCount'), dataIndex: 'entry_count', width: 100, align: 'right', render: formatInt },
    { title: t('contacts.description'), dataIndex: 'description', ellipsis: true },
    { title: t('app.actions'), key: 'actions', width: 90, render: (_, r) => (
      <Popconfirm title={t('contacts.deleteListConfirm')} onConfirm={() => remove.mutate(r.id)}><Button size="small" type="link" danger>{t('contacts.remove')}</Button></Popconfirm>) },
  ];
  return (
    <Card>
      <Typography.Title level={4} className="ol-page-title">{t('contacts.listsTitle')}</Typography.Title>
      <Typography.Paragraph type="secondary">{t('contacts.listsHint')}</Typography.Paragraph>
      <Button type="primary" icon={<PlusOutlined />} style={{ marginBottom: 12 }} onClick={() => { form.setFieldsValue({ kind: 'suppression', name: '' }); setCreating(true); }} data-testid="add-suppression-list">{t('contacts.addList')}</Button>
      <Table<List> rowKey="id" size="small" data-testid="suppression-lists-table" columns={columns} dataSource={lists.data?.items ?? []}
                   loading={lists.isFetching && !lists.data}
                   pagination={{ current: page, pageSize: 20, total: lists.data?.total ?? 0, onChange: setPage, showTotal: (total) => t('app.total', { count: total }) }} />
      <Modal open={creating} title={t('contacts.addList')} onCancel={() => setCreating(false)} onOk={() => form.submit()} confirmLoading={create.isPending}
             okText={t('app.save')} cancelText={t('app.cancel')} destroyOnClose>
        <Form form={form} layout="vertical" onFinish={(v) => create.mutate(v)}>
          <Form.Item name="name" label={t('contacts.name')} rules={[{ required: true, whitespace: true }]}><Input maxLength={100} data-testid="suppression-list-name" /></Form.Item>
          <Form.Item name="kind" label={t('contacts.listKind')} rules={[{ required: true }]}>
            <Select options={(['suppression', 'dnd'] as const).map((k) => ({ value: k, label: t(`contacts.listKinds.${k}`) }))} />
          </Form.Item>
          {kind === 'suppression' && (
            <Space wrap>
              <Form.Item name="channel" label={t('contacts.channel')}>
                <Select style={{ width: 160 }} allowClear placeholder={t('contacts.allChannels')} options={CHANNELS.map((c) => ({ value: c, label: channelName(c) }))} />
              </Form.Item>
              <Form.Item name="campaign_id" label={t('contacts.campaignId')}><InputNumber min={1} /></Form.Item>
            </Space>
          )}
          <Form.Item name="description" label={t('contacts.description')}><Input.TextArea rows={2} maxLength={500} /></Form.Item>
        </Form>
      </Modal>
      <Drawer open={selected !== null} width={720} title={selected?.name} onClose={() => setSelected(null)} destroyOnClose>
        {selected && <Entries list={selected} onChanged={refresh} />}
      </Drawer>
    </Card>
  );
}

function Entries({ list, onChanged }: { list: List; onChanged: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const [page, setPage] = useState(1);
  const [numbers, setNumbers] = useState('');
  const [reason, setReason] = useState('');
  const entries = useQuery({
    queryKey: ['suppression-entries', list.id, page],
    queryFn: () => unwrap(api.GET('/api/suppression-lists/{list_id}/entries', { params: { path: { list_id: list.id }, query: { page, page_size: 20 } } })),
    placeholderData: keepPreviousData,
  });
  const changed = () => { void client.invalidateQueries({ queryKey: ['suppression-entries', list.id] }); onChanged(); };
  const split = (s: string) => s.split(/[\s,，]+/).filter(Boolean).slice(0, 1000);
  const add = useMutation({
    mutationFn: () => unwrap(api.POST('/api/suppression-lists/{list_id}/entries', { params: { path: { list_id: list.id } }, body: { customer_nos: split(numbers), reason: reason || null } })),
    onSuccess: (r) => { void message.success(t('contacts.uploadDone', { added: r.added, already: r.already, unknown: r.unknown_count })); setNumbers(''); changed(); },
    onError: (err) => message.error(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (no: string) => unwrap(api.POST('/api/suppression-lists/{list_id}/entries/remove', { params: { path: { list_id: list.id } }, body: { customer_nos: [no] } })),
    onSuccess: changed,
    onError: (err) => message.error(errorMessage(err)),
  });
  return (
    <Space direction="vertical" style={{ width: '100%' }}>
      <Space wrap align="start">
        <Input.TextArea rows={2} style={{ width: 280 }} value={numbers} onChange={(e) => setNumbers(e.target.value)} placeholder={t('contacts.customerNos')} data-testid="suppression-add-numbers" />
        <Input style={{ width: 160 }} value={reason} onChange={(e) => setReason(e.target.value)} placeholder={t('contacts.reasonText')} maxLength={200} />
        <Button type="primary" disabled={!split(numbers).length} loading={add.isPending} onClick={() => add.mutate()} data-testid="suppression-add-submit">{t('contacts.addEntries')}</Button>
        <FileUploadDialog<Report>
          buttonText={t('contacts.upload')} buttonTestId="suppression-upload" title={t('contacts.upload')} hint={t('contacts.listsHint')}
          dropText={t('contacts.upload')} submitText={t('contacts.upload')} cancelText={t('app.cancel')} doneText={t('app.confirm')}
          accept=".csv,.xlsx,.parquet"
          send={(f) => unwrap(api.POST('/api/suppression-lists/{list_id}/upload', {
            params: { path: { list_id: list.id } }, body: { file: f as unknown as string }, bodySerializer: () => formData(f, { reason: reason || null }),
          }))}
          onSent={changed}
          renderResult={(r) => <Alert type="success" showIcon message={t('contacts.uploadDone', { added: r.added, already: r.already, unknown: r.unknown_count })} />}
        />
      </Space>
      <Table<Entry> rowKey="id" size="small" data-testid="suppression-entries-table" dataSource={entries.data?.items ?? []} loading={entries.isFetching && !entries.data}
                    pagination={{ current: page, pageSize: 20, total: entries.data?.total ?? 0, onChange: setPage, showTotal: (total) => t('app.total', { count: total }) }}
                    columns={[
                      { title: t('customers.customerNo'), dataIndex: 'customer_no' },
                      { title: t('contacts.name'), dataIndex: 'customer_name' },
                      { title: t('contacts.reasonText'), dataIndex: 'reason', render: (r: string | null) => r ?? '-' },
                      { title: t('contacts.source'), dataIndex: 'source', width: 90 },
                      { title: t('contacts.addedAt'), dataIndex: 'added_at', width: 170, render: formatDateTime },
                      { title: t('app.actions'), key: 'a', width: 80, render: (_, e) => <Button size="small" type="link" danger onClick={() => remove.mutate(e.customer_no)}>{t('contacts.remove')}</Button> },
                    ]} />
    </Space>
  );
}
