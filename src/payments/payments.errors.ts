import { defineErrors } from '../platform/index.js';

export const paymentsError = defineErrors('payments', {
  RECHARGE_NOT_ALLOWED: { status: 409, iso: '119', zh: '当前卡状态不允许充值', en: 'The card cannot be recharged in its current state' },
  RECHARGE_REFERENCE_REQUIRED: { status: 400, iso: '904', zh: '银行转账充值必须填写银行流水号', en: 'A bank transfer recharge needs the bank reference' },
  RECHARGE_REFERENCE_USED: { status: 409, iso: '913', zh: '该银行流水号已入账', en: 'This bank reference was already credited' },
  RECHARGE_ACCOUNT_NOT_LINKED: { status: 409, iso: '119', zh: '账户未关联到此卡', en: 'The account is not linked to this card' },
});
