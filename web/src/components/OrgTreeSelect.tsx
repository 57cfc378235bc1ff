import { TreeSelect } from 'antd';
import { useTranslation } from 'react-i18next';
import { useOrgTree, type OrgNode } from '../hooks/useOrgs';
import { orgName } from '../lib/names';

interface Props {
  value?: number | null;
  onChange?: (value: number | undefined) => void;
  placeholder?: string;
  allowClear?: boolean;
  style?: React.CSSProperties;
  disabledIds?: Set<number>;
  id?: string;
}

interface TreeItem {
  value: number;
  title: string;
  children: TreeItem[];
  disabled?: boolean;
}

function toTree(node: OrgNode, lang: string, disabled?: Set<number>): TreeItem {
  return {
    value: node.id,
    title: `${orgName(node, lang)} (${node.code})`,
    disabled: disabled?.has(node.id),
    children: (node.children ?? []).map((c) => toTree(c, lang, disabled)),
  };
}

/** Org picker over the user's subtree (GET /api/orgs/tree). */
export default function OrgTreeSelect({ value, onChange, placeholder, allowClear = true, style, disabledIds, id }: Props) {
  const { i18n } = useTranslation();
  const { data, isLoading } = useOrgTree();
  return (
    <TreeSelect<number>
      id={id}
      style={style}
      value={value ?? undefined}
      onChange={(v) => onChange?.(v ?? undefined)}
      placeholder={placeholder}
      allowClear={allowClear}
      loading={isLoading}
      showSearch
      treeNodeFilterProp="title"
      treeDefaultExpandAll
      treeData={data ? [toTree(data, i18n.language, disabledIds)] : []}
      popupMatchSelectWidth={false}
    />
  );
}
