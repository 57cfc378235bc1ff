import type { Schemas } from '../../api/client';
import { ApiError } from '../../api/errors';

export type Problem = Schemas['ProblemRead'];

/** A field path from the API ("definition.cases[0].rule") as an antd name path (['definition', 'cases', 0, 'rule']). */
export function namePath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** The fields the editor has an input for; problems elsewhere ("definition.buckets": overlaps) go to the summary. */
const LEAF =
  /^(code|name_zh|name_en|description|category|source|value_type|schedule|definition\.(rule|feature|list_id|model|threshold|event|event_type|within_days|filter\.(property|op|value)|cases\[\d+\]\.(value|label_zh|label_en|rule)|else\.(value|label_zh|label_en)|buckets\[\d+\]\.(value|label_zh|label_en|min|max)))$/;

export function isFieldPath(path: string): boolean {
  return LEAF.test(path);
}

/**
 * Problems from a failed save: the tag checker's `details.problems`, a taken code (409), or request validation
 * (`details` as a list of `{loc, msg}`).
 */
export function problemsFromError(err: unknown): Problem[] {
  if (!(err instanceof ApiError)) return [];
  const details = err.details as unknown;
  if (details && typeof details === 'object' && 'problems' in details && Array.isArray((details as { problems: unknown }).problems)) {
    return (details as { problems: Problem[] }).problems;
  }
  if (err.code === 'tag_code_taken') {
    return [{ path: 'code', kind: 'taken', message_zh: err.messageZh ?? err.message, message_en: err.messageEn ?? err.message }];
  }
  if (Array.isArray(details)) {
    return details
      .filter((d): d is { loc?: (string | number)[]; msg?: string } => !!d && typeof d === 'object')
      .map((d) => {
        const loc = (d.loc ?? []).filter((p) => p !== 'body');
        const path = loc.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
        return { path, kind: 'invalid', message_zh: d.msg ?? '', message_en: d.msg ?? '' };
      });
  }
  return [];
}
