import { SafetyCertificateOutlined } from '@ant-design/icons';
import type { AdminPage } from '../pages';
import { SecurityPage } from './TotpEnrolment';

export { TotpEnrolment, SecurityPage, groupBy4 } from './TotpEnrolment';

/**
 * 账号安全 (issue 7 §5): the signed-in member's own TOTP second factor. Every staff role may enrol;
 * administrators must (an administrator without one is sent to the enrolment from the sign-in screen).
 */
export const pagesSecurity: AdminPage[] = [
  {
    path: 'security',
    menu: { key: 'security', zh: '账号安全', en: 'Account security', icon: <SafetyCertificateOutlined />, order: 990 },
    requires: { method: 'GET', url: '/api/v1/auth/totp' },
    element: <SecurityPage />,
  },
];
