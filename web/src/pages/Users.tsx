import { useState } from 'react';
import { App, Button, Card, Form, Input, Modal, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import type { TableProps } from 'antd';
import { EditOutlined, KeyOutlined, PlusOutlined, UnlockOutlined } from '@ant-design/icons';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import OrgTreeSelect from '../components/OrgTreeSelect';
import { useOrgIndex, useRoles } from '../hooks/useOrgs';
import { dayjs, formatDateTime } from '../lib/format';
import { orgName, roleName } from '../lib/names';

type User = Schemas['UserRead'];
type RoleCode = Schemas['RoleRead']['code'];

function isLocked(u: User): boolean {
  return !!u.locked_until && dayjs(u.locked_until).isAfter(dayjs());
}

const USERNAME = /^[A-Za-z0-9_.-]+$/;

export default function UsersPage() {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const roles = useRoles();
  const orgIndex = useOrgIndex();
  const [q, setQ] = useState('');
  const [search, setSearch] = useState('');
  const [role, setRole] = useState<RoleCode | undefined>();
  const [orgId, setOrgId] = useState<number | undefined>();
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [editing, setEditing] = useState<User | null>(null);
  const [creating, setCreating] = useState(false);
  const [resetting, setResetting] = useState<User | null>(null);

  const users = useQuery({
    queryKey: ['users', { q, role, orgId, page, pageSize }],
    queryFn: () =>
      unwrap(api.GET('/api/users', { params: { query: { q: q || undefined, role, org_id: orgId, page, page_size: pageSize } } })),
    placeholderData: keepPreviousData,
  });
  const roleByCode = new Map((roles.data ?? []).map((r) => [r.code, r]));
  const roleOptions = (roles.data ?? []).map((r) => ({ value: r.code, label: roleName(r, i18n.language) }));
  const invalidate = () => queryClient.invalidateQueries({ queryKey: ['users'] });
  const onError = (err: unknown) => void message.error(errorMessage(err));

  const create = useMutation({
    mutationFn: (body: Schemas['UserCreate']) => unwrap(api.POST('/api/users', { body })),
    onSuccess: () => {
      message.success(t('users.created'));
      setCreating(false);
      void invalidate();
    },
    onError,
  });
  const update = useMutation({
    mutationFn: ({ id, body }: { id: number; body: Schemas['UserUpdate'] }) =>
      unwrap(api.PATCH('/api/users/{user_id}', { params: { path: { user_id: id } }, body })),
    onSuccess: () => {
      message.success(t('users.updated'));
      setEditing(null);
      void invalidate();
    },
    onError,
  });
  const resetPassword = useMutation({
    mutationFn: ({ id, password }: { id: number; password: string }) =>
      unwrap(api.POST('/api/users/{user_id}/password', { params: { path: { user_id: id } }, body: { password } })),
    onSuccess: () => {
      message.success(t('users.passwordReset'));
      setResetting(null);
    },
    onError,
  });
  const unlock = useMutation({
    mutationFn: (id: number) => unwrap(api.POST('/api/users/{user_id}/unlock', { params: { path: { user_id: id } } })),
    onSuccess: () => {
      message.success(t('users.unlocked'));
      void invalidate();
    },
    onError,
  });

  const columns: TableProps<User>['columns'] = [
    { title: t('users.username'), dataIndex: 'username', width: 140 },
    { title: t('users.displayName'), dataIndex: 'display_name', width: 130 },
    { title: t('users.org'), dataIndex: 'org_id', width: 160, render: (id: number) => orgName(orgIndex.get(id), i18n.language) },
    {
      title: t('users.role'),
      dataIndex: 'role',
      width: 170,
      render: (code: RoleCode) => <Tag color="blue">{roleName(roleByCode.get(code), i18n.language) || code}</Tag>,
    },
    {
      title: t('users.status'),
      key: 'status',
      width: 110,
      render: (_: unknown, u) =>
        isLocked(u) ? (
          <Tag color="red">{t('users.locked')}</Tag>
        ) : u.is_active ? (
          <Tag color="green">{t('users.active')}</Tag>
        ) : (
          <Tag>{t('users.inactive')}</Tag>
        ),
    },
    { title: t('users.lastLogin'), dataIndex: 'last_login_at', width: 170, render: formatDateTime },
    { title: t('users.createdAt'), dataIndex: 'created_at', width: 170, render: formatDateTime },
    {
      title: t('app.actions'),
      key: 'actions',
      fixed: 'right',
      width: 260,
      render: (_: unknown, u) => (
        <Space size={4} wrap>
          <Button size="small" type="link" icon={<EditOutlined />} onClick={() => setEditing(u)}>
            {t('users.edit')}
          </Button>
          <Button size="small" type="link" icon={<KeyOutlined />} onClick={() => setResetting(u)}>
            {t('users.resetPassword')}
          </Button>
          {isLocked(u) && (
            <Button size="small" type="link" icon={<UnlockOutlined />} loading={unlock.isPending && unlock.variables === u.id} onClick={() => unlock.mutate(u.id)}>
              {t('users.unlock')}
            </Button>
          )}
        </Space>
      ),
    },
  ];

  return (
    <Card>
      <Space style={{ width: '100%', justifyContent: 'space-between', marginBottom: 16 }} align="center">
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t('users.title')}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="user-create">
          {t('users.create')}
        </Button>
      </Space>
      <div className="ol-toolbar">
        <Input.Search
          allowClear
          enterButton
          style={{ width: 240 }}
          placeholder={t('users.searchPlaceholder')}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          onSearch={(v) => {
            setQ(v.trim());
            setPage(1);
          }}
        />
        <Select<RoleCode>
          allowClear
          style={{ width: 200 }}
          placeholder={t('users.role')}
          value={role}
          options={roleOptions}
          onChange={(v) => {
            setRole(v);
            setPage(1);
          }}
        />
        <OrgTreeSelect
          style={{ width: 220 }}
          placeholder={t('users.org')}
          value={orgId}
          onChange={(v) => {
            setOrgId(v);
            setPage(1);
          }}
        />
      </div>
      <Table<User>
        rowKey="id"
        size="middle"
        columns={columns}
        dataSource={users.data?.items ?? []}
        loading={users.isFetching}
        scroll={{ x: 1300 }}
        pagination={{
          current: page,
          pageSize,
          total: users.data?.total ?? 0,
          showSizeChanger: true,
          showTotal: (total) => t('app.total', { count: total }),
          onChange: (p, s) => {
            setPage(p);
            setPageSize(s);
          },
        }}
      />

      <Modal
        title={t('users.create')}
        open={creating}
        onCancel={() => setCreating(false)}
        footer={null}
        destroyOnHidden
      >
        <Form<Schemas['UserCreate'] & { confirm: string }>
          layout="vertical"
          initialValues={{ language: 'zh-CN' }}
          onFinish={({ confirm: _confirm, ...body }) => create.mutate(body)}
        >
          <Form.Item
            name="username"
            label={t('users.username')}
            rules={[
              { required: true, message: t('users.usernameRequired') },
              { pattern: USERNAME, min: 3, max: 64, message: t('users.usernamePattern') },
            ]}
          >
            <Input autoComplete="off" maxLength={64} />
          </Form.Item>
          <ProfileFields roleOptions={roleOptions} />
          <PasswordFields />
          <Form.Item name="language" label={t('users.language')}>
            <Select options={[{ value: 'zh-CN', label: t('lang.zh-CN') }, { value: 'en', label: t('lang.en') }]} />
          </Form.Item>
          <ModalButtons onCancel={() => setCreating(false)} loading={create.isPending} />
        </Form>
      </Modal>

      <Modal title={t('users.editTitle')} open={!!editing} onCancel={() => setEditing(null)} footer={null} destroyOnHidden>
        {editing && (
          <Form<Schemas['UserUpdate']>
            layout="vertical"
            initialValues={{
              display_name: editing.display_name,
              role: editing.role,
              org_id: editing.org_id,
              is_active: editing.is_active,
              language: editing.language === 'en' ? 'en' : 'zh-CN',
            }}
            onFinish={(body) => update.mutate({ id: editing.id, body })}
          >
            <Form.Item label={t('users.username')}>
              <Input value={editing.username} disabled />
            </Form.Item>
            <ProfileFields roleOptions={roleOptions} />
            <Form.Item name="language" label={t('users.language')}>
              <Select options={[{ value: 'zh-CN', label: t('lang.zh-CN') }, { value: 'en', label: t('lang.en') }]} />
            </Form.Item>
            <Form.Item name="is_active" label={t('users.isActive')} valuePropName="checked">
              <Switch />
            </Form.Item>
            <ModalButtons onCancel={() => setEditing(null)} loading={update.isPending} />
          </Form>
        )}
      </Modal>

      <Modal
        title={`${t('users.resetPassword')}${resetting ? ` · ${resetting.username}` : ''}`}
        open={!!resetting}
        onCancel={() => setResetting(null)}
        footer={null}
        destroyOnHidden
      >
        {resetting && (
          <Form<{ password: string; confirm: string }>
            layout="vertical"
            onFinish={({ password }) => resetPassword.mutate({ id: resetting.id, password })}
          >
            <PasswordFields />
            <ModalButtons onCancel={() => setResetting(null)} loading={resetPassword.isPending} />
          </Form>
        )}
      </Modal>
    </Card>
  );
}

