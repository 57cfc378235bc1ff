import { Descriptions, Tag, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import type { Schemas } from '../../api/client';
import { formatDateTime } from '../../lib/format';

type Event = Schemas['EventRead'];

const TYPE_COLORS: Record<Event['type'], string> = {
  track: 'blue', page: 'green', screen: 'cyan', identify: 'purple', group: 'gold', alias: 'magenta',
};

export function EventTypeTag({ type }: { type: Event['type'] }) {
  const { t } = useTranslation();
  return <Tag color={TYPE_COLORS[type]}>{t(`events.types.${type}`)}</Tag>;
}

/** The expanded row of an event: ids, the three clocks, properties and context as JSON. */
export default function EventDetail({ event }: { event: Event }) {
  const { t } = useTranslation();
  return (
    <Descriptions size="small" column={2} bordered>
      <Descriptions.Item label="messageId">{event.message_id}</Descriptions.Item>
      <Descriptions.Item label={t('events.stream.source')}>{event.source_name ?? event.source_id}</Descriptions.Item>
      <Descriptions.Item label="userId">{event.user_id ?? '-'}</Descriptions.Item>
      <Descriptions.Item label={t('events.stream.anonymous')}>{event.anonymous_id ?? '-'}</Descriptions.Item>
      <Descriptions.Item label="originalTimestamp">{formatDateTime(event.original_timestamp)}</Descriptions.Item>
      <Descriptions.Item label="sentAt">{formatDateTime(event.sent_at)}</Descriptions.Item>
      <Descriptions.Item label={t('events.stream.properties')} span={2}>
        <Typography.Text code style={{ whiteSpace: 'pre-wrap' }}>{JSON.stringify(event.properties ?? {}, null, 2)}</Typography.Text>
      </Descriptions.Item>
      <Descriptions.Item label={t('events.stream.context')} span={2}>
        <Typography.Text type="secondary" style={{ whiteSpace: 'pre-wrap', fontSize: 12 }}>{JSON.stringify(event.context ?? {})}</Typography.Text>
      </Descriptions.Item>
    </Descriptions>
  );
}
