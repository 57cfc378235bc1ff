import { useState } from 'react';
import { Form, Select, Typography } from 'antd';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../../api/client';
import { useAuth } from '../../auth/AuthContext';
import JobExportButton from '../JobExportButton';
import { useTagLabels, type TagDetail } from './labels';

/** Export of a tag's values (标签数据导出) as a job: choose format and values, follow progress, download. */
export default function TagExport({ tag }: { tag: TagDetail }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const labels = useTagLabels();
  const [values, setValues] = useState<string[]>([]);
  const options = (tag.values ?? []).map((v) => ({ value: String(v.value), label: `${labels.label(v, String(v.value))} (${String(v.value)})` }));
  return (
    <JobExportButton
      queryKey="tag-export"
      testId="tag-export"
      downloadTestId="tag-export-download"
      progressTestId="tag-export-progress"
      progressMessages
      start={(format) =>
        unwrap(api.POST('/api/tags/{tag_id}/exports', { params: { path: { tag_id: tag.id } }, body: { format, values: values.length ? values : null } }))
      }
      poll={(jobId) => unwrap(api.GET('/api/tags/exports/{job_id}', { params: { path: { job_id: jobId } } }))}
      fetchFile={(jobId) => api.GET('/api/tags/exports/{job_id}/download', { params: { path: { job_id: jobId } }, parseAs: 'blob' })}
      fallbackName={(format) => `${tag.code}.${format}`}
      texts={{
        button: t('tags.export.button'),
        queued: t('tags.export.queued'),
        running: t('tags.export.running'),
        download: (rows) => t('tags.export.download', { rows }),
        failed: t('tags.export.failed'),
        csv: 'CSV',
        xlsx: 'Excel (.xlsx)',
      }}
      dialog={{
        title: t('tags.export.title', { name: labels.name(tag) }),
        formatLabel: t('tags.export.format'),
        okText: t('tags.export.start'),
        cancelText: t('app.cancel'),
        content: (
          <>
            <Form layout="vertical">
              <Form.Item label={t('tags.export.values')} extra={t('tags.export.valuesHint')}>
                <Select mode="multiple" allowClear value={values} onChange={setValues} options={options} placeholder={t('tags.export.allValues')} />
              </Form.Item>
            </Form>
            <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
              {can('customers.pii') ? t('tags.export.unmaskedHint') : t('tags.export.maskedHint')}
            </Typography.Paragraph>
          </>
        ),
      }}
    />
  );
}
