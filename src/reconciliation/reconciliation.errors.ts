import { defineErrors } from '../platform/index.js';

/**
 * The closed set of the reconciliation module (对账). File integrity failures keep the payments
 * module's PAYMENT_STATEMENT_* codes: the channel's parser raises them and the caller sees them
 * unchanged, so a bad file reads the same whether the job or a person imported it.
 */
export const reconError = defineErrors('reconciliation', {
  RECON_STATEMENT_EXISTS: { status: 409, iso: '913', zh: '该渠道当日对账单已导入', en: 'A statement of this channel and day was already accepted' },
  RECON_STATEMENT_NOT_FOUND: { status: 404, iso: '902', zh: '对账单不存在', en: 'Statement not found' },
  RECON_RUN_NOT_FOUND: { status: 404, iso: '902', zh: '对账批次不存在', en: 'Reconciliation run not found' },
  RECON_ITEM_NOT_FOUND: { status: 404, iso: '902', zh: '对账差错不存在', en: 'Reconciliation item not found' },
  RECON_ITEM_RESOLVED: { status: 409, iso: '902', zh: '该差错已处理', en: 'The item was already resolved' },
  RECON_ACTION_NOT_ALLOWED: { status: 422, iso: '119', zh: '该差错不能用此方式处理', en: 'This action does not apply to the item' },
  RECON_CARD_REQUIRED: { status: 400, iso: '904', zh: '无对应订单的渠道款项入卡须指定卡号', en: 'Crediting money with no order needs the card number' },
  RECON_AMOUNT_INVALID: { status: 400, iso: '110', zh: '处理金额不正确', en: 'The amount is not valid for this item' },
  RECON_BILL_DATE_INVALID: { status: 400, iso: '904', zh: '账单日期不正确（须为已结束的营业日）', en: 'The bill date is not valid (it must be a finished business day)' },
  RECON_CHANNEL_NOT_SUPPORTED: { status: 422, iso: '902', zh: '该渠道不支持对账单', en: 'The channel has no statements to reconcile' },
  RECON_FILE_EMPTY: { status: 400, iso: '904', zh: '对账单文件为空', en: 'The statement file is empty' },
});

export type ReconErrorCode = keyof typeof reconError.table;
