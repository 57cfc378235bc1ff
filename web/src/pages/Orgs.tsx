import { useMemo, useState } from 'react';
import { Button, Card, Col, Descriptions, Empty, Form, Input, Modal, Row, Select, Space, Spin, Tag, Tree, Typography, App } from 'antd';
import type { TreeDataNode } from 'antd';
import { ApartmentOutlined, EditOutlined, PlusOutlined } from '@ant-design/icons';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import { useOrgIndex, useOrgTree, type OrgNode } from '../hooks/useOrgs';
import { orgName } from '../lib/names';

type Level = Schemas['OrgCreate']['level'];
const LEVEL_COLOR: Record<Level, string> = { head_office: 'red', branch: 'blue', sub_branch: 'green' };

/** Levels the server accepts under a parent (src/omniloop/org/service.py create_org). */
function childLevels(parent: Level): Level[] {
  if (parent === 'head_office') return ['branch', 'sub_branch'];
  return ['sub_branch'];
}

/** The Chinese and English name fields shared by the add-child and rename forms. */
function OrgNameFields() {
  const { t } = useTranslation();
  return (
    <>
      <Form.Item name="name" label={t('orgs.name')} rules={[{ required: true, whitespace: true, message: t('orgs.nameRequired') }, { max: 100 }]}>
        <Input maxLength={100} />
      </Form.Item>
      <Form.Item name="name_en" label={t('orgs.nameEn')} rules={[{ max: 200 }]}>
        <Input maxLength={200} />
      </Form.Item>
    </>
  );
}

