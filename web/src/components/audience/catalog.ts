import { useQuery } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '../../api/client';

export type Catalog = Schemas['CatalogRead'];
export type FeatureOption = Schemas['FeatureOption'];
export type TagOption = Schemas['TagOption'];
export type ValueOption = Schemas['ValueOption'];
export type Estimate = Schemas['EstimateRead'];

/** What the builder may use: features, the current tag set's tags, uploaded lists, saved audiences. */
export function useAudienceCatalog() {
  return useQuery({
    queryKey: ['audience-catalog'],
    queryFn: () => unwrap(api.GET('/api/audiences/catalog')),
    staleTime: 60_000,
  });
}

export function featureOf(catalog: Catalog | undefined, name: string): FeatureOption | undefined {
  return catalog?.features.find((f) => f.name === name);
}

export function tagOf(catalog: Catalog | undefined, code: string): TagOption | undefined {
  return catalog?.tags.find((t) => t.code === code);
}

/** antd selects hold strings; booleans travel as "true" / "false" in the widgets. */
export function toWidget(value: string | boolean): string {
  return typeof value === 'boolean' ? String(value) : value;
}

export function fromWidget(value: string, kind: string): string | boolean {
  return kind === 'boolean' ? value === 'true' : value;
}

export function label(option: { label_zh: string; label_en: string }, lang: string): string {
  return lang === 'en' ? option.label_en : option.label_zh;
}
