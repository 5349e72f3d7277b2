import { BankOutlined, RollbackOutlined, TransactionOutlined } from '@ant-design/icons';
import type { AdminPage } from './pages';
import { BankTransfersPage } from './pages-payments/bank-transfers';
import { OrderDetailPage, OrdersPage } from './pages-payments/orders';
import { RefundDetailPage, RefundsPage } from './pages-payments/refunds';

/**
 * The payments screens (issue 5): recharge orders of every channel with their trail and actions,
 * refunds and closed cards' payouts, and incoming bank transfers. They sit in the menu next to
 * 充值记录 (order 65), before the forecourt group (70+).
 */
export const pagesPayments: AdminPage[] = [
  {
    path: 'payment-orders',
    menu: { key: 'payment-orders', zh: '充值订单', en: 'Recharge orders', icon: <TransactionOutlined />, order: 66 },
    requires: { method: 'GET', url: '/api/v1/recharge-orders' },
    element: <OrdersPage />,
  },
  { path: 'payment-orders/:orderNo', requires: { method: 'GET', url: '/api/v1/recharge-orders/:orderNo' }, element: <OrderDetailPage /> },
  {
    path: 'payment-refunds',
    menu: { key: 'payment-refunds', zh: '退款管理', en: 'Refunds', icon: <RollbackOutlined />, order: 67 },
    requires: { method: 'GET', url: '/api/v1/refunds' },
    element: <RefundsPage />,
  },
  { path: 'payment-refunds/:refundNo', requires: { method: 'GET', url: '/api/v1/refunds/:refundNo' }, element: <RefundDetailPage /> },
  {
    path: 'bank-transfers',
    menu: { key: 'bank-transfers', zh: '银行入账', en: 'Bank transfers in', icon: <BankOutlined />, order: 68 },
    requires: { method: 'GET', url: '/api/v1/bank-transfers' },
    element: <BankTransfersPage />,
  },
];
