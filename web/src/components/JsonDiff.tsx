import { useState } from 'react';
import { Space, Switch, Table, Typography } from 'antd';
import { useTranslation } from 'react-i18next';

type Json = Record<string, unknown> | null | undefined;

function show(value: unknown): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Field-by-field before/after table of an audit record; changed fields are highlighted. */
export default function JsonDiff({ before, after }: { before: Json; after: Json }) {
  const { t } = useTranslation();
  const [showAll, setShowAll] = useState(false);
  const keys = Array.from(new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])).sort();
  const rows = keys.map((key) => {
    const b = before ? before[key] : undefined;
    const a = after ? after[key] : undefined;
    return { key, before: b, after: a, changed: JSON.stringify(b) !== JSON.stringify(a) };
  });
  const visible = showAll || !before || !after ? rows : rows.filter((r) => r.changed);
  return (
    <Space direction="vertical" style={{ width: '100%' }} data-testid="audit-diff">
      {before && after && (
        <Space>
          <Switch size="small" checked={showAll} onChange={setShowAll} />
          <Typography.Text type="secondary">{t('audit.showUnchanged')}</Typography.Text>
        </Space>
      )}
      <Table
        size="small"
        pagination={false}
        rowKey="key"
        dataSource={visible}
        locale={{ emptyText: t('audit.noChanges') }}
        rowClassName={(r) => (r.changed && before && after ? 'ol-diff-changed' : '')}
        columns={[
          { title: t('audit.field'), dataIndex: 'key', width: 200, render: (k: string) => <Typography.Text code>{k}</Typography.Text> },
          {
            title: t('audit.before'),
            dataIndex: 'before',
            render: (v: unknown, r) => (
              <Typography.Text delete={r.changed && !!before && !!after} type={r.changed ? 'danger' : undefined}>
                {show(v)}
              </Typography.Text>
            ),
          },
          {
            title: t('audit.after'),
            dataIndex: 'after',
            render: (v: unknown, r) => <Typography.Text type={r.changed ? 'success' : undefined}>{show(v)}</Typography.Text>,
          },
        ]}
      />
    </Space>
  );
}
