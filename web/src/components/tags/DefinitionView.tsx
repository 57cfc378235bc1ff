import { Descriptions, Table, Tag, Typography } from 'antd';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../../api/client';
import { useAuth } from '../../auth/AuthContext';
import { formatInt } from '../../lib/format';
import { useTagCatalog } from './hooks';
import { useTagLabels, type Source, type ValueType } from './labels';

type Json = Record<string, unknown>;
type Bucket = { value?: unknown; label_zh?: string; label_en?: string; min?: number | null; max?: number | null };
type Case = { value?: unknown; label_zh?: string; label_en?: string; rule?: string };

const asObject = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const asArray = <T,>(v: unknown): T[] => (Array.isArray(v) ? (v as T[]) : []);

function Rule({ text }: { text: unknown }) {
  return (
    <Typography.Text code style={{ whiteSpace: 'pre-wrap' }} data-testid="definition-rule">
      {typeof text === 'string' ? text : '-'}
    </Typography.Text>
  );
}

/** "≥ 10,000 且 < 50,000 元" for a bucket [min, max). */
export function useBucketRange() {
  const { t } = useTranslation();
  return (b: Bucket, unit = '') => {
    const parts: string[] = [];
    if (b.min !== null && b.min !== undefined) parts.push(`≥ ${formatInt(b.min)}`);
    if (b.max !== null && b.max !== undefined) parts.push(`< ${formatInt(b.max)}`);
    return parts.length ? `${parts.join(` ${t('tags.def.and')} `)}${unit ? ' ' + unit : ''}` : t('tags.def.anyValue');
  };
}

function Buckets({ buckets, unit }: { buckets: Bucket[]; unit?: string }) {
  const { t } = useTranslation();
  const labels = useTagLabels();
  const range = useBucketRange();
  return (
    <Table<Bucket>
      size="small"
      rowKey={(b, i) => `${String(b.value)}-${i}`}
      pagination={false}
      dataSource={buckets}
      columns={[
        { title: t('tags.def.value'), dataIndex: 'value', width: 140, render: (v) => <Typography.Text code>{String(v)}</Typography.Text> },
        { title: t('tags.def.label'), key: 'label', width: 180, render: (_, b) => labels.label(b, String(b.value)) },
        { title: t('tags.def.range'), key: 'range', render: (_, b) => range(b, unit) },
      ]}
    />
  );
}

