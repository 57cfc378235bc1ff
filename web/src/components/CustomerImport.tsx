import { useState } from 'react';
import { App, Checkbox, Descriptions, Space, Table, Typography } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../api/client';
import { ApiError } from '../api/errors';
import FileUploadDialog, { formData } from './FileUploadDialog';

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
  const [skipInvalid, setSkipInvalid] = useState(false);

  return (
    <FileUploadDialog<Report>
      buttonText={t('customerImport.button')}
      buttonTestId="customer-import"
      title={t('customerImport.title')}
      hint={t('customerImport.hint')}
      dropText={t('customerImport.drop')}
      submitText={t('customerImport.submit')}
      cancelText={t('app.cancel')}
      doneText={t('tags.lists.done')}
      submitTestId="customer-import-submit"
      doneTestId="customer-import-done"
      accept=".csv,.parquet,.xlsx"
      send={(f) =>
        unwrap(
          api.POST('/api/customers/import', {
            params: { query: { skip_invalid: skipInvalid } },
            body: { file: f as unknown as string },
            bodySerializer: () => formData(f),
          }),
        )
      }
      onSent={(report) => {
        void message.success(t('customerImport.done', { inserted: report.inserted, updated: report.updated }));
        void queryClient.invalidateQueries({ queryKey: ['customers'] });
      }}
      options={
        <Checkbox checked={skipInvalid} onChange={(e) => setSkipInvalid(e.target.checked)}>
          {t('customerImport.skipInvalid')}
        </Checkbox>
      }
      renderResult={(report) => <ReportView report={report} />}
      errorReport={(err) => {
        const report = reportOf(err);
        return report ? <ReportView report={report} /> : null;
      }}
    />
  );
}
