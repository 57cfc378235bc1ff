import { App, Descriptions, Space, Tag } from 'antd';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../../api/client';
import { ApiError } from '../../api/errors';
import { formatInt } from '../../lib/format';
import FileUploadDialog, { formData } from '../FileUploadDialog';

type Report = Schemas['ScoreUploadReport'];

function reportOf(err: unknown): Report | null {
  if (err instanceof ApiError && err.status === 422 && err.details && typeof err.details === 'object' && 'score_column' in err.details) {
    return err.details as Report;
  }
  return null;
}

function ScoreReport({ report }: { report: Report }) {
  const { t } = useTranslation();
  return (
    <Space direction="vertical" style={{ width: '100%' }} data-testid="score-report">
      <Descriptions size="small" column={2} bordered>
        <Descriptions.Item label={t('tags.scores.columns')}>
          {report.number_column} / {report.score_column}
        </Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.rows')}>{formatInt(report.rows)}</Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.matched')}>{formatInt(report.matched)}</Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.duplicates')}>{formatInt(report.duplicates)}</Descriptions.Item>
        <Descriptions.Item label={t('tags.scores.invalid')}>{formatInt(report.invalid_scores)}</Descriptions.Item>
        <Descriptions.Item label={t('tags.lists.unknown')}>{formatInt(report.unknown_count)}</Descriptions.Item>
      </Descriptions>
      {report.unknown.length > 0 && (
        <div style={{ maxHeight: 120, overflow: 'auto' }}>
          {report.unknown.map((n) => (
            <Tag key={n} style={{ marginBottom: 4 }}>
              {n}
            </Tag>
          ))}
        </div>
      )}
    </Space>
  );
}

/** Upload a model's scores (客户号 + 分数) for a model-score tag; the next run buckets them. */
export default function ScoreUpload({ tagId }: { tagId: number }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const queryClient = useQueryClient();
  return (
    <FileUploadDialog<Report>
      buttonText={t('tags.scores.upload')}
      buttonTestId="score-upload"
      title={t('tags.scores.title')}
      hint={t('tags.scores.hint')}
      dropText={t('tags.lists.drop')}
      submitText={t('tags.scores.submit')}
      cancelText={t('app.cancel')}
      doneText={t('tags.lists.done')}
      submitTestId="score-upload-submit"
      doneTestId="score-upload-done"
      width={680}
      send={(f) =>
        unwrap(
          api.POST('/api/tags/{tag_id}/scores', {
            params: { path: { tag_id: tagId } },
            body: { file: f as unknown as string },
            bodySerializer: () => formData(f),
          }),
        )
      }
      onSent={(report) => {
        void message.success(t('tags.scores.done', { n: report.matched }));
        void queryClient.invalidateQueries({ queryKey: ['tags', 'detail', tagId] });
      }}
      renderResult={(report) => <ScoreReport report={report} />}
      errorReport={(err) => {
        const report = reportOf(err);
        return report ? <ScoreReport report={report} /> : null;
      }}
    />
  );
}
