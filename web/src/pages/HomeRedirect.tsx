import { Result } from 'antd';
import { Navigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useAuth } from '../auth/AuthContext';
import { MENU } from '../layout/menu';

/** "/" opens the first page the user's role may use. */
export default function HomeRedirect() {
  const { can } = useAuth();
  const { t } = useTranslation();
  const first = MENU.find((m) => can(m.permission));
  if (first) return <Navigate to={first.path} replace />;
  return <Result status="info" title={t('app.welcome')} subTitle={t('app.welcomeHint')} />;
}
