import { useEffect } from 'react';
import { App } from 'antd';
import { bindNotifier } from '../lib/notify';

export default function NotifierBridge() {
  const { message, notification } = App.useApp();
  useEffect(() => bindNotifier(message, notification), [message, notification]);
  return null;
}
