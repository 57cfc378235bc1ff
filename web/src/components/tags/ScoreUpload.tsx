import { useState } from 'react';
import { Alert, App, Button, Descriptions, Modal, Space, Tag, Typography, Upload } from 'antd';
import { InboxOutlined, UploadOutlined } from '@ant-design/icons';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { api, unwrap, type Schemas } from '../../api/client';
import { ApiError, errorMessage } from '../../api/errors';
import { formatInt } from '../../lib/format';

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
  const [open, setOpen] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const upload = useMutation({
    mutationFn: (f: File) =>
      unwrap(
        api.POST('/api/tags/{tag_id}/scores', {
          params: { path: { tag_id: tagId } },
          body: { file: f as unknown as string },
          bodySerializer: (body) => {
            const data = new FormData();
            data.append('file', body.file as unknown as Blob, f.name);
            return data;
          },
        }),
      ),
    onSuccess: (report) => {
      void message.success(t('tags.scores.done', { n: report.matched }));
      void queryClient.invalidateQueries({ queryKey: ['tags', 'detail', tagId] });
    },
  });
  const failed = reportOf(upload.error);
  const close = () => {
    setOpen(false);
    setFile(null);
    upload.reset();
  };
  return (
    <>
      <Button icon={<UploadOutlined />} onClick={() => setOpen(true)} data-testid="score-upload">
        {t('tags.scores.upload')}
      </Button>
      <Modal
        title={t('tags.scores.title')}
        open={open}
        onCancel={close}
        width={680}
        destroyOnHidden
        footer={
          <Space>
            <Button onClick={close}>{upload.data ? t('tags.lists.done') : t('app.cancel')}</Button>
            {!upload.data && (
              <Button type="primary" disabled={!file} loading={upload.isPending} onClick={() => file && upload.mutate(file)}>
                {t('tags.scores.submit')}
              </Button>
            )}
          </Space>
        }
      >
        <Space direction="vertical" style={{ width: '100%' }} size="middle">
          <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
            {t('tags.scores.hint')}
          </Typography.Paragraph>
          <Upload.Dragger
            accept=".csv,.xlsx,.parquet"
            maxCount={1}
            fileList={file ? [{ uid: 'file', name: file.name, status: 'done' }] : []}
            beforeUpload={(f) => {
              setFile(f);
              upload.reset();
              return false;
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
          {failed && <ScoreReport report={failed} />}
          {upload.data && <ScoreReport report={upload.data} />}
        </Space>
      </Modal>
    </>
  );
}
