import { useState, type ReactNode } from 'react';
import { Alert, Button, Modal, Space, Typography, Upload } from 'antd';
import { InboxOutlined, UploadOutlined } from '@ant-design/icons';
import { useMutation } from '@tanstack/react-query';
import { errorMessage } from '../api/errors';

export interface FileUploadDialogProps<R> {
  /** The button that opens the dialog. */
  buttonText: ReactNode;
  buttonTestId: string;
  title: ReactNode;
  hint: ReactNode;
  dropText: ReactNode;
  submitText: ReactNode;
  cancelText: ReactNode;
  doneText: ReactNode;
  submitTestId?: string;
  doneTestId?: string;
  accept?: string;
  width?: number;
  /** Sends the chosen file; a rejection shows its message (and ``errorReport`` of it, when there is one). */
  send: (file: File) => Promise<R>;
  onSent?: (result: R) => void;
  /** Checks the dialog's own fields before sending; false keeps the dialog as it is. */
  validate?: () => Promise<boolean>;
  onClose?: () => void;
  /** Fields above the drop area (disabled once the file is sent) and options below it. */
  fields?: (sent: boolean) => ReactNode;
  options?: ReactNode;
  /** What the server reported: after success, and from a rejection that carries a report. */
  renderResult: (result: R) => ReactNode;
  errorReport?: (err: unknown) => ReactNode | null;
}

/**
 * One file upload in a dialog (客户导入、上传名单、评分文件): pick or drop one file, send it with the
 * Upload button (not on selection), show the server's report; once sent, the dialog only closes.
 */
export default function FileUploadDialog<R>(props: FileUploadDialogProps<R>) {
  const { send, onSent, validate, onClose } = props;
  const [open, setOpen] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const upload = useMutation({ mutationFn: send, onSuccess: (result) => onSent?.(result) });
  const sent = upload.data !== undefined;
  const failedReport = upload.error && props.errorReport ? props.errorReport(upload.error) : null;

  const close = () => {
    setOpen(false);
    setFile(null);
    upload.reset();
    onClose?.();
  };
  const submit = async () => {
    if (!file || (validate && !(await validate()))) return;
    upload.mutate(file);
  };

  return (
    <>
      <Button icon={<UploadOutlined />} onClick={() => setOpen(true)} data-testid={props.buttonTestId}>
        {props.buttonText}
      </Button>
      <Modal
        title={props.title}
        open={open}
        onCancel={close}
        width={props.width ?? 720}
        destroyOnHidden
        footer={
          sent ? (
            <Button type="primary" onClick={close} data-testid={props.doneTestId}>
              {props.doneText}
            </Button>
          ) : (
            <Space>
              <Button onClick={close}>{props.cancelText}</Button>
              <Button type="primary" disabled={!file} loading={upload.isPending} onClick={() => void submit()} data-testid={props.submitTestId}>
                {props.submitText}
              </Button>
            </Space>
          )
        }
      >
        <Space direction="vertical" style={{ width: '100%' }} size="middle">
          <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>
            {props.hint}
          </Typography.Paragraph>
          {props.fields?.(sent)}
          <Upload.Dragger
            accept={props.accept ?? '.csv,.xlsx,.parquet'}
            maxCount={1}
            disabled={sent}
            fileList={file ? [{ uid: 'file', name: file.name, status: 'done' }] : []}
            beforeUpload={(f) => {
              setFile(f);
              upload.reset();
              return false; // sent by the Upload button, not on selection
            }}
            onRemove={() => {
              setFile(null);
              upload.reset();
            }}
          >
            <p className="ant-upload-drag-icon">
              <InboxOutlined />
            </p>
            <p className="ant-upload-text">{props.dropText}</p>
          </Upload.Dragger>
          {props.options}
          {upload.error && <Alert type="error" showIcon message={errorMessage(upload.error)} />}
          {failedReport}
          {upload.data !== undefined && props.renderResult(upload.data)}
        </Space>
      </Modal>
    </>
  );
}

/** The browser sends the File as multipart form data; the generated schema types a binary field as string. */
export function formData(file: File, fields: Record<string, string | null | undefined> = {}): FormData {
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    if (value) data.append(key, value);
  }
  data.append('file', file, file.name);
  return data;
}
