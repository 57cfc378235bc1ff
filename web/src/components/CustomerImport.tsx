import { useState } from 'react';
import { Alert, App, Button, Checkbox, Descriptions, Modal, Space, Table, Typography, Upload } from 'antd';
import { InboxOutlined, UploadOutlined } from '@ant-design/icons';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError, errorMessage } from '../api/errors';

type Report = Schemas['LoadReport'];
type RowError = Schemas['RowError'];

/** A failed load (422 import_invalid_rows) carries the load report in the error's details. */
function reportOf(err: unknown): Report | null {
  if (err instanceof ApiError && err.code === 'import_invalid_rows' && err.details && typeof err.details === 'object') {
    return err.details as Report;
  }
  return null;
}

function ReportView({ report }: { report: Report }) {
  const { t, i18n } = useTranslation();
  return (
    <Space direction="vertical" style={{ width: '100%' }} data-testid="import-report">
      <Descriptions size="small" column={3} bordered>
        <Descriptions.Item label={t('customerImport.rowsRead')}>{report.rows_read}</Descriptions.Item>
        <Descriptions.Item label={t('customerImport.inserted')}>{report.inserted}</Descriptions.Item>
        <Descriptions.Item label={t('customerImport.updated')}>{report.updated}</Descriptions.Item>
        <Descriptions.Item label={t('customerImport.skipped')}>{report.skipped}</Descriptions.Item>
        <Descriptions.Item label={t('customerImport.errors')}>{report.error_count}</Descriptions.Item>
        <Descriptions.Item label={t('customerImport.seconds')}>{report.seconds.toFixed(2)}</Descriptions.Item>
        {report.ignored_columns.length > 0 && (
          <Descriptions.Item label={t('customerImport.ignoredColumns')} span={3}>
            {report.ignored_columns.join(', ')}
          </Descriptions.Item>
        )}
      </Descriptions>
      {report.errors.length > 0 && (
        <>
          {report.errors_truncated && (
            <Typography.Text type="secondary">{t('customerImport.truncated', { count: report.errors.length })}</Typography.Text>
          )}
          <Table<RowError>
            size="small"
            rowKey={(e) => `${e.row}-${e.column}-${e.code}`}
            dataSource={report.errors}
            pagination={{ pageSize: 8, size: 'small' }}
            columns={[
              { title: t('customerImport.row'), dataIndex: 'row', width: 70 },
              { title: t('customerImport.column'), dataIndex: 'column', width: 140, render: (c: string | null) => c ?? '-' },
              {
                title: t('customerImport.message'),
                key: 'message',
                render: (_: unknown, e) => (i18n.language === 'en' ? e.message_en : e.message_zh),
              },
            ]}
          />
        </>
      )}
    </Space>
  );
}

/** 客户批量导入: upload a CSV / Parquet / .xlsx file to POST /api/customers/import and show the load report. */
export default function CustomerImport() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [skipInvalid, setSkipInvalid] = useState(false);

  const upload = useMutation({
    mutationFn: (f: File) =>
      unwrap(
        api.POST('/api/customers/import', {
          params: { query: { skip_invalid: skipInvalid } },
          // The generated schema types an OpenAPI `format: binary` field as string; the browser sends the File.
          body: { file: f as unknown as string },
          bodySerializer: (body) => {
            const form = new FormData();
            form.append('file', body.file as unknown as Blob, f.name);
            return form;
          },
        }),
      ),
    onSuccess: (report) => {
      void message.success(t('customerImport.done', { inserted: report.inserted, updated: report.updated }));
      void queryClient.invalidateQueries({ queryKey: ['customers'] });
    },
  });
  const failedReport = reportOf(upload.error);

  const close = () => {
    setOpen(false);
    setFile(null);
    upload.reset();
  };

  return (
    <>
      <Button icon={<UploadOutlined />} onClick={() => setOpen(true)} data-testid="customer-import">
        {t('customerImport.button')}
      </Button>
      <Modal
        title={t('customerImport.title')}
        open={open}
        onCancel={close}
        width={720}
        destroyOnHidden
        footer={
          <Space>
            <Button onClick={close}>{t('app.cancel')}</Button>
            <Button
              type="primary"
              disabled={!file}
              loading={upload.isPending}
              onClick={() => file && upload.mutate(file)}
              data-testid="customer-import-submit"
            >
              {t('customerImport.submit')}
            </Button>
          </Space>
        }
      >
        <Space direction="vertical" style={{ width: '100%' }} size="middle">
          <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
            {t('customerImport.hint')}
          </Typography.Paragraph>
          <Upload.Dragger
            accept=".csv,.parquet,.xlsx"
            maxCount={1}
            fileList={file ? [{ uid: 'file', name: file.name, status: 'done' }] : []}
            beforeUpload={(f) => {
              setFile(f);
              upload.reset();
              return false; // uploaded by the Import button, not on selection
            }}
            onRemove={() => {
              setFile(null);
              upload.reset();
            }}
          >
            <p className="ant-upload-drag-icon">
              <InboxOutlined />
            </p>
            <p className="ant-upload-text">{t('customerImport.drop')}</p>
          </Upload.Dragger>
          <Checkbox checked={skipInvalid} onChange={(e) => setSkipInvalid(e.target.checked)}>
            {t('customerImport.skipInvalid')}
          </Checkbox>
          {upload.error && <Alert type="error" showIcon message={errorMessage(upload.error)} />}
          {failedReport && <ReportView report={failedReport} />}
          {upload.data && <ReportView report={upload.data} />}
        </Space>
      </Modal>
    </>
  );
}
