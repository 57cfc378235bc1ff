import { useState } from 'react';
import { Button, Dropdown, Progress, Space, Typography } from 'antd';
import { DownloadOutlined, ExportOutlined } from '@ant-design/icons';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../../api/client';
import { ApiError, errorMessage } from '../../api/errors';
import { notifyError } from '../../lib/notify';

type Format = 'csv' | 'xlsx';

/** Export members of a saved audience or a snapshot as a background job, with progress and download. */
export default function ExportButton({ audienceId, snapshotId, size = 'middle' }: { audienceId?: number; snapshotId?: number; size?: 'small' | 'middle' }) {
  const { t } = useTranslation();
  const [jobId, setJobId] = useState<number | null>(null);

  const start = useMutation({
    mutationFn: (format: Format) =>
      snapshotId !== undefined
        ? unwrap(api.POST('/api/audience-snapshots/{snapshot_id}/exports', { params: { path: { snapshot_id: snapshotId } }, body: { format } }))
        : unwrap(api.POST('/api/audiences/{audience_id}/exports', { params: { path: { audience_id: audienceId ?? 0 } }, body: { format } })),
    onSuccess: (job) => setJobId(job.job_id),
    onError: (err) => notifyError(errorMessage(err)),
  });

  const status = useQuery({
    queryKey: ['audience-export', jobId],
    queryFn: () => unwrap(api.GET('/api/audiences/exports/{job_id}', { params: { path: { job_id: jobId ?? 0 } } })),
    enabled: jobId !== null,
    refetchInterval: (query) => {
      const s = query.state.data?.status;
      return s === 'succeeded' || s === 'failed' || s === 'cancelled' ? false : 1000;
    },
  });

  const download = async () => {
    if (jobId === null) return;
    const result = await api.GET('/api/audiences/exports/{job_id}/download', {
      params: { path: { job_id: jobId } },
      parseAs: 'blob',
    });
    if (!result.response.ok || !(result.data instanceof Blob)) {
      notifyError(errorMessage(ApiError.fromBody(result.response.status, result.error)));
      return;
    }
    const url = URL.createObjectURL(result.data);
    const link = document.createElement('a');
    link.href = url;
    link.download = status.data?.file_name ?? `audience-export.${status.data?.format ?? 'csv'}`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  };

  const job = status.data;
  return (
    <Space size={8} wrap>
      <Dropdown
        menu={{
          items: [
            { key: 'csv', label: t('audiences.export.csv') },
            { key: 'xlsx', label: t('audiences.export.xlsx') },
          ],
          onClick: ({ key }) => start.mutate(key as Format),
        }}
      >
        <Button size={size} icon={<ExportOutlined />} loading={start.isPending} data-testid="export-button">
          {t('audiences.export.button')}
        </Button>
      </Dropdown>
      {job && (job.status === 'queued' || job.status === 'running') && (
        <Space size={4}>
          <Progress type="circle" size={24} percent={Math.round(job.progress * 100)} />
          <Typography.Text type="secondary">
            {job.status === 'queued' ? t('audiences.export.queued') : t('audiences.export.running')}
          </Typography.Text>
        </Space>
      )}
      {job?.status === 'succeeded' && (
        <Button size={size} type="link" icon={<DownloadOutlined />} onClick={() => void download()} data-testid="export-download">
          {t('audiences.export.download', { rows: job.rows ?? 0 })}
          {job.masked ? `（${t('audiences.export.masked')}）` : ''}
        </Button>
      )}
      {job && (job.status === 'failed' || job.status === 'cancelled') && (
        <Typography.Text type="danger">{t('audiences.export.failed')}</Typography.Text>
      )}
    </Space>
  );
}
