import { useQuery } from '@tanstack/react-query';
import { api, unwrap, type Schemas } from '../api/client';
import { useAuth } from '../auth/AuthContext';

export type OrgNode = Schemas['OrgNode'];

/** The signed-in user's org subtree (GET /api/orgs/tree). */
export function useOrgTree() {
  const { can, me } = useAuth();
  return useQuery({
    queryKey: ['orgs', 'tree', me?.user.id],
    queryFn: () => unwrap(api.GET('/api/orgs/tree')),
    enabled: can('orgs.read'),
    staleTime: 60_000,
  });
}

/** Every org of the subtree by id, for showing names next to ids. */
export function useOrgIndex(): Map<number, OrgNode> {
  const { data } = useOrgTree();
  const index = new Map<number, OrgNode>();
  const walk = (node: OrgNode) => {
    index.set(node.id, node);
    (node.children ?? []).forEach(walk);
  };
  if (data) walk(data);
  return index;
}

export function useRoles() {
  return useQuery({
    queryKey: ['roles'],
    queryFn: () => unwrap(api.GET('/api/roles')),
    staleTime: 10 * 60_000,
  });
}
