import { AuditOutlined, SafetyCertificateOutlined, ShoppingCartOutlined, TeamOutlined, WalletOutlined } from '@ant-design/icons';
import type { AdminPage } from './pages';
import { AuditPage } from './pages-b/audit';
import { LedgerPage } from './pages-b/ledger';
import { RechargesPage } from './pages-b/recharges';
import { SalesPage } from './pages-b/sales';
import { StaffPage } from './pages-b/staff';

/**
 * The console's second half: sales and recharge lists, staff,
 * audit log and ledger verify (stations, prices and the rest of the forecourt are in pages-forecourt). The shell shows each only to roles that may call `requires`.
 */
export const pagesB: AdminPage[] = [
  {
    path: 'sales',
    menu: { key: 'sales', zh: '交易流水', en: 'Sales', icon: <ShoppingCartOutlined />, order: 60 },
    requires: { method: 'GET', url: '/api/v1/sales' },
    element: <SalesPage />,
  },
  {
    path: 'recharges',
    menu: { key: 'recharges', zh: '充值记录', en: 'Recharges', icon: <WalletOutlined />, order: 65 },
    requires: { method: 'GET', url: '/api/v1/recharges' },
    element: <RechargesPage />,
  },
  {
    path: 'staff',
    menu: { key: 'staff', zh: '员工与权限', en: 'Staff & roles', icon: <TeamOutlined />, order: 80 },
    requires: { method: 'GET', url: '/api/v1/staff' },
    element: <StaffPage />,
  },
  {
    path: 'audit',
    menu: { key: 'audit', zh: '审计日志', en: 'Audit log', icon: <AuditOutlined />, order: 90 },
    requires: { method: 'GET', url: '/api/v1/audit' },
    element: <AuditPage />,
  },
  {
    path: 'ledger',
    menu: { key: 'ledger', zh: '账务核对', en: 'Ledger verify', icon: <SafetyCertificateOutlined />, order: 100 },
    requires: { method: 'GET', url: '/api/v1/ledger/verify' },
    element: <LedgerPage />,
  },
];
