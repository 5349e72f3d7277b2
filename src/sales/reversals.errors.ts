import { defineErrors } from '../platform/index.js';

/** Reversals, voids, shift close and settlement statements (issue 4). */
export const reversalsError = defineErrors('reversals', {
  VOID_OUTSIDE_SHIFT: {
    status: 409,
    iso: '902',
    zh: '只能撤销本终端当前班次内的交易',
    en: 'Only a sale of the terminal’s currently open shift can be voided',
  },
  SALE_NOT_VOIDABLE: { status: 409, iso: '902', zh: '该交易不能撤销（未批准或已冲正/撤销）', en: 'The sale cannot be voided (not approved, or already reversed or voided)' },
  REVERSAL_ACCOUNT_CLOSED: {
    status: 409,
    iso: '119',
    zh: '卡账户已关闭，无法退回交易金额，请转人工处理',
    en: 'A card account of the sale is closed: the money cannot be given back; handle it manually',
  },
  SHIFT_DECLARED_INVALID: { status: 400, iso: '904', zh: '班结申报数据不正确', en: 'The declared shift totals are not valid' },
  SHIFT_NOT_FOUND: { status: 404, iso: '902', zh: '班次不存在', en: 'Shift not found' },
  SETTLEMENT_DAY_INVALID: { status: 400, iso: '904', zh: '营业日不正确（YYYY-MM-DD）', en: 'The business day is not valid (YYYY-MM-DD)' },
});