function ListName({ listId }: { listId: number }) {
  const { can } = useAuth();
  const query = useQuery({
    queryKey: ['customer-lists', 'one', listId],
    queryFn: () => unwrap(api.GET('/api/customer-lists/{list_id}', { params: { path: { list_id: listId } } })),
    enabled: can('audiences.read') && listId > 0,
    meta: { silent: true },
  });
  const { t } = useTranslation();
  if (!query.data) return <span>#{listId}</span>;
  return (
    <span>
      {can('audiences.read') ? <Link to={`/customer-lists?q=${encodeURIComponent(query.data.name)}`}>{query.data.name}</Link> : query.data.name}{' '}
      <Typography.Text type="secondary">
        (#{listId} · {t('tags.lists.sizeN', { n: formatInt(query.data.size) })})
      </Typography.Text>
    </span>
  );
}

/** A tag's definition (口径) as a bank operator reads it: rules, values with their rules, buckets, list, score, event. */
export default function DefinitionView({ source, valueType, definition }: { source: Source; valueType: ValueType; definition: Json }) {
  const { t } = useTranslation();
  const labels = useTagLabels();
  const catalog = useTagCatalog();
  const feature = (name: unknown) => {
    const f = catalog.data?.features.find((x) => x.name === name);
    return f ? `${labels.label(f)} (${f.name})` : String(name ?? '-');
  };
  const d = asObject(definition);

  if (source === 'rule' && valueType === 'boolean') {
    return (
      <Descriptions size="small" column={1} bordered>
        <Descriptions.Item label={t('tags.def.rule')}>
          <Rule text={d.rule} />
        </Descriptions.Item>
      </Descriptions>
    );
  }
  if (source === 'rule' && valueType === 'enum') {
    const other = asObject(d.else);
    const cases = asArray<Case>(d.cases);
    return (
      <>
        <Typography.Paragraph type="secondary">{t('tags.def.firstMatch')}</Typography.Paragraph>
        <Table<Case>
          size="small"
          rowKey={(c, i) => `${String(c.value)}-${i}`}
          pagination={false}
          dataSource={cases}
          data-testid="definition-cases"
          columns={[
            { title: '#', key: 'n', width: 48, render: (_, __, i) => i + 1 },
            { title: t('tags.def.value'), dataIndex: 'value', width: 140, render: (v) => <Typography.Text code>{String(v)}</Typography.Text> },
            { title: t('tags.def.label'), key: 'label', width: 160, render: (_, c) => labels.label(c, String(c.value)) },
            { title: t('tags.def.rule'), dataIndex: 'rule', render: (r) => <Rule text={r} /> },
          ]}
        />
        <div style={{ marginTop: 8 }}>
          <Typography.Text type="secondary">{t('tags.def.else')}：</Typography.Text>
          {other.value !== undefined && other.value !== null ? (
            <Tag>
              {labels.label(other as Case, String(other.value))} ({String(other.value)})
            </Tag>
          ) : (
            <Typography.Text type="secondary">{t('tags.def.noElse')}</Typography.Text>
          )}
        </div>
      </>
    );
  }
  if (source === 'rule') {
    const f = catalog.data?.features.find((x) => x.name === d.feature);
    return (
      <>
        <Descriptions size="small" column={1} bordered style={{ marginBottom: 12 }}>
          <Descriptions.Item label={t('tags.def.feature')}>{feature(d.feature)}</Descriptions.Item>
        </Descriptions>
        <Buckets buckets={asArray<Bucket>(d.buckets)} unit={f?.kind === 'money' ? t('tags.def.yuan') : ''} />
      </>
    );
  }
  if (source === 'list') {
    return (
      <Descriptions size="small" column={1} bordered>
        <Descriptions.Item label={t('tags.def.list')}>
          {typeof d.list_id === 'number' ? <ListName listId={d.list_id} /> : '-'}
        </Descriptions.Item>
        <Descriptions.Item label={t('tags.def.meaning')}>{t('tags.def.listMeaning')}</Descriptions.Item>
      </Descriptions>
    );
  }
  if (source === 'model_score') {
    return (
      <>
        <Descriptions size="small" column={1} bordered style={{ marginBottom: 12 }}>
          <Descriptions.Item label={t('tags.def.model')}>{typeof d.model === 'string' && d.model ? d.model : '-'}</Descriptions.Item>
          {valueType === 'boolean' && (
            <Descriptions.Item label={t('tags.def.threshold')}>
              {t('tags.def.thresholdMeaning', { threshold: String(d.threshold ?? '-') })}
            </Descriptions.Item>
          )}
        </Descriptions>
        {valueType !== 'boolean' && <Buckets buckets={asArray<Bucket>(d.buckets)} />}
      </>
    );
  }
  const flt = d.filter ? asObject(d.filter) : null;
  const fltValue = flt && Array.isArray(flt.value) ? `(${(flt.value as unknown[]).join(', ')})` : flt?.value;
  return (
    <>
      <Descriptions size="small" column={1} bordered style={{ marginBottom: 12 }}>
        <Descriptions.Item label={t('tags.def.event')}>
          <Typography.Text code>{String(d.event ?? '-')}</Typography.Text>
          {typeof d.event_type === 'string' && <Tag style={{ marginLeft: 8 }}>{d.event_type}</Tag>}
        </Descriptions.Item>
        <Descriptions.Item label={t('tags.def.window')}>{t('tags.def.withinDays', { n: String(d.within_days ?? '-') })}</Descriptions.Item>
        <Descriptions.Item label={t('tags.def.filter')}>
          {flt ? (
            <Typography.Text code>
              {String(flt.property)} {String(flt.op ?? '=')} {flt.op === 'exists' ? '' : String(fltValue ?? '')}
            </Typography.Text>
          ) : (
            t('tags.def.noFilter')
          )}
        </Descriptions.Item>
        <Descriptions.Item label={t('tags.def.meaning')}>
          {valueType === 'boolean' ? t('tags.def.eventDid') : t('tags.def.eventCount')}
        </Descriptions.Item>
      </Descriptions>
      {valueType !== 'boolean' && <Buckets buckets={asArray<Bucket>(d.buckets)} unit={t('tags.def.times')} />}
    </>
  );
}
