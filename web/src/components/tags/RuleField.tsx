import { Input, Typography } from 'antd';
import type { TextAreaProps } from 'antd/es/input';
import { useTranslation } from 'react-i18next';
import type { Problem } from './problems';

/** A rule's text in a monospace box; antd's Form.Item passes value / onChange / id. */
export function RuleInput(props: TextAreaProps) {
  const { t } = useTranslation();
  return (
    <Input.TextArea
      {...props}
      autoSize={{ minRows: 2, maxRows: 8 }}
      spellCheck={false}
      placeholder={props.placeholder ?? t('tags.editor.rulePlaceholder')}
      style={{ fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', ...props.style }}
    />
  );
}

/** The line of `text` a problem points at, with the offending characters marked. */
function Pointer({ text, problem }: { text: string; problem: Problem }) {
  if (problem.offset === null || problem.offset === undefined || problem.line === null || problem.line === undefined) return null;
  const chars = Array.from(text); // offsets count code points, as the server does
  let start = problem.offset;
  while (start > 0 && chars[start - 1] !== '\n') start -= 1;
  let end = problem.offset;
  while (end < chars.length && chars[end] !== '\n') end += 1;
  const from = problem.offset - start;
  const length = Math.max(1, problem.length ?? 1);
  const line = chars.slice(start, end);
  const before = line.slice(0, from).join('');
  const marked = line.slice(from, from + length).join('') || ' ';
  const after = line.slice(from + length).join('');
  return (
    <div style={{ fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, monospace', fontSize: 12, whiteSpace: 'pre-wrap', color: 'rgba(0,0,0,0.65)' }}>
      {before}
      <mark style={{ background: '#ffccc7', color: '#a8071a', textDecoration: 'underline wavy #f5222d', padding: 0 }}>{marked}</mark>
      {after}
    </div>
  );
}

/** Problems under a field: "第 1 行第 5 列：…" for rule text, with the place marked. */
export function ProblemHelp({ problems, text, path, stale }: { problems: Problem[]; text?: string; path: string; stale?: boolean }) {
  const { t, i18n } = useTranslation();
  const en = i18n.language === 'en';
  return (
    // While the definition is being re-checked the previous answer stays, dimmed.
    <div data-testid={`problem-${path}`} data-stale={stale ? 'true' : undefined} style={{ opacity: stale ? 0.5 : 1, transition: 'opacity .2s' }}>
      {problems.map((p, i) => (
        <div key={i}>
          <span>
            {p.line !== null && p.line !== undefined && p.column !== null && p.column !== undefined
              ? t('tags.editor.position', { line: p.line, column: p.column })
              : ''}
            {en ? p.message_en : p.message_zh}
          </span>
          {text !== undefined && <Pointer text={text} problem={p} />}
        </div>
      ))}
    </div>
  );
}

export function FeatureChips({ features }: { features: { name: string; label_zh: string; label_en: string }[] }) {
  const { i18n } = useTranslation();
  return (
    <span data-testid="features-used">
      {features.map((f) => (
        <Typography.Text key={f.name} code style={{ marginInlineEnd: 6 }}>
          {i18n.language === 'en' ? f.label_en : f.label_zh} · {f.name}
        </Typography.Text>
      ))}
    </span>
  );
}