/** Display name, org and role: the fields the create and edit forms share. */
function ProfileFields({ roleOptions }: { roleOptions: { value: string; label: string }[] }) {
  const { t } = useTranslation();
  return (
    <>
      <Form.Item name="display_name" label={t('users.displayName')} rules={[{ required: true, whitespace: true, message: t('users.displayNameRequired') }]}>
        <Input maxLength={100} />
      </Form.Item>
      <Form.Item name="org_id" label={t('users.org')} rules={[{ required: true, message: t('users.orgRequired') }]}>
        <OrgTreeSelect allowClear={false} />
      </Form.Item>
      <Form.Item name="role" label={t('users.role')} rules={[{ required: true, message: t('users.roleRequired') }]}>
        <Select options={roleOptions} />
      </Form.Item>
    </>
  );
}

function PasswordFields() {
  const { t } = useTranslation();
  return (
    <>
      <Form.Item name="password" label={t('users.password')} rules={[{ required: true, min: 8, max: 128, message: t('users.passwordMin') }]}>
        <Input.Password autoComplete="new-password" maxLength={128} />
      </Form.Item>
      <Form.Item
        name="confirm"
        label={t('users.confirmPassword')}
        dependencies={['password']}
        rules={[
          { required: true, message: t('users.passwordMin') },
          ({ getFieldValue }) => ({
            validator: (_, value) =>
              !value || getFieldValue('password') === value ? Promise.resolve() : Promise.reject(new Error(t('users.passwordMismatch'))),
          }),
        ]}
      >
        <Input.Password autoComplete="new-password" maxLength={128} />
      </Form.Item>
    </>
  );
}

function ModalButtons({ onCancel, loading }: { onCancel: () => void; loading: boolean }) {
  const { t } = useTranslation();
  return (
    <Space style={{ width: '100%', justifyContent: 'flex-end' }}>
      <Button onClick={onCancel}>{t('app.cancel')}</Button>
      <Button type="primary" htmlType="submit" loading={loading}>
        {t('app.save')}
      </Button>
    </Space>
  );
}
