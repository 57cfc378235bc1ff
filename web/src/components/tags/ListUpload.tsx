import { Alert, App, Descriptions, Form, Input, Space, Tag, Typography } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../../api/client';
import { ApiError } from '../../api/errors';
import { formatInt } from '../../lib/format';
import FileUploadDialog, { formData } from '../FileUploadDialog';

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

  return (
    <FileUploadDialog<Uploaded>
      buttonText={buttonText ?? t('tags.lists.upload')}
      buttonTestId="list-upload"
      title={t('tags.lists.uploadTitle')}
      hint={t('tags.lists.hint')}
      dropText={t('tags.lists.drop')}
      submitText={t('tags.lists.submit')}
      cancelText={t('app.cancel')}
      doneText={t('tags.lists.done')}
      submitTestId="list-upload-submit"
      doneTestId="list-upload-done"
      validate={async () => {
        try {
          await form.validateFields();
          return true;
        } catch {
          return false;
        }
      }}
      onClose={() => form.resetFields()}
      send={(f) => {
        const name = (form.getFieldValue('name') as string).trim();
        const description = (form.getFieldValue('description') as string | undefined)?.trim() || null;
        return unwrap(
          api.POST('/api/customer-lists', {
            body: { name, description, file: f as unknown as string },
            bodySerializer: () => formData(f, { name, description }),
          }),
        );
      }}
      onSent={(res) => {
        void message.success(t('tags.lists.uploaded', { name: res.list.name, n: res.report.matched }));
        void queryClient.invalidateQueries({ queryKey: ['customer-lists'] });
        onUploaded?.(res);
      }}
      fields={(sent) => (
        <Form form={form} layout="vertical" disabled={sent}>
          <Form.Item name="name" label={t('tags.lists.name')} rules={[{ required: true, whitespace: true, message: t('tags.lists.nameRequired') }, { max: 100 }]}>
            <Input placeholder={t('tags.lists.namePlaceholder')} id="list-name" />
          </Form.Item>
          <Form.Item name="description" label={t('tags.lists.description')} rules={[{ max: 500 }]}>
            <Input.TextArea rows={2} />
          </Form.Item>
        </Form>
      )}
      renderResult={(res) => (
        <>
          <Alert type="success" showIcon message={t('tags.lists.uploaded', { name: res.list.name, n: res.report.matched })} />
          <ListReport report={res.report} />
        </>
      )}
      errorReport={(err) => {
        const report = reportOf(err);
        return report ? <ListReport report={report} /> : null;
      }}
    />
  );
}
