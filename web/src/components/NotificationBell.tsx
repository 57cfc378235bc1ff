import { useState } from 'react';
import { Badge, Button, Empty, List, Popover, Space, Switch, Typography } from 'antd';
import { BellOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { formatDateTime } from '../lib/format';

type Note = Schemas['NotificationRead'];
const POLL_MS = 30_000;

/** The notification centre (站内通知) in the header: unread count, latest notifications, mark read. */
export default function NotificationBell() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [unreadOnly, setUnreadOnly] = useState(false);
  const count = useQuery({
    queryKey: ['notifications', 'count'],
    queryFn: () => unwrap(api.GET('/api/notifications/unread-count')),
    refetchInterval: POLL_MS,
    meta: { silent: true },
  });
  const list = useQuery({
    queryKey: ['notifications', 'list', unreadOnly],
    queryFn: () => unwrap(api.GET('/api/notifications', { params: { query: { page_size: 10, unread_only: unreadOnly } } })),
    enabled: open,
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['notifications'] });
  const markRead = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/notifications/{notification_id}/read', { params: { path: { notification_id: id } } })),
    onSuccess: refresh,
  });
  const markAll = useMutation({ mutationFn: () => unwrap(api.POST('/api/notifications/read-all')), onSuccess: refresh });
  const openNote = (n: Note) => {
    if (!n.read_at) markRead.mutate(n.id);
    setOpen(false);
    if (n.link) navigate(n.link);
  };
  const content = (
    <div style={{ width: 360 }} data-testid="notification-list">
      <Space style={{ width: '100%', justifyContent: 'space-between', marginBottom: 8 }}>
        <Space size={4}>
          <Switch size="small" checked={unreadOnly} onChange={setUnreadOnly} />
          <span>{t('plans.notice.unreadOnly')}</span>
        </Space>
        <Button size="small" type="link" onClick={() => markAll.mutate()} disabled={!count.data?.unread}>
          {t('plans.notice.markAllRead')}
        </Button>
      </Space>
      <List
        size="small"
        loading={list.isFetching}
        dataSource={list.data?.items ?? []}
        locale={{ emptyText: <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t('plans.notice.empty')} /> }}
        renderItem={(n) => (
          <List.Item style={{ cursor: 'pointer', opacity: n.read_at ? 0.6 : 1 }} onClick={() => openNote(n)} data-testid="notification-item">
            <List.Item.Meta
              title={
                <Space size={6}>
                  {!n.read_at && <Badge status="processing" />}
                  <Typography.Text strong={!n.read_at}>{i18n.language === 'en' ? n.title_en : n.title_zh}</Typography.Text>
                </Space>
              }
              description={
                <>
                  {(i18n.language === 'en' ? n.body_en : n.body_zh) && <div>{i18n.language === 'en' ? n.body_en : n.body_zh}</div>}
                  <Typography.Text type="secondary">{formatDateTime(n.created_at)}</Typography.Text>
                </>
              }
            />
          </List.Item>
        )}
      />
    </div>
  );
  return (
    <Popover content={content} title={t('plans.notice.title')} trigger="click" open={open} onOpenChange={setOpen} placement="bottomRight">
      <Badge count={count.data?.unread ?? 0} size="small" offset={[-2, 2]} data-testid="notification-badge">
        <Button type="text" icon={<BellOutlined />} aria-label={t('plans.notice.title')} data-testid="notification-bell" />
      </Badge>
    </Popover>
  );
}
