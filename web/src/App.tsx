import { lazy, Suspense, useMemo } from 'react';
import { App as AntApp, ConfigProvider, Spin } from 'antd';
import zhCN from 'antd/es/locale/zh_CN';
import enUS from 'antd/es/locale/en_US';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { BrowserRouter, Navigate, Route, Routes } from 'react-router';
import { useTranslation } from 'react-i18next';
import { AuthProvider } from './auth/AuthContext';
import RequireAuth, { RequirePermission } from './auth/RequireAuth';
import AppLayout from './layout/AppLayout';
import NotifierBridge from './components/NotifierBridge';
import { ApiError, errorMessage } from './api/errors';
import { notifyError } from './lib/notify';
import LoginPage from './pages/Login';
import HomeRedirect from './pages/HomeRedirect';
import NotFound from './pages/NotFound';

const CustomersPage = lazy(() => import('./pages/Customers'));
const Customer360Page = lazy(() => import('./pages/Customer360'));
const ContactPolicyPage = lazy(() => import('./pages/ContactPolicy'));
const SuppressionListsPage = lazy(() => import('./pages/SuppressionLists'));
const OrgsPage = lazy(() => import('./pages/Orgs'));
const UsersPage = lazy(() => import('./pages/Users'));
const AuditPage = lazy(() => import('./pages/Audit'));
const JobsPage = lazy(() => import('./pages/Jobs'));
const EventSourcesPage = lazy(() => import('./pages/EventSources'));
const EventStreamPage = lazy(() => import('./pages/EventStream'));
const EventSchemaPage = lazy(() => import('./pages/EventSchema'));
const AudiencesPage = lazy(() => import('./pages/Audiences'));
const AudienceBuilderPage = lazy(() => import('./pages/AudienceBuilder'));
const TagsPage = lazy(() => import('./pages/Tags'));
const TagDetailPage = lazy(() => import('./pages/TagDetail'));
const TagEditorPage = lazy(() => import('./pages/TagEditor'));
const TagRunsPage = lazy(() => import('./pages/TagRuns'));
const LifecyclePage = lazy(() => import('./pages/Lifecycle'));
const CustomerListsPage = lazy(() => import('./pages/CustomerLists'));
const PlansPage = lazy(() => import('./pages/Plans'));
const PlanEditorPage = lazy(() => import('./pages/PlanEditor'));
const PlanVersionsPage = lazy(() => import('./pages/PlanVersions'));
const ApprovalInboxPage = lazy(() => import('./pages/ApprovalInbox'));
const ApprovalTemplatesPage = lazy(() => import('./pages/ApprovalTemplates'));
const CampaignsPage = lazy(() => import('./pages/Campaigns'));
const CampaignDetailPage = lazy(() => import('./pages/CampaignDetail'));
const CampaignWizardPage = lazy(() => import('./pages/CampaignWizard'));
const TriggersPage = lazy(() => import('./pages/Triggers'));
const TriggerEditorPage = lazy(() => import('./pages/TriggerEditor'));
const TriggerFiringsPage = lazy(() => import('./pages/TriggerFirings'));
const BenefitsPage = lazy(() => import('./pages/Benefits'));
const MessageTemplatesPage = lazy(() => import('./pages/MessageTemplates'));
const SuccessRulesPage = lazy(() => import('./pages/SuccessRules'));
const BlockedWordsPage = lazy(() => import('./pages/BlockedWords'));

const queryClient = new QueryClient({
  queryCache: new QueryCache({
    onError: (err, query) => {
      // 401 sends the user to the login page; 404s are shown by the page itself.
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) return;
      if (query.meta?.silent) return;
      notifyError(errorMessage(err));
    },
  }),
  defaultOptions: {
    queries: {
      refetchOnWindowFocus: false,
      staleTime: 15_000,
      retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
    },
    mutations: { retry: false },
  },
});

function PageFallback() {
  return (
    <div style={{ padding: 48, textAlign: 'center' }}>
      <Spin size="large" />
    </div>
  );
}