export default function OrgsPage() {
  const { t, i18n } = useTranslation();
  const { can } = useAuth();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const tree = useOrgTree();
  const index = useOrgIndex();
  const [selectedId, setSelectedId] = useState<number | null>(null);
  const [filter, setFilter] = useState('');
  const [modal, setModal] = useState<'create' | 'rename' | null>(null);
  const [createForm] = Form.useForm<Schemas['OrgCreate']>();
  const [renameForm] = Form.useForm<Schemas['OrgUpdate']>();
  const manage = can('orgs.manage');

  const selected: OrgNode | undefined = selectedId !== null ? index.get(selectedId) : tree.data;

  const treeData = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    const build = (node: OrgNode): TreeDataNode | null => {
      const children = (node.children ?? []).map(build).filter((c): c is TreeDataNode => c !== null);
      const label = orgName(node, i18n.language);
      const hit = !needle || label.toLowerCase().includes(needle) || node.code.toLowerCase().includes(needle) || node.name.includes(filter.trim());
      if (!hit && children.length === 0) return null;
      return {
        key: node.id,
        title: (
          <Space size={6}>
            <span>{label}</span>
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {node.code}
            </Typography.Text>
            <Tag color={LEVEL_COLOR[node.level]} style={{ marginInlineEnd: 0 }}>
              {t(`org.level.${node.level}`)}
            </Tag>
          </Space>
        ),
        children,
      };
    };
    const root = tree.data ? build(tree.data) : null;
    return root ? [root] : [];
  }, [tree.data, filter, i18n.language, t]);

  const invalidate = () => queryClient.invalidateQueries({ queryKey: ['orgs'] });

  const create = useMutation({
    mutationFn: (body: Schemas['OrgCreate']) => unwrap(api.POST('/api/orgs', { body })),
    onSuccess: (org) => {
      message.success(t('orgs.created'));
      setModal(null);
      void invalidate();
      setSelectedId(org.id);
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const rename = useMutation({
    mutationFn: ({ id, body }: { id: number; body: Schemas['OrgUpdate'] }) =>
      unwrap(api.PATCH('/api/orgs/{org_id}', { params: { path: { org_id: id } }, body })),
    onSuccess: () => {
      message.success(t('orgs.renamed'));
      setModal(null);
      void invalidate();
    },
    onError: (err) => void message.error(errorMessage(err)),
  });

  const parentName = selected?.parent_id ? orgName(index.get(selected.parent_id), i18n.language) : '-';

  return (
    <Card>
      <Typography.Title level={4} className="ol-page-title">
        {t('orgs.title')}
      </Typography.Title>
      <Row gutter={24}>
        <Col xs={24} md={12} xl={10}>
          <Input.Search
            allowClear
            placeholder={t('orgs.searchPlaceholder')}
            style={{ marginBottom: 12 }}
            onChange={(e) => setFilter(e.target.value)}
          />
          {tree.isLoading ? (
            <Spin />
          ) : treeData.length ? (
            <Tree
              data-testid="org-tree"
              showLine
              defaultExpandAll
              key={`${filter}-${tree.dataUpdatedAt}`}
              icon={<ApartmentOutlined />}
              treeData={treeData}
              selectedKeys={selected ? [selected.id] : []}
              onSelect={(keys) => keys.length && setSelectedId(Number(keys[0]))}
            />
          ) : (
            <Empty />
          )}
        </Col>
        <Col xs={24} md={12} xl={14}>
          {selected ? (
            <Card
              type="inner"
              title={t('orgs.detail')}
              extra={
                manage && (
                  <Space>
                    <Button
                      icon={<EditOutlined />}
                      data-testid="org-rename"
                      onClick={() => setModal('rename')}
                    >
                      {t('orgs.rename')}
                    </Button>
                    <Button
                      type="primary"
                      icon={<PlusOutlined />}
                      data-testid="org-add-child"
                      onClick={() => setModal('create')}
                    >
                      {t('orgs.addChild')}
                    </Button>
                  </Space>
                )
              }
            >
              <Descriptions column={1} size="small" bordered>
                <Descriptions.Item label={t('orgs.name')}>{selected.name}</Descriptions.Item>
                <Descriptions.Item label={t('orgs.nameEn')}>{selected.name_en ?? '-'}</Descriptions.Item>
                <Descriptions.Item label={t('orgs.code')}>{selected.code}</Descriptions.Item>
                <Descriptions.Item label={t('orgs.level')}>
                  <Tag color={LEVEL_COLOR[selected.level]}>{t(`org.level.${selected.level}`)}</Tag>
                </Descriptions.Item>
                <Descriptions.Item label={t('orgs.parent')}>{parentName}</Descriptions.Item>
              </Descriptions>
            </Card>
          ) : (
            <Empty description={t('orgs.selectHint')} />
          )}
        </Col>
      </Row>

      <Modal
        title={t('orgs.addChild')}
        open={modal === 'create'}
        onCancel={() => setModal(null)}
        onOk={() => createForm.submit()}
        confirmLoading={create.isPending}
        destroyOnHidden
        okText={t('app.save')}
        cancelText={t('app.cancel')}
      >
        <Form
          form={createForm}
          layout="vertical"
          preserve={false}
          initialValues={{ level: selected ? childLevels(selected.level)[0] : undefined }}
          onFinish={(values) =>
            create.mutate({ ...values, name_en: values.name_en || null, parent_id: selected?.id ?? null })
          }
        >
          <Form.Item label={t('orgs.parent')}>
            <Input value={orgName(selected, i18n.language)} disabled />
          </Form.Item>
          <Form.Item
            name="code"
            label={t('orgs.code')}
            rules={[
              { required: true, message: t('orgs.codeRequired') },
              { pattern: /^[A-Za-z0-9_-]+$/, message: t('orgs.codePattern') },
              { max: 32 },
            ]}
          >
            <Input maxLength={32} />
          </Form.Item>
          <OrgNameFields />
          <Form.Item name="level" label={t('orgs.level')} rules={[{ required: true }]}>
            <Select
              options={(selected ? childLevels(selected.level) : []).map((l) => ({ value: l, label: t(`org.level.${l}`) }))}
            />
          </Form.Item>
        </Form>
      </Modal>

      <Modal
        title={t('orgs.rename')}
        open={modal === 'rename'}
        onCancel={() => setModal(null)}
        onOk={() => renameForm.submit()}
        confirmLoading={rename.isPending}
        destroyOnHidden
        okText={t('app.save')}
        cancelText={t('app.cancel')}
      >
        <Form
          form={renameForm}
          layout="vertical"
          preserve={false}
          initialValues={{ name: selected?.name, name_en: selected?.name_en ?? undefined }}
          onFinish={(values) => selected && rename.mutate({ id: selected.id, body: { name: values.name, name_en: values.name_en || null } })}
        >
          <OrgNameFields />
        </Form>
      </Modal>
    </Card>
  );
}
