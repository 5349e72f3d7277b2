import { defineErrors } from '../platform/index.js';

/** Refusals of the money kernel. A refusal moves nothing and, for a given transfer id, is final. */
export const ledgerError = defineErrors('ledger', {
  LEDGER_INSUFFICIENT_FUNDS: { status: 409, iso: '116', zh: '账户余额不足', en: 'Insufficient funds in the account' },
  LEDGER_ACCOUNT_NOT_FOUND: { status: 404, iso: '111', zh: '账户不存在', en: 'Ledger account not found' },
  LEDGER_ACCOUNT_CLOSED: { status: 409, iso: '119', zh: '账户已关闭', en: 'Ledger account is closed' },
  LEDGER_CURRENCY_MISMATCH: { status: 409, iso: '902', zh: '账户币种不一致', en: 'Accounts are in different currencies' },
  LEDGER_AMOUNT_INVALID: { status: 400, iso: '110', zh: '金额不正确', en: 'Amount is not valid' },
  LEDGER_ACCOUNTS_INVALID: { status: 400, iso: '902', zh: '转出与转入账户不正确', en: 'Debit and credit accounts are not valid' },
  LEDGER_PENDING_NOT_FOUND: { status: 404, iso: '902', zh: '预授权不存在', en: 'Pending transfer (hold) not found' },
  LEDGER_PENDING_ALREADY_POSTED: { status: 409, iso: '913', zh: '预授权已完成', en: 'Hold was already posted' },
  LEDGER_PENDING_ALREADY_VOIDED: { status: 409, iso: '913', zh: '预授权已撤销', en: 'Hold was already voided' },
  LEDGER_PENDING_ALREADY_EXPIRED: { status: 409, iso: '913', zh: '预授权已过期', en: 'Hold already expired' },
  LEDGER_PENDING_EXPIRED: { status: 409, iso: '101', zh: '预授权已过期', en: 'Hold has expired' },
  LEDGER_PENDING_NOT_EXPIRED: { status: 409, iso: '902', zh: '预授权尚未过期', en: 'Hold has not expired yet' },
  LEDGER_EXCEEDS_PENDING_AMOUNT: { status: 409, iso: '110', zh: '完成金额超过预授权金额', en: 'Amount exceeds the held amount' },
  LEDGER_PENDING_ACCOUNTS_MISMATCH: { status: 409, iso: '902', zh: '预授权账户不一致', en: 'Accounts differ from the hold' },
  LEDGER_TRANSFER_CONFLICT: { status: 409, iso: '913', zh: '转账编号已用于不同的转账', en: 'Transfer id was already used with different fields' },
});

/** ledger_apply status → error code. */
export const FAILURE_CODES: Record<string, Parameters<typeof ledgerError>[0]> = {
  exceeds_credits: 'LEDGER_INSUFFICIENT_FUNDS',
  debit_account_not_found: 'LEDGER_ACCOUNT_NOT_FOUND',
  credit_account_not_found: 'LEDGER_ACCOUNT_NOT_FOUND',
  debit_account_closed: 'LEDGER_ACCOUNT_CLOSED',
  credit_account_closed: 'LEDGER_ACCOUNT_CLOSED',
  currency_mismatch: 'LEDGER_CURRENCY_MISMATCH',
  amount_invalid: 'LEDGER_AMOUNT_INVALID',
  accounts_invalid: 'LEDGER_ACCOUNTS_INVALID',
  pending_not_found: 'LEDGER_PENDING_NOT_FOUND',
  pending_already_posted: 'LEDGER_PENDING_ALREADY_POSTED',
  pending_already_voided: 'LEDGER_PENDING_ALREADY_VOIDED',
  pending_already_expired: 'LEDGER_PENDING_ALREADY_EXPIRED',
  pending_expired: 'LEDGER_PENDING_EXPIRED',
  pending_not_expired: 'LEDGER_PENDING_NOT_EXPIRED',
  exceeds_pending_amount: 'LEDGER_EXCEEDS_PENDING_AMOUNT',
  pending_accounts_mismatch: 'LEDGER_PENDING_ACCOUNTS_MISMATCH',
  exists_with_different_fields: 'LEDGER_TRANSFER_CONFLICT',
};