export default function App() {
  const { i18n } = useTranslation();
  const locale = useMemo(() => (i18n.language === 'en' ? enUS : zhCN), [i18n.language]);
  return (
    <ConfigProvider locale={locale} theme={{ token: { colorPrimary: '#1d4ed8', borderRadius: 6 } }}>
      <AntApp>
        <NotifierBridge />
        <QueryClientProvider client={queryClient}>
          <BrowserRouter>
            <AuthProvider>
              <Suspense fallback={<PageFallback />}>
                <Routes>
                  <Route path="/login" element={<LoginPage />} />
                  <Route element={<RequireAuth><AppLayout /></RequireAuth>}>
                    <Route index element={<HomeRedirect />} />
                    <Route path="customers" element={<RequirePermission permission="customers.read"><CustomersPage /></RequirePermission>} />
                    <Route path="customers/:customerNo" element={<RequirePermission permission="customers.read"><Customer360Page /></RequirePermission>} />
                    <Route path="orgs" element={<RequirePermission permission="orgs.read"><OrgsPage /></RequirePermission>} />
                    <Route path="users" element={<RequirePermission permission="users.manage"><UsersPage /></RequirePermission>} />
                    <Route path="audit" element={<RequirePermission permission="audit.read"><AuditPage /></RequirePermission>} />
                    <Route path="jobs" element={<RequirePermission permission="jobs.read"><JobsPage /></RequirePermission>} />
                    <Route path="audiences" element={<RequirePermission permission="audiences.read"><AudiencesPage /></RequirePermission>} />
                    <Route path="audiences/:audienceId" element={<RequirePermission permission="audiences.read"><AudienceBuilderPage /></RequirePermission>} />
                    <Route path="tags" element={<RequirePermission permission="tags.read"><TagsPage /></RequirePermission>} />
                    <Route path="tags/new" element={<RequirePermission permission="tags.manage"><TagEditorPage /></RequirePermission>} />
                    <Route path="tags/:tagId" element={<RequirePermission permission="tags.read"><TagDetailPage /></RequirePermission>} />
                    <Route path="tags/:tagId/edit" element={<RequirePermission permission="tags.manage"><TagEditorPage /></RequirePermission>} />
                    <Route path="tag-runs" element={<RequirePermission permission="tags.read"><TagRunsPage /></RequirePermission>} />
                    <Route path="lifecycle" element={<RequirePermission permission="tags.read"><LifecyclePage /></RequirePermission>} />
                    <Route path="customer-lists" element={<RequirePermission permission="audiences.read"><CustomerListsPage /></RequirePermission>} />
                    <Route path="plans" element={<RequirePermission permission="plans.read"><PlansPage /></RequirePermission>} />
                    <Route path="plans/new" element={<RequirePermission permission="plans.manage"><PlanEditorPage /></RequirePermission>} />
                    <Route path="plans/:planId" element={<RequirePermission permission="plans.read"><PlanEditorPage /></RequirePermission>} />
                    <Route path="plans/:planId/versions" element={<RequirePermission permission="plans.read"><PlanVersionsPage /></RequirePermission>} />
                    <Route path="approvals" element={<RequirePermission permission="approvals.decide"><ApprovalInboxPage /></RequirePermission>} />
                    <Route path="approval-templates" element={<RequirePermission permission="orgs.manage"><ApprovalTemplatesPage /></RequirePermission>} />
                    <Route path="campaigns" element={<RequirePermission permission="campaigns.read"><CampaignsPage /></RequirePermission>} />
                    <Route path="campaigns/:campaignId" element={<RequirePermission permission="campaigns.read"><CampaignDetailPage /></RequirePermission>} />
                    <Route path="campaigns/:campaignId/configure" element={<RequirePermission permission="campaigns.manage"><CampaignWizardPage /></RequirePermission>} />
                    <Route path="triggers" element={<RequirePermission permission="events.read"><TriggersPage /></RequirePermission>} />
                    <Route path="triggers/new" element={<RequirePermission permission="triggers.manage"><TriggerEditorPage /></RequirePermission>} />
                    <Route path="triggers/:triggerId/edit" element={<RequirePermission permission="events.read"><TriggerEditorPage /></RequirePermission>} />
                    <Route path="triggers/:triggerId" element={<RequirePermission permission="events.read"><TriggerFiringsPage /></RequirePermission>} />
                    <Route path="events" element={<RequirePermission permission="events.read"><EventStreamPage /></RequirePermission>} />
                    <Route path="event-schema" element={<RequirePermission permission="events.read"><EventSchemaPage /></RequirePermission>} />
                    <Route path="event-sources" element={<RequirePermission permission="events.read"><EventSourcesPage /></RequirePermission>} />
                    <Route path="benefits" element={<RequirePermission permission="campaigns.read"><BenefitsPage /></RequirePermission>} />
                    <Route path="message-templates" element={<RequirePermission permission="campaigns.read"><MessageTemplatesPage /></RequirePermission>} />
                    <Route path="success-rules" element={<RequirePermission permission="campaigns.read"><SuccessRulesPage /></RequirePermission>} />
                    <Route path="blocked-words" element={<RequirePermission permission="campaigns.read"><BlockedWordsPage /></RequirePermission>} />
                    <Route path="contact-policy" element={<RequirePermission permission="contacts.manage"><ContactPolicyPage /></RequirePermission>} />
                    <Route path="suppression-lists" element={<RequirePermission permission="contacts.manage"><SuppressionListsPage /></RequirePermission>} />
                    <Route path="home" element={<Navigate to="/" replace />} />
                    <Route path="*" element={<NotFound />} />
                  </Route>
                </Routes>
              </Suspense>
            </AuthProvider>
          </BrowserRouter>
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  );
}
