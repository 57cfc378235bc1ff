import { useState } from 'react';
import { Alert, Button, Card, Form, Input, Space, Typography } from 'antd';
import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useAuth } from '../auth/AuthContext';
import LanguageSwitch from '../components/LanguageSwitch';
import { ApiError, errorMessage } from '../api/errors';
import { formatDateTime } from '../lib/format';

interface LocationState {
  from?: string;
  expired?: boolean;
}

export default function LoginPage() {
  const { t } = useTranslation();
  const { login, token, me } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const state = (location.state ?? {}) as LocationState;
  const [error, setError] = useState<{ text: string; locked?: string } | null>(null);
  const [submitting, setSubmitting] = useState(false);

  if (token && me) return <Navigate to={state.from ?? '/'} replace />;

  const onFinish = async (values: { username: string; password: string }) => {
    setSubmitting(true);
    setError(null);
    try {
      await login(values.username.trim(), values.password);
      const target = state.from && !state.from.startsWith('/login') ? state.from : '/';
      navigate(target, { replace: true });
    } catch (err) {
      const locked =
        err instanceof ApiError && err.code === 'account_locked' && err.details && typeof err.details === 'object'
          ? (err.details as { locked_until?: string }).locked_until
          : undefined;
      setError({ text: errorMessage(err), locked });
    } finally {
      setSubmitting(false);
    }
  };

  return (
    <div className="ol-login-bg">
      <div style={{ position: 'absolute', top: 16, right: 20 }}>
        <LanguageSwitch />
      </div>
      <Card style={{ width: 380, boxShadow: '0 12px 40px rgba(0,0,0,0.25)' }} styles={{ body: { padding: 32 } }}>
        <Space direction="vertical" size={4} style={{ width: '100%', marginBottom: 24, textAlign: 'center' }}>
          <Typography.Title level={3} style={{ margin: 0 }}>
            OmniLoop
          </Typography.Title>
          <Typography.Text type="secondary">{t('login.subtitle')}</Typography.Text>
        </Space>
        {state.expired && !error && (
          <Alert type="warning" showIcon message={t('app.sessionExpired')} style={{ marginBottom: 16 }} />
        )}
        {error && (
          <Alert
            type="error"
            showIcon
            data-testid="login-error"
            message={error.text}
            description={error.locked ? t('login.lockedUntil', { time: formatDateTime(error.locked) }) : undefined}
            style={{ marginBottom: 16 }}
          />
        )}
        <Form layout="vertical" onFinish={onFinish} requiredMark={false} autoComplete="on">
          <Form.Item
            name="username"
            label={t('login.username')}
            rules={[{ required: true, whitespace: true, message: t('login.usernameRequired') }]}
          >
            <Input prefix={<UserOutlined />} autoComplete="username" id="username" size="large" autoFocus />
          </Form.Item>
          <Form.Item name="password" label={t('login.password')} rules={[{ required: true, message: t('login.passwordRequired') }]}>
            <Input.Password prefix={<LockOutlined />} autoComplete="current-password" id="password" size="large" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block size="large" loading={submitting} data-testid="login-submit">
            {t('login.submit')}
          </Button>
        </Form>
      </Card>
    </div>
  );
}
