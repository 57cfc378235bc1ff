import { useState } from 'react';
import { App, Button, Card, Col, Form, Input, InputNumber, Modal, Row, Select, Space, Switch, Table, Tag, Typography } from 'antd';
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { errorMessage } from '../api/errors';
import { useAuth } from '../auth/AuthContext';
import OrgTreeSelect from '../components/OrgTreeSelect';
import { roleName } from '../lib/names';
import { formatDateTime } from '../lib/format';

type Template = Schemas['TemplateRead'];
type Body = Schemas['TemplateCreate'] & { active?: boolean };
const MODES = ['single', 'all', 'any', 'n_of_m'] as const;
const RELATIONS = ['plan_org', 'plan_branch', 'head_office', 'org'] as const;
const newStep = () => ({ name: '', mode: 'single', approvers: [{ role: 'approver', org: 'head_office', include_subtree: false }] }) as Schemas['TemplateStep'];

/** Countersign routes (会签流程模板): ordered steps of approvers by role and org, edited by admins (orgs.manage). */
export default function ApprovalTemplatesPage() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const { can } = useAuth();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<Template | 'new' | null>(null);
  const templates = useQuery({ queryKey: ['approval-templates'], queryFn: () => unwrap(api.GET('/api/approvals/templates')) });
  const manage = can('orgs.manage');
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['approval-templates'] });
  const toggle = useMutation({
    mutationFn: ({ id, body }: { id: number; body: Schemas['TemplateUpdate'] }) =>
      unwrap(api.PATCH('/api/approvals/templates/{template_id}', { params: { path: { template_id: id } }, body })),
    onSuccess: refresh,
    onError: (err) => void message.error(errorMessage(err)),
  });
  const stepMode = (s: Template['steps'][number]) => t(`plans.approval.stepModes.${s.mode ?? 'single'}`, { n: s.required ?? 1 });

  return (
    <Card
      title={t('approvalTemplates.title')}
      extra={manage && <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing('new')} data-testid="template-create">{t('approvalTemplates.create')}</Button>}
    >
      <Typography.Paragraph type="secondary">{t('approvalTemplates.hint')}</Typography.Paragraph>
      <Table<Template>
        rowKey="id"
        loading={templates.isLoading}
        dataSource={templates.data ?? []}
        pagination={false}
        data-testid="templates-table"
        columns={[
          {
            title: t('approvalTemplates.name'),
            key: 'name',
            render: (_, x) => (
              <Space direction="vertical" size={0}>
                <Space>
                  <Typography.Text strong>{x.name}</Typography.Text>
                  {x.is_default && <Tag color="blue">{t('approvalTemplates.default')}</Tag>}
                </Space>
                {x.description && <Typography.Text type="secondary">{x.description}</Typography.Text>}
              </Space>
            ),
          },
          {
            title: t('approvalTemplates.steps'),
            key: 'steps',
            render: (_, x) => (
              <Space direction="vertical" size={0} data-testid="template-steps">
                {x.steps.map((s, i) => (
                  <span key={i}>
                    {i + 1}. {s.name} · {stepMode(s)}
                  </span>
                ))}
              </Space>
            ),
          },
          {
            title: t('approvalTemplates.active'),
            dataIndex: 'active',
            width: 90,
            render: (active: boolean, x) => (
              <Switch checked={active} disabled={!manage} size="small" loading={toggle.isPending}
                onChange={(v) => toggle.mutate({ id: x.id, body: { active: v } })} />
            ),
          },
          { title: t('approvalTemplates.updated'), dataIndex: 'updated_at', width: 170, render: (v: string) => formatDateTime(v) },
          {
            title: '',
            key: 'actions',
            width: 80,
            render: (_, x) => manage && <Button size="small" onClick={() => setEditing(x)} data-testid="template-edit">{t('approvalTemplates.edit')}</Button>,
          },
        ]}
      />
      {editing && <TemplateModal template={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onSaved={refresh} />}
    </Card>
  );
}

