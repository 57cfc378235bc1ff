import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useLocation, useNavigate } from 'react-router';
import { api, getToken, setToken, setUnauthorizedHandler, unwrap, type Schemas } from '../api/client';

export type Me = Schemas['Me'];

/** Permission codes as the server names them (src/omniloop/org/roles.py). */
export type Permission =
  | 'customers.read'
  | 'customers.write'
  | 'customers.pii'
  | 'orgs.read'
  | 'orgs.manage'
  | 'users.manage'
  | 'audit.read'
  | 'jobs.read'
  | 'jobs.manage'
  | 'tags.read'
  | 'tags.manage'
  | 'tags.export'
  | 'audiences.read'
  | 'audiences.manage'
  | 'audiences.export'
  | 'events.read'
  | 'sources.manage'
  | 'triggers.manage'
  | 'plans.read'
  | 'plans.manage'
  | 'approvals.decide'
  | 'campaigns.read'
  | 'campaigns.manage'
  | 'elements.manage'
  | 'contacts.manage'
  | 'consents.manage';

interface AuthState {
  token: string | null;
  me: Me | undefined;
  meLoading: boolean;
  meError: unknown;
  refetchMe: () => void;
  login: (username: string, password: string) => Promise<Me>;
  logout: () => Promise<void>;
  can: (permission: Permission) => boolean;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [token, setTokenState] = useState<string | null>(() => getToken());
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();

  const meQuery = useQuery({
    queryKey: ['me', token],
    queryFn: () => unwrap(api.GET('/api/auth/me')),
    enabled: !!token,
    staleTime: 5 * 60_000,
    retry: false,
  });

  // The API client calls this on any 401: the token is already cleared; drop cached data and go to /login.
  useEffect(() => {
    setUnauthorizedHandler(() => {
      setTokenState(null);
      queryClient.clear();
      if (!location.pathname.startsWith('/login')) {
        navigate('/login', { replace: true, state: { from: location.pathname + location.search, expired: true } });
      }
    });
    return () => setUnauthorizedHandler(null);
  }, [navigate, location, queryClient]);

  const login = useCallback(
    async (username: string, password: string) => {
      const res = await unwrap(api.POST('/api/auth/login', { body: { username, password } }));
      setToken(res.token);
      queryClient.clear();
      queryClient.setQueryData(['me', res.token], res.me);
      setTokenState(res.token);
      return res.me;
    },
    [queryClient],
  );

  const logout = useCallback(async () => {
    try {
      await api.POST('/api/auth/logout');
    } catch {
      /* the token is dropped locally either way */
    }
    setToken(null);
    setTokenState(null);
    queryClient.clear();
    navigate('/login', { replace: true });
  }, [navigate, queryClient]);

  const me = meQuery.data;
  const can = useCallback(
    (permission: Permission) => !!me && me.role.permissions.includes(permission),
    [me],
  );

  const value = useMemo<AuthState>(
    () => ({
      token,
      me,
      meLoading: meQuery.isLoading,
      meError: meQuery.error,
      refetchMe: () => void meQuery.refetch(),
      login,
      logout,
      can,
    }),
    [token, me, meQuery.isLoading, meQuery.error, meQuery.refetch, login, logout, can],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth outside AuthProvider');
  return ctx;
}
