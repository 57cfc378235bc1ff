import { useState } from 'react';
import { Alert, App, Button, Descriptions, Form, Input, Modal, Space, Tag, Typography, Upload } from 'antd';
import { InboxOutlined, UploadOutlined } from '@ant-design/icons';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../../api/client';
import { ApiError, errorMessage } from '../../api/errors';
import { formatInt } from '../../lib/format';

type Report = Schemas['ListUploadReport'];
type Uploaded = Schemas['CustomerListUploaded'];

/** A rejected upload (422: no numbers / none known) carries the match report in the error's details. */
function reportOf(err: unknown): Report | null {
  if (err instanceof ApiError && err.status === 422 && err.details && typeof err.details === 'object' && 'matched' in err.details) {
    return err.details as Report;
  }
  return null;
}

/** 名单匹配报告: rows read, matched, repeated, and the numbers not known in the uploader's scope. */
export function ListReport({ report }: { report: Report }) {
  const { t } = useTranslation();
  return (
    <Space direction="vertical" style={{ width: '100%' }} data-testid="list-report">
      <Descriptions size="small" column={3} bordered>
        <Descriptions.Item label={t('tags.lists.column')}>{report.column}</Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.rows')}>{formatInt(report.rows)}</Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.blank')}>{formatInt(report.blank)}</Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.matched')}>
          <span data-testid="list-report-matched">{formatInt(report.matched)}</span>
        </Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.duplicates')}>{formatInt(report.duplicates)}</Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.unknown')}>
          <Typography.Text type={report.unknown_count ? 'warning' : undefined} data-testid="list-report-unknown">
            {formatInt(report.unknown_count)}
          </Typography.Text>
        </Descriptions.Item>
      </Descriptions>
      {report.unknown.length > 0 && (
        <div>
          <Typography.Text strong>{t('tags.lists.unknownNumbers')}</Typography.Text>
          {report.unknown_truncated && (
            <Typography.Text type="secondary">（{t('tags.lists.unknownTruncated', { n: report.unknown.length })}）</Typography.Text>
          )}
          <div style={{ maxHeight: 160, overflow: 'auto', marginTop: 6 }} data-testid="list-unknown-numbers">
            {report.unknown.map((n) => (
              <Tag key={n} style={{ marginBottom: 4 }}>
                {n}
              </Tag>
            ))}
          </div>
        </div>
      )}
    </Space>
  );
}

/** 上传名单: a CSV / Excel file of customer numbers; the server matches them in the uploader's scope. */
export default function ListUpload({ onUploaded, buttonText }: { onUploaded?: (uploaded: Uploaded) => void; buttonText?: string }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [form] = Form.useForm<{ name: string; description?: string }>();
  const [open, setOpen] = useState(false);
  const [file, setFile] = useState<File | null>(null);

  const upload = useMutation({
    mutationFn: ({ name, description, f }: { name: string; description?: string; f: File }) =>
      unwrap(
        api.POST('/api/customer-lists', {
          // The generated schema types an OpenAPI `format: binary` field as string; the browser sends the File.
          body: { name, description: description || null, file: f as unknown as string },
          bodySerializer: (body) => {
            const data = new FormData();
            data.append('name', body.name);
            if (body.description) data.append('description', body.description);
            data.append('file', body.file as unknown as Blob, f.name);
            return data;
          },
        }),
      ),
    onSuccess: (res) => {
      void message.success(t('tags.lists.uploaded', { name: res.list.name, n: res.report.matched }));
      void queryClient.invalidateQueries({ queryKey: ['customer-lists'] });
      onUploaded?.(res);
    },
  });
  const failedReport = reportOf(upload.error);

  const close = () => {
    setOpen(false);
    setFile(null);
    upload.reset();
    form.resetFields();
  };

  const submit = async () => {
    const values = await form.validateFields();
    if (!file) return;
    upload.mutate({ name: values.name.trim(), description: values.description?.trim(), f: file });
  };

  return (
    <>
      <Button icon={<UploadOutlined />} onClick={() => setOpen(true)} data-testid="list-upload">
        {buttonText ?? t('tags.lists.upload')}
      </Button>
      <Modal
        title={t('tags.lists.uploadTitle')}
        open={open}
        onCancel={close}
        width={720}
        destroyOnHidden
        footer={
          upload.data ? (
            <Button type="primary" onClick={close} data-testid="list-upload-done">
              {t('tags.lists.done')}
            </Button>
          ) : (
            <Space>
              <Button onClick={close}>{t('app.cancel')}</Button>
              <Button type="primary" disabled={!file} loading={upload.isPending} onClick={() => void submit()} data-testid="list-upload-submit">
                {t('tags.lists.submit')}
              </Button>
            </Space>
          )
        }
      >
        <Space direction="vertical" style={{ width: '100%' }} size="middle">
          <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
            {t('tags.lists.hint')}
          </Typography.Paragraph>
          <Form form={form} layout="vertical" disabled={!!upload.data}>
            <Form.Item name="name" label={t('tags.lists.name')} rules={[{ required: true, whitespace: true, message: t('tags.lists.nameRequired') }, { max: 100 }]}>
              <Input placeholder={t('tags.lists.namePlaceholder')} id="list-name" />
            </Form.Item>
            <Form.Item name="description" label={t('tags.lists.description')} rules={[{ max: 500 }]}>
              <Input.TextArea rows={2} />
            </Form.Item>
          </Form>
          <Upload.Dragger
            accept=".csv,.xlsx,.parquet"
            maxCount={1}
            disabled={!!upload.data}
            fileList={file ? [{ uid: 'file', name: file.name, status: 'done' }] : []}
            beforeUpload={(f) => {
              setFile(f);
              upload.reset();
              return false; // sent by the Upload button, not on selection
            }}
            onRemove={() => {
              setFile(null);
              upload.reset();
            }}
          >
            <p className="ant-upload-drag-icon">
              <InboxOutlined />
            </p>
            <p className="ant-upload-text">{t('tags.lists.drop')}</p>
          </Upload.Dragger>
          {upload.error && <Alert type="error" showIcon message={errorMessage(upload.error)} />}
          {failedReport && <ListReport report={failedReport} />}
          {upload.data && (
            <>
              <Alert type="success" showIcon message={t('tags.lists.uploaded', { name: upload.data.list.name, n: upload.data.report.matched })} />
              <ListReport report={upload.data.report} />
            </>
          )}
        </Space>
      </Modal>
    </>
  );
}
