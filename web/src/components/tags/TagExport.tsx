import { useState } from 'react';
import { Alert, Button, Form, Modal, Progress, Radio, Select, Space, Typography } from 'antd';
import { DownloadOutlined, ExportOutlined } from '@ant-design/icons';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../../api/client';
import { ApiError, errorMessage } from '../../api/errors';
import { useAuth } from '../../auth/AuthContext';
import { notifyError } from '../../lib/notify';
import { useTagLabels, type TagDetail } from './labels';

type Format = 'csv' | 'xlsx';

/** Export of a tag's values (标签数据导出) as a job: choose format and values, follow progress, download. */
export default function TagExport({ tag }: { tag: TagDetail }) {
  const { t } = useTranslation();
  const { can } = useAuth();
  const labels = useTagLabels();
  const [open, setOpen] = useState(false);
  const [format, setFormat] = useState<Format>('csv');
  const [values, setValues] = useState<string[]>([]);
  const [jobId, setJobId] = useState<number | null>(null);

  const start = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/tags/{tag_id}/exports', {
          params: { path: { tag_id: tag.id } },
          body: { format, values: values.length ? values : null },
        }),
      ),
    onSuccess: (job) => {
      setJobId(job.job_id);
      setOpen(false);
    },
  });

  const status = useQuery({
    queryKey: ['tag-export', jobId],
    queryFn: () => unwrap(api.GET('/api/tags/exports/{job_id}', { params: { path: { job_id: jobId ?? 0 } } })),
    enabled: jobId !== null,
    refetchInterval: (query) => {
      const s = query.state.data?.status;
      return s === 'succeeded' || s === 'failed' || s === 'cancelled' ? false : 1000;
    },
  });

  const download = async () => {
    if (jobId === null) return;
    const result = await api.GET('/api/tags/exports/{job_id}/download', { params: { path: { job_id: jobId } }, parseAs: 'blob' });
    if (!result.response.ok || !(result.data instanceof Blob)) {
      notifyError(errorMessage(ApiError.fromBody(result.response.status, result.error)));
      return;
    }
    const url = URL.createObjectURL(result.data);
    const link = document.createElement('a');
    link.href = url;
    link.download = status.data?.file_name ?? `${tag.code}.${format}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  };

  const job = status.data;
  const options = (tag.values ?? []).map((v) => ({ value: String(v.value), label: `${labels.label(v, String(v.value))} (${String(v.value)})` }));
  return (
    <Space size={8} wrap>
      <Button icon={<ExportOutlined />} onClick={() => setOpen(true)} data-testid="tag-export">
        {t('tags.export.button')}
      </Button>
      {job && (job.status === 'queued' || job.status === 'running') && (
        <Space size={4} data-testid="tag-export-progress">
          <Progress type="circle" size={24} percent={Math.round(job.progress * 100)} />
          <Typography.Text type="secondary">{job.progress_message || (job.status === 'queued' ? t('tags.export.queued') : t('tags.export.running'))}</Typography.Text>
        </Space>
      )}
      {job?.status === 'succeeded' && (
        <Button type="link" icon={<DownloadOutlined />} onClick={() => void download()} data-testid="tag-export-download">
          {t('tags.export.download', { rows: job.rows ?? 0 })}
        </Button>
      )}
      {job && (job.status === 'failed' || job.status === 'cancelled') && (
        <Typography.Text type="danger">
          {t('tags.export.failed')}
          {job.error ? `：${job.error}` : ''}
        </Typography.Text>
      )}
      <Modal
        title={t('tags.export.title', { name: labels.name(tag) })}
        open={open}
        onCancel={() => setOpen(false)}
        onOk={() => start.mutate()}
        okText={t('tags.export.start')}
        cancelText={t('app.cancel')}
        confirmLoading={start.isPending}
        destroyOnHidden
      >
        <Form layout="vertical">
          <Form.Item label={t('tags.export.format')}>
            <Radio.Group value={format} onChange={(e) => setFormat(e.target.value as Format)}>
              <Radio value="csv">CSV</Radio>
              <Radio value="xlsx">Excel (.xlsx)</Radio>
            </Radio.Group>
          </Form.Item>
          <Form.Item label={t('tags.export.values')} extra={t('tags.export.valuesHint')}>
            <Select mode="multiple" allowClear value={values} onChange={setValues} options={options} placeholder={t('tags.export.allValues')} />
          </Form.Item>
        </Form>
        <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
          {can('customers.pii') ? t('tags.export.unmaskedHint') : t('tags.export.maskedHint')}
        </Typography.Paragraph>
        {start.error && <Alert type="error" showIcon message={errorMessage(start.error)} style={{ marginTop: 12 }} />}
      </Modal>
    </Space>
  );
}
