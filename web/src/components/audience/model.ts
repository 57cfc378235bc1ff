/**
 * The audience builder's editing model and its translation to and from the API's expression tree
 * (src/omniloop/audiences/expression.py). A group combines its conditions with AND or OR, may be negated
 * (NOT) and may exclude other conditions (MINUS, 排除); a condition is one predicate, optionally negated.
 * Every node carries a client id so that the estimate's per-node counts land on the right widget.
 */

export type Combinator = 'and' | 'or';
export type Scalar = string | boolean;

export interface ConditionNode {
  kind: 'condition';
  key: string;
  /** "tag:<code>", "feature:<name>", "list:<id>", "audience:<id>" or "" while not chosen yet. */
  field: string;
  values: Scalar[];
  min?: string | null;
  max?: string | null;
  negate: boolean;
}

export interface GroupNode {
  kind: 'group';
  key: string;
  op: Combinator;
  negate: boolean;
  children: EditorNode[];
  exclude: EditorNode[];
}

export type EditorNode = ConditionNode | GroupNode;
export type Expression = { [key: string]: unknown };

let counter = 0;
export function newKey(prefix = 'n'): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`;
}

export function newCondition(): ConditionNode {
  return { kind: 'condition', key: newKey('c'), field: '', values: [], min: null, max: null, negate: false };
}

export function newGroup(op: Combinator = 'and'): GroupNode {
  return { kind: 'group', key: newKey('g'), op, negate: false, children: [], exclude: [] };
}

export function fieldKind(field: string): 'tag' | 'feature' | 'list' | 'audience' | '' {
  const kind = field.split(':', 1)[0];
  return kind === 'tag' || kind === 'feature' || kind === 'list' || kind === 'audience' ? kind : '';
}

export function fieldName(field: string): string {
  return field.slice(field.indexOf(':') + 1);
}

/** The predicate of a complete condition; null while the user is still filling it in. */
function predicate(node: ConditionNode, isRange: (feature: string) => boolean): Expression | null {
  const kind = fieldKind(node.field);
  const name = fieldName(node.field);
  switch (kind) {
    case 'tag':
      return node.values.length ? { op: 'tag', tag: name, values: node.values } : null;
    case 'feature':
      if (isRange(name)) {
        const min = node.min === '' ? null : node.min ?? null;
        const max = node.max === '' ? null : node.max ?? null;
        return min === null && max === null ? null : { op: 'range', feature: name, min, max };
      }
      return node.values.length ? { op: 'feature', feature: name, in: node.values } : null;
    case 'list':
      return { op: 'list', list_id: Number(name) };
    case 'audience':
      return { op: 'audience', audience_id: Number(name) };
    default:
      return null;
  }
}

/** The expression for ``node``, or null when nothing in it is complete yet. The outermost node gets the key. */
export function toExpression(node: EditorNode, isRange: (feature: string) => boolean): Expression | null {
  let inner: Expression | null;
  if (node.kind === 'condition') {
    inner = predicate(node, isRange);
  } else {
    const children = node.children.map((c) => toExpression(c, isRange)).filter((c): c is Expression => c !== null);
    const exclude = node.exclude.map((c) => toExpression(c, isRange)).filter((c): c is Expression => c !== null);
    if (!children.length) return null;
    inner = { op: node.op, children };
    if (exclude.length) inner = { op: 'minus', id: `${node.key}:base`, base: inner, subtract: exclude };
  }
  if (!inner) return null;
  if (node.negate) return { op: 'not', id: node.key, child: { ...inner, id: inner.id ?? `${node.key}:inner` } };
  return { ...inner, id: node.key };
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A stored expression as an editing tree; anything the builder cannot show as groups becomes a group. */
export function fromExpression(data: Expression): GroupNode {
  const node = parse(data);
  if (node.kind === 'group') return node;
  const root = newGroup('and');
  root.children = [node];
  return root;
}

function parse(data: Expression): EditorNode {
  const op = data.op;
  if (op === 'not') {
    const child = parse((data.child ?? {}) as Expression);
    if (!child.negate) return { ...child, negate: true };
    const group = newGroup('and');
    group.children = [child];
    group.negate = true;
    return group;
  }
  if (op === 'and' || op === 'or') {
    const group = newGroup(op);
    group.children = asList(data.children).map((c) => parse(c as Expression));
    return group;
  }
  if (op === 'minus') {
    const base = parse((data.base ?? {}) as Expression);
    let group: GroupNode;
    if (base.kind === 'group' && !base.negate && base.exclude.length === 0) {
      group = base;
    } else {
      group = newGroup('and');
      group.children = [base];
    }
    group.exclude = asList(data.subtract).map((c) => parse(c as Expression));
    return group;
  }
  const condition = newCondition();
  if (op === 'tag') {
    condition.field = `tag:${String(data.tag)}`;
    condition.values = asList(data.values) as Scalar[];
  } else if (op === 'feature') {
    condition.field = `feature:${String(data.feature)}`;
    condition.values = asList(data.in) as Scalar[];
  } else if (op === 'range') {
    condition.field = `feature:${String(data.feature)}`;
    condition.min = data.min === null || data.min === undefined ? null : String(data.min);
    condition.max = data.max === null || data.max === undefined ? null : String(data.max);
  } else if (op === 'list') {
    condition.field = `list:${String(data.list_id)}`;
  } else if (op === 'audience') {
    condition.field = `audience:${String(data.audience_id)}`;
  }
  return condition;
}

/** Replace the node with ``key`` anywhere in the tree (returns a new tree). */
export function updateNode(root: GroupNode, key: string, change: (node: EditorNode) => EditorNode | null): GroupNode {
  const visit = (nodes: EditorNode[]): EditorNode[] =>
    nodes.flatMap((n) => {
      if (n.key === key) {
        const next = change(n);
        return next ? [next] : [];
      }
      if (n.kind === 'group') return [{ ...n, children: visit(n.children), exclude: visit(n.exclude) }];
      return [n];
    });
  if (root.key === key) {
    const next = change(root);
    return next && next.kind === 'group' ? next : root;
  }
  return { ...root, children: visit(root.children), exclude: visit(root.exclude) };
}

export function countConditions(node: EditorNode): number {
  if (node.kind === 'condition') return node.field ? 1 : 0;
  return [...node.children, ...node.exclude].reduce((sum, c) => sum + countConditions(c), 0);
}
