import { useState } from 'react';
import { App, Button, Card, Form, Input, Popconfirm, Space, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { PlusOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { formatDateTime } from '../lib/format';

type Word = Schemas['BlockedWordRead'];

/** 敏感词: the blocked-word list every message template is checked against. */
export default function BlockedWordsPage() {
  const { t } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const client = useQueryClient();
  const manage = can('elements.manage');
  const [page, setPage] = useState(1);
  const [q, setQ] = useState<string | undefined>();
  const [form] = Form.useForm<{ word: string; category?: string }>();
  const query = useQuery({
    queryKey: ['blocked-words', page, q],
    queryFn: () => unwrap(api.GET('/api/blocked-words', { params: { query: { page, page_size: 50, q } } })),
    placeholderData: keepPreviousData,
  });
  const refresh = () => client.invalidateQueries({ queryKey: ['blocked-words'] });
  const add = useMutation({
    mutationFn: (body: { word: string; category?: string }) => unwrap(api.POST('/api/blocked-words', { body: { word: body.word, category: body.category || null } })),
    onSuccess: () => { form.resetFields(); refresh(); },
    onError: (err) => message.error(errorMessage(err)),
  });
  const remove = useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE('/api/blocked-words/{word_id}', { params: { path: { word_id: id } } })),
    onSuccess: refresh,
    onError: (err) => message.error(errorMessage(err)),
  });
  const columns: TableProps<Word>['columns'] = [
    { title: t('elements.words.word'), dataIndex: 'word', render: (w: string) => <Typography.Text strong>{w}</Typography.Text> },
    { title: t('elements.words.category'), dataIndex: 'category', width: 160, render: (c: string | null) => (c ? <Tag>{c}</Tag> : '-') },
    { title: t('elements.words.createdAt'), dataIndex: 'created_at', width: 180, render: formatDateTime },
  ];
  if (manage) {
    columns.push({ title: t('app.actions'), key: 'actions', width: 100,
      render: (_, w) => <Popconfirm title={t('elements.deleteConfirm')} onConfirm={() => remove.mutate(w.id)}><Button size="small" type="text" danger>{t('elements.delete')}</Button></Popconfirm> });
  }
  return (
    <Card>
      <Typography.Title level={4} className="ol-page-title">{t('elements.words.title')}</Typography.Title>
      <Typography.Paragraph type="secondary">{t('elements.words.hint')}</Typography.Paragraph>
      <Space style={{ marginBottom: 12 }} wrap>
        <Input.Search allowClear placeholder={t('elements.words.search')} style={{ width: 220 }} onSearch={(v) => { setQ(v.trim() || undefined); setPage(1); }} />
        {manage && (
          <Form form={form} layout="inline" onFinish={(v) => add.mutate(v)}>
            <Form.Item name="word" rules={[{ required: true, whitespace: true }]}><Input placeholder={t('elements.words.word')} maxLength={50} data-testid="blocked-word-input" /></Form.Item>
            <Form.Item name="category"><Input placeholder={t('elements.words.category')} maxLength={32} /></Form.Item>
            <Button type="primary" htmlType="submit" icon={<PlusOutlined />} loading={add.isPending} data-testid="add-blocked-word">{t('elements.words.add')}</Button>
          </Form>)}
      </Space>
      <Table<Word> rowKey="id" size="small" data-testid="blocked-words-table" columns={columns} dataSource={query.data?.items ?? []}
                   loading={query.isFetching && !query.data} locale={{ emptyText: t('elements.words.empty') }}
                   pagination={{ current: page, pageSize: 50, total: query.data?.total ?? 0, onChange: setPage, showTotal: (total) => t('app.total', { count: total }) }} />
    </Card>
  );
}
