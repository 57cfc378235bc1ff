import { lazy, Suspense, useMemo } from 'react';
import { App as AntApp, ConfigProvider, Spin } from 'antd';
import zhCN from 'antd/es/locale/zh_CN';
import enUS from 'antd/es/locale/en_US';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { useTranslation } from 'react-i18next';
import { AuthProvider } from './auth/AuthContext';
import RequireAuth, { RequirePermission } from './auth/RequireAuth';
import AppLayout from './layout/AppLayout';
import NotifierBridge from './components/NotifierBridge';
import { ApiError, errorMessage } from './api/errors';
import { notifyError } from './lib/notify';
import LoginPage from './pages/Login';
import HomeRedirect from './pages/HomeRedirect';
import NotFound from './pages/NotFound';

const CustomersPage = lazy(() => import('./pages/Customers'));
const Customer360Page = lazy(() => import('./pages/Customer360'));
const OrgsPage = lazy(() => import('./pages/Orgs'));
const UsersPage = lazy(() => import('./pages/Users'));
const AuditPage = lazy(() => import('./pages/Audit'));
const JobsPage = lazy(() => import('./pages/Jobs'));

const queryClient = new QueryClient({
  queryCache: new QueryCache({
    onError: (err, query) => {
      // 401 sends the user to the login page; 404s are shown by the page itself.
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) return;
      if (query.meta?.silent) return;
      notifyError(errorMessage(err));
    },
  }),
  defaultOptions: {
    queries: {
      refetchOnWindowFocus: false,
      staleTime: 15_000,
      retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
    },
    mutations: { retry: false },
  },
});

function PageFallback() {
  return (
    <div style={{ padding: 48, textAlign: 'center' }}>
      <Spin size="large" />
    </div>
  );
}

export default function App() {
  const { i18n } = useTranslation();
  const locale = useMemo(() => (i18n.language === 'en' ? enUS : zhCN), [i18n.language]);
  return (
    <ConfigProvider locale={locale} theme={{ token: { colorPrimary: '#1d4ed8', borderRadius: 6 } }}>
      <AntApp>
        <NotifierBridge />
        <QueryClientProvider client={queryClient}>
          <BrowserRouter>
            <AuthProvider>
              <Suspense fallback={<PageFallback />}>
                <Routes>
                  <Route path="/login" element={<LoginPage />} />
                  <Route element={<RequireAuth><AppLayout /></RequireAuth>}>
                    <Route index element={<HomeRedirect />} />
                    <Route path="customers" element={<RequirePermission permission="customers.read"><CustomersPage /></RequirePermission>} />
                    <Route path="customers/:customerNo" element={<RequirePermission permission="customers.read"><Customer360Page /></RequirePermission>} />
                    <Route path="orgs" element={<RequirePermission permission="orgs.read"><OrgsPage /></RequirePermission>} />
                    <Route path="users" element={<RequirePermission permission="users.manage"><UsersPage /></RequirePermission>} />
                    <Route path="audit" element={<RequirePermission permission="audit.read"><AuditPage /></RequirePermission>} />
                    <Route path="jobs" element={<RequirePermission permission="jobs.read"><JobsPage /></RequirePermission>} />
                    <Route path="home" element={<Navigate to="/" replace />} />
                    <Route path="*" element={<NotFound />} />
                  </Route>
                </Routes>
              </Suspense>
            </AuthProvider>
          </BrowserRouter>
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  );
}
