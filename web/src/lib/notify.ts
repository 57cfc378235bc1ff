import type { MessageInstance } from 'antd/es/message/interface';
import type { NotificationInstance } from 'antd/es/notification/interface';

/** The antd message/notification APIs of the mounted <App>, for code outside components (query cache). */
let messageApi: MessageInstance | null = null;
let notificationApi: NotificationInstance | null = null;
const recent = new Map<string, number>();

export function bindNotifier(message: MessageInstance, notification: NotificationInstance): void {
  messageApi = message;
  notificationApi = notification;
}

/** Show an error once (the same text within 3 s is shown once). */
export function notifyError(text: string, title?: string): void {
  const now = Date.now();
  const last = recent.get(text);
  if (last && now - last < 3000) return;
  recent.set(text, now);
  if (title && notificationApi) notificationApi.error({ message: title, description: text });
  else messageApi?.error(text);
}
