import { useEffect, useState } from 'react';
import { Button, Layout, Menu, Space, Tag, Tooltip, Typography } from 'antd';
import { BankOutlined, LogoutOutlined, MenuFoldOutlined, MenuUnfoldOutlined, UserOutlined } from '@ant-design/icons';
import { Outlet, useLocation, useNavigate } from 'react-router';
import { useTranslation } from 'react-i18next';
import { useAuth } from '../auth/AuthContext';
import LanguageSwitch from '../components/LanguageSwitch';
import NotificationBell from '../components/NotificationBell';
import { orgName, roleName } from '../lib/names';
import { MENU } from './menu';

const { Sider, Header, Content } = Layout;

export default function AppLayout() {
  const { me, can, logout } = useAuth();
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const location = useLocation();
  const [collapsed, setCollapsed] = useState(false);

  const entries = MENU.filter((m) => can(m.permission));
  const selected = entries.find((m) => location.pathname === m.path || location.pathname.startsWith(m.path + '/'));
  const pageTitle = selected ? t(`menu.${selected.key}`) : '';

  useEffect(() => {
    document.title = pageTitle ? `${pageTitle} · OmniLoop` : 'OmniLoop';
  }, [pageTitle]);

  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Sider collapsible collapsed={collapsed} trigger={null} width={208} theme="dark">
        <div className="ol-logo" onClick={() => navigate('/')} style={{ cursor: 'pointer' }}>
          <span className="ol-logo-mark" />
          {!collapsed && <span>{t('app.name')}</span>}
        </div>
        <Menu
          theme="dark"
          mode="inline"
          data-testid="side-menu"
          selectedKeys={selected ? [selected.key] : []}
          items={entries.map((m) => ({ key: m.key, icon: m.icon, label: t(`menu.${m.key}`) }))}
          onClick={({ key }) => {
            const entry = entries.find((m) => m.key === key);
            if (entry) navigate(entry.path);
          }}
        />
      </Sider>
      <Layout>
        <Header className="ol-header">
          <Button
            type="text"
            aria-label="toggle menu"
            icon={collapsed ? <MenuUnfoldOutlined /> : <MenuFoldOutlined />}
            onClick={() => setCollapsed((c) => !c)}
          />
          <Typography.Text type="secondary" style={{ flex: 1, whiteSpace: 'nowrap', overflow: 'hidden' }}>
            {t('app.title')}
          </Typography.Text>
          <Space size={16} align="center">
            <Tooltip title={t('customers.org')}>
              <Space size={4} data-testid="header-org">
                <BankOutlined />
                <span>{orgName(me?.org, i18n.language)}</span>
              </Space>
            </Tooltip>
            <Space size={4} data-testid="header-user">
              <UserOutlined />
              <span>{me?.user.display_name}</span>
              <Tag color="blue" style={{ marginInlineEnd: 0 }} data-testid="header-role">
                {roleName(me?.role, i18n.language)}
              </Tag>
            </Space>
            <NotificationBell />
            <LanguageSwitch size="small" />
            <Button icon={<LogoutOutlined />} onClick={() => void logout()} data-testid="logout">
              {t('app.logout')}
            </Button>
          </Space>
        </Header>
        <Content className="ol-content">
          <Outlet />
        </Content>
      </Layout>
    </Layout>
  );
}