function TemplateModal({ template, onClose, onSaved }: { template: Template | null; onClose: () => void; onSaved: () => void }) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<Body>();
  const roles = useQuery({ queryKey: ['roles'], queryFn: () => unwrap(api.GET('/api/roles')) });
  const save = useMutation({
    mutationFn: (body: Body) =>
      template
        ? unwrap(api.PATCH('/api/approvals/templates/{template_id}', { params: { path: { template_id: template.id } }, body }))
        : unwrap(api.POST('/api/approvals/templates', { body })),
    onSuccess: () => {
      message.success(t('approvalTemplates.saved'));
      onSaved();
      onClose();
    },
    onError: (err) => void message.error(errorMessage(err)),
  });
  const initial: Partial<Body> = template
    ? { name: template.name, description: template.description, steps: template.steps, is_default: template.is_default, active: template.active }
    : { steps: [newStep()], is_default: false };
  const roleOptions = (roles.data ?? []).map((r) => ({ value: r.code, label: roleName(r, i18n.language) }));

  return (
    <Modal
      open
      width={860}
      title={template ? t('approvalTemplates.edit') : t('approvalTemplates.create')}
      onCancel={onClose}
      onOk={() => form.submit()}
      confirmLoading={save.isPending}
      okButtonProps={{ 'data-testid': 'template-save' } as never}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" initialValues={initial} onFinish={(v) => save.mutate(v)}>
        <Row gutter={12}>
          <Col span={12}>
            <Form.Item name="name" label={t('approvalTemplates.name')} rules={[{ required: true, whitespace: true }]}>
              <Input maxLength={100} id="template-name" />
            </Form.Item>
          </Col>
          <Col span={6}>
            <Form.Item name="is_default" label={t('approvalTemplates.default')} valuePropName="checked">
              <Switch />
            </Form.Item>
          </Col>
          {template && (
            <Col span={6}>
              <Form.Item name="active" label={t('approvalTemplates.active')} valuePropName="checked">
                <Switch />
              </Form.Item>
            </Col>
          )}
        </Row>
        <Form.Item name="description" label={t('approvalTemplates.description')}>
          <Input.TextArea rows={2} maxLength={1000} />
        </Form.Item>
        <Form.List name="steps">
          {(steps, { add, remove }) => (
            <Space direction="vertical" style={{ width: '100%' }}>
              {steps.map((step, index) => (
                <Card key={step.key} size="small" data-testid="template-step"
                  title={t('approvalTemplates.stepN', { n: index + 1 })}
                  extra={steps.length > 1 && <Button size="small" type="text" danger icon={<DeleteOutlined />} onClick={() => remove(step.name)} />}>
                  <Row gutter={12}>
                    <Col span={10}>
                      <Form.Item name={[step.name, 'name']} label={t('approvalTemplates.stepName')} rules={[{ required: true, whitespace: true }]}>
                        <Input maxLength={100} data-testid="step-name" />
                      </Form.Item>
                    </Col>
                    <Col span={8}>
                      <Form.Item name={[step.name, 'mode']} label={t('approvalTemplates.mode')}>
                        <Select options={MODES.map((m) => ({ value: m, label: t(`approvalTemplates.modes.${m}`) }))} />
                      </Form.Item>
                    </Col>
                    <Form.Item noStyle shouldUpdate>
                      {() =>
                        form.getFieldValue(['steps', step.name, 'mode']) === 'n_of_m' && (
                          <Col span={6}>
                            <Form.Item name={[step.name, 'required']} label={t('approvalTemplates.required')} rules={[{ required: true }]}>
                              <InputNumber min={1} max={50} style={{ width: '100%' }} />
                            </Form.Item>
                          </Col>
                        )
                      }
                    </Form.Item>
                  </Row>
                  <Form.List name={[step.name, 'approvers']}>
                    {(rules, ops) => (
                      <>
                        {rules.map((rule) => (
                          <Row gutter={8} key={rule.key} align="middle">
                            <Col span={6}>
                              <Form.Item name={[rule.name, 'role']} rules={[{ required: true }]}>
                                <Select options={roleOptions} placeholder={t('approvalTemplates.role')} data-testid="rule-role" />
                              </Form.Item>
                            </Col>
                            <Col span={6}>
                              <Form.Item name={[rule.name, 'org']} rules={[{ required: true }]}>
                                <Select options={RELATIONS.map((r) => ({ value: r, label: t(`approvalTemplates.relations.${r}`) }))} />
                              </Form.Item>
                            </Col>
                            <Form.Item noStyle shouldUpdate>
                              {() =>
                                form.getFieldValue(['steps', step.name, 'approvers', rule.name, 'org']) === 'org' && (
                                  <Col span={6}>
                                    <Form.Item name={[rule.name, 'org_id']} rules={[{ required: true }]}>
                                      <OrgTreeSelect />
                                    </Form.Item>
                                  </Col>
                                )
                              }
                            </Form.Item>
                            <Col span={4}>
                              <Form.Item name={[rule.name, 'include_subtree']} valuePropName="checked">
                                <Switch checkedChildren={t('approvalTemplates.subtree')} unCheckedChildren={t('approvalTemplates.subtree')} />
                              </Form.Item>
                            </Col>
                            <Col span={2}>
                              {rules.length > 1 && <Form.Item><Button type="text" danger icon={<DeleteOutlined />} onClick={() => ops.remove(rule.name)} /></Form.Item>}
                            </Col>
                          </Row>
                        ))}
                        <Button size="small" type="dashed" icon={<PlusOutlined />} onClick={() => ops.add({ role: 'approver', org: 'head_office', include_subtree: false })}>
                          {t('approvalTemplates.addApprover')}
                        </Button>
                      </>
                    )}
                  </Form.List>
                </Card>
              ))}
              <Button type="dashed" block icon={<PlusOutlined />} onClick={() => add(newStep())} data-testid="template-add-step">
                {t('approvalTemplates.addStep')}
              </Button>
            </Space>
          )}
        </Form.List>
      </Form>
    </Modal>
  );
}
