import { CreditCardOutlined, DashboardOutlined, TeamOutlined, WalletOutlined } from '@ant-design/icons';
import type { AdminPage } from '../pages';
import { Dashboard } from './Dashboard';
import { Customers } from './Customers';
import { CustomerCreate } from './CustomerCreate';
import { CustomerDetail } from './CustomerDetail';
import { Cards } from './Cards';
import { CardIssue } from './CardIssue';
import { CardDetail } from './CardDetail';
import { Recharge } from './Recharge';
import { Receipt } from './Receipt';

/**
 * The console's first half: dashboard, customers, cards and counter recharge. Each page names
 * the route it cannot work without; buttons inside check their own routes.
 */
export const pagesA: AdminPage[] = [
  {
    path: 'dashboard',
    menu: { key: 'dashboard', zh: '仪表盘', en: 'Dashboard', icon: <DashboardOutlined />, order: 10 },
    requires: { method: 'GET', url: '/api/v1/dashboard/today' },
    element: <Dashboard />,
  },
  {
    path: 'customers',
    menu: { key: 'customers', zh: '客户', en: 'Customers', icon: <TeamOutlined />, order: 20 },
    requires: { method: 'GET', url: '/api/v1/customers' },
    element: <Customers />,
  },
  { path: 'customers/new', requires: { method: 'POST', url: '/api/v1/customers' }, element: <CustomerCreate /> },
  { path: 'customers/:id', requires: { method: 'GET', url: '/api/v1/customers/:id' }, element: <CustomerDetail /> },
  {
    path: 'cards',
    menu: { key: 'cards', zh: '卡片', en: 'Cards', icon: <CreditCardOutlined />, order: 30 },
    requires: { method: 'GET', url: '/api/v1/cards/:cardNo' },
    element: <Cards />,
  },
  { path: 'cards/new', requires: { method: 'POST', url: '/api/v1/cards' }, element: <CardIssue /> },
  { path: 'cards/:cardNo', requires: { method: 'GET', url: '/api/v1/cards/:cardNo' }, element: <CardDetail /> },
  {
    path: 'recharge',
    menu: { key: 'recharge', zh: '充值', en: 'Recharge', icon: <WalletOutlined />, order: 40 },
    requires: { method: 'POST', url: '/api/v1/cards/:cardNo/recharges' },
    element: <Recharge />,
  },
  { path: 'recharge/receipt/:cardNo/:receiptNo', requires: { method: 'POST', url: '/api/v1/cards/:cardNo/recharges' }, element: <Receipt /> },
];
