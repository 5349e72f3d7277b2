import { AuditOutlined, EnvironmentOutlined, SafetyCertificateOutlined, ShoppingCartOutlined, TagsOutlined, TeamOutlined, WalletOutlined } from '@ant-design/icons';
import type { AdminPage } from './pages';
import { AuditPage } from './pages-b/audit';
import { LedgerPage } from './pages-b/ledger';
import { PricesPage } from './pages-b/prices';
import { RechargesPage } from './pages-b/recharges';
import { SalesPage } from './pages-b/sales';
import { StaffPage } from './pages-b/staff';
import { StationDetailPage, StationsPage } from './pages-b/stations';

/**
 * The console's second half: sales and recharge lists, stations and terminals, prices, staff,
 * audit log and ledger verify. The shell shows each only to roles that may call `requires`.
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
    path: 'stations',
    menu: { key: 'stations', zh: '油站与终端', en: 'Stations & terminals', icon: <EnvironmentOutlined />, order: 70 },
    requires: { method: 'GET', url: '/api/v1/stations' },
    element: <StationsPage />,
  },
  {
    path: 'stations/:id',
    requires: { method: 'GET', url: '/api/v1/stations/:id' },
    element: <StationDetailPage />,
  },
  {
    path: 'prices',
    menu: { key: 'prices', zh: '油品价格', en: 'Fuel prices', icon: <TagsOutlined />, order: 75 },
    requires: { method: 'GET', url: '/api/v1/prices' },
    element: <PricesPage />,
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
