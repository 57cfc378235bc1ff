import { Button, DatePicker, InputNumber, Select, Space, Switch, Tag, Tooltip } from 'antd';
import { DeleteOutlined } from '@ant-design/icons';
import { useTranslation } from 'react-i18next';
import { dayjs, formatInt } from '../../lib/format';
import { type Catalog, featureOf, fromWidget, label, tagOf, toWidget } from './catalog';
import { type ConditionNode, fieldKind, fieldName } from './model';

interface Props {
  node: ConditionNode;
  catalog: Catalog | undefined;
  count: number | undefined;
  currentAudienceId?: number;
  onChange: (node: ConditionNode) => void;
  onRemove: () => void;
}

/** One condition: what to look at (tag, feature, list, saved audience), which values or range, NOT, its count. */
export default function ConditionRow({ node, catalog, count, currentAudienceId, onChange, onRemove }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const kind = fieldKind(node.field);
  const name = fieldName(node.field);
  const feature = kind === 'feature' ? featureOf(catalog, name) : undefined;
  const tag = kind === 'tag' ? tagOf(catalog, name) : undefined;
  const values = tag?.values ?? feature?.values ?? [];
  const valueKind = tag?.kind ?? feature?.kind ?? 'enum';
  const isRange = feature?.condition === 'range';
  const unit = feature ? (lang === 'en' ? feature.unit_en : feature.unit_zh) : null;

  const fieldOptions = [
    {
      label: t('audiences.builder.groupTags'),
      options: (catalog?.tags ?? []).map((tg) => ({ value: `tag:${tg.code}`, label: lang === 'en' ? tg.name_en : tg.name_zh })),
    },
    {
      label: t('audiences.builder.groupFeatures'),
      options: (catalog?.features ?? []).map((f) => ({ value: `feature:${f.name}`, label: label(f, lang) })),
    },
    {
      label: t('audiences.builder.groupLists'),
      options: (catalog?.lists ?? []).map((l) => ({
        value: `list:${l.id}`,
        label: `${l.name}（${formatInt(l.size)}）`,
      })),
    },
    {
      label: t('audiences.builder.groupAudiences'),
      options: (catalog?.audiences ?? [])
        .filter((a) => a.id !== currentAudienceId)
        .map((a) => ({ value: `audience:${a.id}`, label: a.name })),
    },
  ].filter((g) => g.options.length);

  const setRange = (which: 'min' | 'max', value: string | null) => onChange({ ...node, [which]: value });

  return (
    <div className="ol-audience-condition" data-testid="condition-row">
      <Space wrap align="center" size={8}>
        <Select
          showSearch
          optionFilterProp="label"
          style={{ width: 220 }}
          placeholder={t('audiences.builder.chooseField')}
          value={node.field || undefined}
          options={fieldOptions}
          onChange={(field: string) => onChange({ ...node, field, values: [], min: null, max: null })}
          data-testid="condition-field"
        />
        {(kind === 'tag' || (kind === 'feature' && !isRange)) && (
          <Select
            mode="multiple"
            allowClear
            style={{ minWidth: 220 }}
            placeholder={t('audiences.builder.chooseValues')}
            value={node.values.map(toWidget)}
            options={values.map((v) => ({ value: toWidget(v.value), label: label(v, lang) }))}
            onChange={(picked: string[]) => onChange({ ...node, values: picked.map((v) => fromWidget(v, valueKind)) })}
            data-testid="condition-values"
          />
        )}
        {isRange && feature?.kind === 'date' && (
          <DatePicker.RangePicker
            allowEmpty={[true, true]}
            value={[node.min ? dayjs(node.min) : null, node.max ? dayjs(node.max) : null]}
            onChange={(range) =>
              onChange({
                ...node,
                min: range?.[0] ? range[0].format('YYYY-MM-DD') : null,
                max: range?.[1] ? range[1].format('YYYY-MM-DD') : null,
              })
            }
          />
        )}
        {isRange && feature?.kind !== 'date' && (
          <Space.Compact>
            <InputNumber<string>
              stringMode
              style={{ width: 120 }}
              placeholder={t('audiences.builder.min')}
              value={node.min ?? null}
              precision={feature?.kind === 'integer' ? 0 : feature?.kind === 'money' ? 2 : undefined}
              onChange={(v) => setRange('min', v === null || v === '' ? null : String(v))}
              data-testid="condition-min"
            />
            <InputNumber<string>
              stringMode
              style={{ width: 120 }}
              placeholder={t('audiences.builder.max')}
              value={node.max ?? null}
              precision={feature?.kind === 'integer' ? 0 : feature?.kind === 'money' ? 2 : undefined}
              onChange={(v) => setRange('max', v === null || v === '' ? null : String(v))}
              data-testid="condition-max"
              addonAfter={unit || undefined}
            />
          </Space.Compact>
        )}
        <Tooltip title={t('audiences.builder.negateHint')}>
          <Space size={4}>
            <Switch size="small" checked={node.negate} onChange={(negate) => onChange({ ...node, negate })} />
            <span>{t('audiences.builder.negate')}</span>
          </Space>
        </Tooltip>
        <Tag color={count === undefined ? 'default' : 'blue'} data-testid="condition-count">
          {count === undefined ? '—' : t('audiences.builder.people', { n: formatInt(count) })}
        </Tag>
        <Button type="text" danger icon={<DeleteOutlined />} onClick={onRemove} aria-label={t('audiences.builder.remove')} />
      </Space>
    </div>
  );
}
