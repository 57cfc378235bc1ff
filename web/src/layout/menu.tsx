import type { ReactNode } from 'react';
import { AuditOutlined, ApartmentOutlined, ScheduleOutlined, TeamOutlined, UserOutlined } from '@ant-design/icons';
import type { Permission } from '../auth/AuthContext';

export interface MenuEntry {
  key: 'customers' | 'orgs' | 'users' | 'audit' | 'jobs';
  path: string;
  icon: ReactNode;
  permission: Permission;
}

/** Pages in menu order; each shows only to roles with its permission. */
export const MENU: MenuEntry[] = [
  { key: 'customers', path: '/customers', icon: <TeamOutlined />, permission: 'customers.read' },
  { key: 'orgs', path: '/orgs', icon: <ApartmentOutlined />, permission: 'orgs.read' },
  { key: 'users', path: '/users', icon: <UserOutlined />, permission: 'users.manage' },
  { key: 'audit', path: '/audit', icon: <AuditOutlined />, permission: 'audit.read' },
  { key: 'jobs', path: '/jobs', icon: <ScheduleOutlined />, permission: 'jobs.read' },
];
