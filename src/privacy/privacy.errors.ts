import { defineErrors } from '../platform/index.js';

export const privacyError = defineErrors('privacy', {
  PRIVACY_CUSTOMER_NOT_FOUND: { status: 404, iso: '902', zh: '客户不存在', en: 'Customer not found' },
  PRIVACY_CUSTOMER_ANONYMISED: { status: 409, iso: '902', zh: '该客户的个人信息已匿名化', en: 'This customer’s personal data has been anonymised' },
  PRIVACY_CONSENT_NOT_GRANTED: { status: 409, iso: '904', zh: '该用途当前没有有效的同意，无法撤回', en: 'There is no consent in force for this purpose to withdraw' },
});
