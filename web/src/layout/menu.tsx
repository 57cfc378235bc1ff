import type { ReactNode } from 'react';
import { SafetyOutlined, ApiOutlined, GiftOutlined, MessageOutlined, StopOutlined, TrophyOutlined, ReadOutlined, ThunderboltOutlined, AimOutlined, AlertOutlined, AuditOutlined, CheckSquareOutlined, FlagOutlined, ProfileOutlined, ApartmentOutlined, FileTextOutlined, HistoryOutlined, NodeIndexOutlined, ScheduleOutlined, TagsOutlined, TeamOutlined, UserOutlined } from '@ant-design/icons';
import type { Permission } from '../auth/AuthContext';

export interface MenuEntry {
  key: 'approvalTemplates' | 'customers' | 'audiences' | 'tags' | 'tagRuns' | 'lifecycle' | 'customerLists' | 'plans' | 'approvals' | 'campaigns' | 'triggers' | 'orgs' | 'users' | 'audit' | 'jobs' | 'eventStream' | 'eventSchema' | 'eventSources' | 'benefits' | 'messageTemplates' | 'successRules' | 'blockedWords' | 'contactPolicy' | 'suppressionLists';
  path: string;
  icon: ReactNode;
  permission: Permission;
}

/** Pages in menu order; each shows only to roles with its permission. */
export const MENU: MenuEntry[] = [
  { key: 'customers', path: '/customers', icon: <TeamOutlined />, permission: 'customers.read' },
  { key: 'audiences', path: '/audiences', icon: <AimOutlined />, permission: 'audiences.read' },
  { key: 'tags', path: '/tags', icon: <TagsOutlined />, permission: 'tags.read' },
  { key: 'tagRuns', path: '/tag-runs', icon: <HistoryOutlined />, permission: 'tags.read' },
  { key: 'lifecycle', path: '/lifecycle', icon: <NodeIndexOutlined />, permission: 'tags.read' },
  { key: 'customerLists', path: '/customer-lists', icon: <FileTextOutlined />, permission: 'audiences.read' },
  { key: 'triggers', path: '/triggers', icon: <AlertOutlined />, permission: 'events.read' },
  { key: 'plans', path: '/plans', icon: <ProfileOutlined />, permission: 'plans.read' },
  { key: 'approvals', path: '/approvals', icon: <CheckSquareOutlined />, permission: 'approvals.decide' },
  { key: 'approvalTemplates', path: '/approval-templates', icon: <CheckSquareOutlined />, permission: 'orgs.manage' },
  { key: 'campaigns', path: '/campaigns', icon: <FlagOutlined />, permission: 'campaigns.read' },
  // 要素管理 (I2): the campaign elements, together
  { key: 'benefits', path: '/benefits', icon: <GiftOutlined />, permission: 'campaigns.read' },
  { key: 'messageTemplates', path: '/message-templates', icon: <MessageOutlined />, permission: 'campaigns.read' },
  { key: 'successRules', path: '/success-rules', icon: <TrophyOutlined />, permission: 'campaigns.read' },
  { key: 'blockedWords', path: '/blocked-words', icon: <StopOutlined />, permission: 'campaigns.read' },
  { key: 'contactPolicy', path: '/contact-policy', icon: <SafetyOutlined />, permission: 'contacts.manage' },
  { key: 'suppressionLists', path: '/suppression-lists', icon: <StopOutlined />, permission: 'contacts.manage' },
  { key: 'eventStream', path: '/events', icon: <ThunderboltOutlined />, permission: 'events.read' },
  { key: 'eventSchema', path: '/event-schema', icon: <ReadOutlined />, permission: 'events.read' },
  { key: 'eventSources', path: '/event-sources', icon: <ApiOutlined />, permission: 'events.read' },
  { key: 'orgs', path: '/orgs', icon: <ApartmentOutlined />, permission: 'orgs.read' },
  { key: 'users', path: '/users', icon: <UserOutlined />, permission: 'users.manage' },
  { key: 'audit', path: '/audit', icon: <AuditOutlined />, permission: 'audit.read' },
  { key: 'jobs', path: '/jobs', icon: <ScheduleOutlined />, permission: 'jobs.read' },
];
