import type { ReactNode } from 'react';
import { Button, Result, Spin } from 'antd';
import { Navigate, useLocation } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useAuth, type Permission } from './AuthContext';
import { errorMessage } from '../api/errors';

/** Renders children only for a signed-in user whose profile (/api/auth/me) has loaded. */
export default function RequireAuth({ children }: { children: ReactNode }) {
  const { token, me, meLoading, meError, refetchMe } = useAuth();
  const location = useLocation();
  const { t } = useTranslation();
  if (!token) {
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  }
  if (meLoading || (!me && !meError)) {
    return (
      <div style={{ height: '100vh', display: 'flex', alignItems: 'center', justifyContent: 'center' }}>
        <Spin size="large" />
      </div>
    );
  }
  if (!me) {
    return (
      <Result
        status="error"
        title={t('app.loadFailed')}
        subTitle={errorMessage(meError)}
        extra={<Button onClick={refetchMe}>{t('app.retry')}</Button>}
      />
    );
  }
  return <>{children}</>;
}

export function RequirePermission({ permission, children }: { permission: Permission; children: ReactNode }) {
  const { can } = useAuth();
  const { t } = useTranslation();
  if (!can(permission)) {
    return <Result status="403" title={t('app.forbidden')} subTitle={t('app.forbiddenHint')} />;
  }
  return <>{children}</>;
}
