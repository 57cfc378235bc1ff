import { useEffect, useRef, useState } from 'react';
import { App } from 'antd';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../../api/client';
import { errorMessage } from '../../api/errors';
import { isActiveRun } from './labels';

/** The editor's choices (categories, sources, features); they change only with a server upgrade. */
export function useTagCatalog() {
  return useQuery({
    queryKey: ['tags', 'catalog'],
    queryFn: () => unwrap(api.GET('/api/tags/catalog')),
    staleTime: 30 * 60_000,
  });
}

/** `value`, once it has stopped changing for `delay` ms. */
export function useDebounced<T>(value: T, delay = 400): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

const POLL_MS = 2000;

/**
 * The latest runs, polled while one is queued or running; when the last active run ends, tag lists and
 * details are refetched so coverage and run status show the new results.
 */
export function useActiveRuns() {
  const queryClient = useQueryClient();
  const runs = useQuery({
    queryKey: ['tag-runs', 'recent'],
    queryFn: () => unwrap(api.GET('/api/tag-runs', { params: { query: { page: 1, page_size: 10 } } })),
    refetchInterval: (query) => (query.state.data?.items.some((r) => isActiveRun(r.status)) ? POLL_MS : false),
    meta: { silent: true },
  });
  const active = (runs.data?.items ?? []).filter((r) => isActiveRun(r.status));
  const wasActive = useRef(false);
  useEffect(() => {
    if (wasActive.current && active.length === 0) {
      void queryClient.invalidateQueries({ queryKey: ['tags'] });
      void queryClient.invalidateQueries({ queryKey: ['tag-runs'] });
      void queryClient.invalidateQueries({ queryKey: ['lifecycle'] });
      void queryClient.invalidateQueries({ queryKey: ['customer-tags'] });
    }
    wasActive.current = active.length > 0;
  }, [active.length, queryClient]);
  return active;
}

/** Run tags now (立即跑批): the given tags, or every active tag when `tagIds` is undefined. */
export function useRunTags() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (tagIds: number[] | undefined) => unwrap(api.POST('/api/tag-runs', { body: { tag_ids: tagIds ?? null } })),
    onSuccess: (run) => {
      void message.success(t('tags.runs.requested', { id: run.id }));
      void queryClient.invalidateQueries({ queryKey: ['tag-runs'] });
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
}
