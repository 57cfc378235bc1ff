import { useState, type ReactNode } from 'react';
import { Alert, Button, Dropdown, Form, Modal, Progress, Radio, Space, Typography } from 'antd';
import { DownloadOutlined, ExportOutlined } from '@ant-design/icons';
import { useMutation, useQuery } from '@tanstack/react-query';
import { ApiError, errorMessage } from '../api/errors';
import { notifyError } from '../lib/notify';

export type ExportFormat = 'csv' | 'xlsx';

/** What the export endpoints (audiences, tags) report about their job. */
export interface ExportJob {
  job_id: number;
  status: string;
  progress: number;
  progress_message?: string | null;
  rows?: number | null;
  file_name?: string | null;
  masked?: boolean | null;
  error?: string | null;
}

/** An openapi-fetch result read as a blob. */
interface FileResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}

export interface JobExportTexts {
  button: ReactNode;
  queued: string;
  running: string;
  download: (rows: number) => ReactNode;
  failed: ReactNode;
  masked?: string;
  csv: ReactNode;
  xlsx: ReactNode;
}

export interface JobExportButtonProps {
  /** Distinguishes the polling queries of different kinds of export. */
  queryKey: string;
  start: (format: ExportFormat) => Promise<ExportJob>;
  poll: (jobId: number) => Promise<ExportJob>;
  fetchFile: (jobId: number) => Promise<FileResult>;
  fallbackName: (format: ExportFormat) => string;
  texts: JobExportTexts;
  testId: string;
  downloadTestId: string;
  progressTestId?: string;
  size?: 'small' | 'middle';
  /** Show the job's own progress message (else queued / running). */
  progressMessages?: boolean;
  /**
   * Without a dialog the button is a menu of formats; with one it opens a dialog with the format and
   * ``dialog.content`` (filters, a note) and starts the export on OK.
   */
  dialog?: { title: ReactNode; content?: ReactNode; formatLabel: ReactNode; okText: ReactNode; cancelText: ReactNode };
}

/** An export as a background job (导出作业): start it, follow its progress, download the file when done. */
export default function JobExportButton(props: JobExportButtonProps) {
  const { start: startJob, poll, dialog, texts, size = 'middle' } = props;
  const [jobId, setJobId] = useState<number | null>(null);
  const [format, setFormat] = useState<ExportFormat>('csv');
  const [open, setOpen] = useState(false);

  const start = useMutation({
    mutationFn: (chosen: ExportFormat) => startJob(chosen),
    onSuccess: (job) => {
      setJobId(job.job_id);
      setOpen(false);
    },
    onError: (err) => {
      if (!dialog) notifyError(errorMessage(err)); // a dialog shows it in place
    },
  });

  const status = useQuery({
    queryKey: [props.queryKey, jobId],
    queryFn: () => poll(jobId ?? 0),
    enabled: jobId !== null,
    refetchInterval: (query) => {
      const s = query.state.data?.status;
      return s === 'succeeded' || s === 'failed' || s === 'cancelled' ? false : 1000;
    },
  });

  const download = async () => {
    if (jobId === null) return;
    const result = await props.fetchFile(jobId);
    if (!result.response.ok || !(result.data instanceof Blob)) {
      notifyError(errorMessage(ApiError.fromBody(result.response.status, result.error)));
      return;
    }
    const url = URL.createObjectURL(result.data);
    const link = document.createElement('a');
    link.href = url;
    link.download = status.data?.file_name ?? props.fallbackName(format);
    document.body.appendChild(link);
    link.click();
    link.remove();
    URL.revokeObjectURL(url);
  };

  const job = status.data;
  const button = (
    <Button size={size} icon={<ExportOutlined />} loading={!dialog && start.isPending} onClick={dialog ? () => setOpen(true) : undefined} data-testid={props.testId}>
      {texts.button}
    </Button>
  );
  return (
    <Space size={8} wrap>
      {dialog ? (
        button
      ) : (
        <Dropdown
          menu={{
            items: [
              { key: 'csv', label: texts.csv },
              { key: 'xlsx', label: texts.xlsx },
            ],
            onClick: ({ key }) => {
              setFormat(key as ExportFormat);
              start.mutate(key as ExportFormat);
            },
          }}
        >
          {button}
        </Dropdown>
      )}
      {job && (job.status === 'queued' || job.status === 'running') && (
        <Space size={4} data-testid={props.progressTestId}>
          <Progress type="circle" size={24} percent={Math.round(job.progress * 100)} />
          <Typography.Text type="secondary">
            {(props.progressMessages && job.progress_message) || (job.status === 'queued' ? texts.queued : texts.running)}
          </Typography.Text>
        </Space>
      )}
      {job?.status === 'succeeded' && (
        <Button size={size} type="link" icon={<DownloadOutlined />} onClick={() => void download()} data-testid={props.downloadTestId}>
          {texts.download(job.rows ?? 0)}
          {job.masked && texts.masked ? `（${texts.masked}）` : ''}
        </Button>
      )}
      {job && (job.status === 'failed' || job.status === 'cancelled') && (
        <Typography.Text type="danger">
          {texts.failed}
          {job.error ? `：${job.error}` : ''}
        </Typography.Text>
      )}
      {dialog && (
        <Modal
          title={dialog.title}
          open={open}
          onCancel={() => setOpen(false)}
          onOk={() => start.mutate(format)}
          okText={dialog.okText}
          cancelText={dialog.cancelText}
          confirmLoading={start.isPending}
          destroyOnHidden
        >
          <Form layout="vertical">
            <Form.Item label={dialog.formatLabel}>
              <Radio.Group value={format} onChange={(e) => setFormat(e.target.value as ExportFormat)}>
                <Radio value="csv">{texts.csv}</Radio>
                <Radio value="xlsx">{texts.xlsx}</Radio>
              </Radio.Group>
            </Form.Item>
          </Form>
          {dialog.content}
          {start.error && <Alert type="error" showIcon message={errorMessage(start.error)} style={{ marginTop: 12 }} />}
        </Modal>
      )}
    </Space>
  );
}
