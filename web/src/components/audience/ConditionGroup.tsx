import { Button, Card, Segmented, Space, Switch, Tag, Tooltip, Typography } from 'antd';
import { DeleteOutlined, MinusCircleOutlined, PlusOutlined, PartitionOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { formatInt } from '../../lib/format';
import type { Catalog } from './catalog';
import ConditionRow from './ConditionRow';
import { type Combinator, type EditorNode, type GroupNode, newCondition, newGroup } from './model';

interface Props {
  group: GroupNode;
  catalog: Catalog | undefined;
  counts: Map<string, number>;
  currentAudienceId?: number;
  depth?: number;
  onChange: (group: GroupNode) => void;
  onRemove?: () => void;
}

const MAX_DEPTH = 4;

/** A condition group (条件组): AND / OR over its items, optionally NOT, with an exclusion list (MINUS, 排除). */
export default function ConditionGroup({ group, catalog, counts, currentAudienceId, depth = 0, onChange, onRemove }: Props) {
  const { t } = useTranslation();
  const count = counts.get(group.key);

  const replace = (list: 'children' | 'exclude', key: string, next: EditorNode | null) =>
    onChange({
      ...group,
      [list]: group[list].flatMap((n) => (n.key === key ? (next ? [next] : []) : [n])),
    });

  const renderItems = (list: 'children' | 'exclude') =>
    group[list].map((item) =>
      item.kind === 'condition' ? (
        <ConditionRow
          key={item.key}
          node={item}
          catalog={catalog}
          count={counts.get(item.key)}
          currentAudienceId={currentAudienceId}
          onChange={(next) => replace(list, item.key, next)}
          onRemove={() => replace(list, item.key, null)}
        />
      ) : (
        <ConditionGroup
          key={item.key}
          group={item}
          catalog={catalog}
          counts={counts}
          currentAudienceId={currentAudienceId}
          depth={depth + 1}
          onChange={(next) => replace(list, item.key, next)}
          onRemove={() => replace(list, item.key, null)}
        />
      ),
    );

  const addButtons = (list: 'children' | 'exclude') => (
    <Space wrap>
      <Button
        size="small"
        icon={<PlusOutlined />}
        onClick={() => onChange({ ...group, [list]: [...group[list], newCondition()] })}
        data-testid={list === 'children' ? 'add-condition' : 'add-exclusion'}
      >
        {list === 'children' ? t('audiences.builder.addCondition') : t('audiences.builder.addExclusion')}
      </Button>
      {depth < MAX_DEPTH && (
        <Button
          size="small"
          icon={<PartitionOutlined />}
          onClick={() => onChange({ ...group, [list]: [...group[list], { ...newGroup(group.op === 'and' ? 'or' : 'and'), children: [newCondition()] }] })}
          data-testid={list === 'children' ? 'add-group' : undefined}
        >
          {t('audiences.builder.addGroup')}
        </Button>
      )}
    </Space>
  );

  return (
    <Card
      size="small"
      className={depth === 0 ? 'ol-audience-root' : 'ol-audience-group'}
      data-testid={depth === 0 ? 'root-group' : 'condition-group'}
      styles={{ body: { padding: 12 } }}
      title={
        <Space wrap size={8}>
          <Segmented<Combinator>
            size="small"
            value={group.op}
            onChange={(op) => onChange({ ...group, op })}
            options={[
              { value: 'and', label: t('audiences.builder.and') },
              { value: 'or', label: t('audiences.builder.or') },
            ]}
            data-testid="group-op"
          />
          <Typography.Text type="secondary" style={{ fontWeight: 'normal' }}>
            {group.op === 'and' ? t('audiences.builder.andHint') : t('audiences.builder.orHint')}
          </Typography.Text>
          {depth > 0 && (
            <Tooltip title={t('audiences.builder.negateGroupHint')}>
              <Space size={4} style={{ fontWeight: 'normal' }}>
                <Switch size="small" checked={group.negate} onChange={(negate) => onChange({ ...group, negate })} />
                <span>{t('audiences.builder.negate')}</span>
              </Space>
            </Tooltip>
          )}
        </Space>
      }
      extra={
        <Space>
          {count !== undefined && depth > 0 && (
            <Tag color="geekblue" data-testid="group-count">
              {t('audiences.builder.people', { n: formatInt(count) })}
            </Tag>
          )}
          {onRemove && <Button type="text" danger size="small" icon={<DeleteOutlined />} onClick={onRemove} aria-label={t('audiences.builder.remove')} />}
        </Space>
      }
    >
      <Space direction="vertical" style={{ width: '100%' }} size={8}>
        {group.children.length === 0 && (
          <Typography.Text type="secondary">{t('audiences.builder.emptyGroup')}</Typography.Text>
        )}
        {renderItems('children')}
        {addButtons('children')}
        {(group.exclude.length > 0 || depth === 0) && (
          <div className="ol-audience-exclude" data-testid="exclude-section">
            <Typography.Text strong>
              <MinusCircleOutlined /> {t('audiences.builder.excludeTitle')}
            </Typography.Text>
            <Typography.Text type="secondary" style={{ marginLeft: 8 }}>
              {t('audiences.builder.excludeHint')}
            </Typography.Text>
            <Space direction="vertical" style={{ width: '100%', marginTop: 8 }} size={8}>
              {renderItems('exclude')}
              {addButtons('exclude')}
            </Space>
          </div>
        )}
      </Space>
    </Card>
  );
}
