import type { Schemas } from '../api/client';
import type { Lang } from '../i18n';

type Named = { name: string; name_en?: string | null };

/** An org's name in the console's language (Chinese name when there is no English one). */
export function orgName(org: Named | null | undefined, lang: string): string {
  if (!org) return '-';
  return lang === 'en' && org.name_en ? org.name_en : org.name;
}

export function roleName(role: Pick<Schemas['RoleRead'], 'name_zh' | 'name_en'> | undefined, lang: string): string {
  if (!role) return '-';
  return lang === 'en' ? role.name_en : role.name_zh;
}

export function langOf(language: string): Lang {
  return language === 'en' ? 'en' : 'zh-CN';
}
