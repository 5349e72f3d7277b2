import { AlertOutlined, BarChartOutlined, FileSearchOutlined, ReconciliationOutlined } from '@ant-design/icons';
import type { AdminPage } from './pages';
import { ItemDetailPage, ItemsPage } from './pages-recon/items';
import { ReportPage } from './pages-recon/report';
import { RunDetailPage, RunsPage } from './pages-recon/runs';
import { StatementDetailPage, StatementsPage } from './pages-recon/statements';

/**
 * 对账中心 (issue 5): the channels' statements (fetched by the daily job or imported), the runs
 * per channel per day with the platform / statement / ledger check, the discrepancies and their
 * workflow, and the daily report with its Excel export. Each screen shows only to roles that may
 * call its route; the actions (import, re-run, resolve, note) only to those that may post them.
 */
export const pagesRecon: AdminPage[] = [
  {
    path: 'recon-statements',
    menu: { key: 'recon-statements', zh: '对账单', en: 'Statements', icon: <FileSearchOutlined />, order: 96 },
    requires: { method: 'GET', url: '/api/v1/reconciliation/statements' },
    element: <StatementsPage />,
  },
  { path: 'recon-statements/:id', requires: { method: 'GET', url: '/api/v1/reconciliation/statements/:id' }, element: <StatementDetailPage /> },
  {
    path: 'recon-runs',
    menu: { key: 'recon-runs', zh: '对账批次', en: 'Reconciliation runs', icon: <ReconciliationOutlined />, order: 97 },
    requires: { method: 'GET', url: '/api/v1/reconciliation/runs' },
    element: <RunsPage />,
  },
  { path: 'recon-runs/:id', requires: { method: 'GET', url: '/api/v1/reconciliation/runs/:id' }, element: <RunDetailPage /> },
  {
    path: 'recon-items',
    menu: { key: 'recon-items', zh: '差错处理', en: 'Discrepancies', icon: <AlertOutlined />, order: 98 },
    requires: { method: 'GET', url: '/api/v1/reconciliation/items' },
    element: <ItemsPage />,
  },
  { path: 'recon-items/:id', requires: { method: 'GET', url: '/api/v1/reconciliation/items/:id' }, element: <ItemDetailPage /> },
  {
    path: 'recon-report',
    menu: { key: 'recon-report', zh: '对账日报', en: 'Reconciliation report', icon: <BarChartOutlined />, order: 99 },
    requires: { method: 'GET', url: '/api/v1/reconciliation/report' },
    element: <ReportPage />,
  },
];
