import { useTranslation } from 'react-i18next';
import { api, unwrap } from '../../api/client';
import JobExportButton from '../JobExportButton';

/** Export members of a saved audience or a snapshot as a background job, with progress and download. */
export default function ExportButton({ audienceId, snapshotId, size = 'middle' }: { audienceId?: number; snapshotId?: number; size?: 'small' | 'middle' }) {
  const { t } = useTranslation();
  return (
    <JobExportButton
      queryKey="audience-export"
      testId="export-button"
      downloadTestId="export-download"
      size={size}
      start={(format) =>
        snapshotId !== undefined
          ? unwrap(api.POST('/api/audience-snapshots/{snapshot_id}/exports', { params: { path: { snapshot_id: snapshotId } }, body: { format } }))
          : unwrap(api.POST('/api/audiences/{audience_id}/exports', { params: { path: { audience_id: audienceId ?? 0 } }, body: { format } }))
      }
      poll={(jobId) => unwrap(api.GET('/api/audiences/exports/{job_id}', { params: { path: { job_id: jobId } } }))}
      fetchFile={(jobId) => api.GET('/api/audiences/exports/{job_id}/download', { params: { path: { job_id: jobId } }, parseAs: 'blob' })}
      fallbackName={(format) => `audience-export.${format}`}
      texts={{
        button: t('audiences.export.button'),
        queued: t('audiences.export.queued'),
        running: t('audiences.export.running'),
        download: (rows) => t('audiences.export.download', { rows }),
        failed: t('audiences.export.failed'),
        masked: t('audiences.export.masked'),
        csv: t('audiences.export.csv'),
        xlsx: t('audiences.export.xlsx'),
      }}
    />
  );
}
