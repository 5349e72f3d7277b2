import { defineErrors } from '../platform/index.js';
import type { DeclineSpec } from '../cards/index.js';

export const salesError = defineErrors('sales', {
  SALE_AMOUNT_MISMATCH: { status: 400, iso: '904', zh: '金额与油量、单价（及商品合计）不符', en: 'amount does not equal volumeMl × unitPrice / 1000 (to the fen) plus the store goods total' },
  SALE_NOT_FOUND: { status: 404, iso: '902', zh: '交易不存在', en: 'Sale not found' },
  SALE_STATION_CLOSED: { status: 409, iso: '119', zh: '终端所属油站已停业', en: 'The terminal’s station is closed' },
  // ── store goods on a sale ──
  GOODS_UNKNOWN: { status: 400, iso: '904', zh: '商品编码不存在', en: 'No store item has this SKU' },
  GOODS_INACTIVE: { status: 409, iso: '902', zh: '商品已停售', en: 'This store item is no longer sold' },
  // ── indoor post-pay ──
  PUMP_SALE_NOT_FOUND: { status: 404, iso: '902', zh: '本站没有这笔油机挂单', en: 'No pump sale with this id at this station' },
  PUMP_SALE_NOT_UNPAID: { status: 409, iso: '913', zh: '油机挂单已结清或已作废', en: 'The pump sale is already paid, settled or abandoned' },
  NOZZLE_UNKNOWN: { status: 404, iso: '902', zh: '本站未配置该油枪', en: 'This nozzle is not configured at the station' },
  // ── pump authorisations ──
  AUTHORISATION_AMOUNT_TOO_LARGE: { status: 400, iso: '110', zh: '预授权金额超过上限', en: 'The authorisation amount exceeds the maximum hold' },
  AUTHORISATION_NOT_FOUND: { status: 404, iso: '902', zh: '本站没有这笔预授权', en: 'No pump authorisation with this id at this station' },
  AUTHORISATION_ALREADY_COMPLETED: { status: 409, iso: '913', zh: '预授权已完成，不能重复完成', en: 'The authorisation was already completed' },
  AUTHORISATION_REVERSED: { status: 409, iso: '913', zh: '预授权已冲正，不能完成', en: 'The authorisation was reversed; it cannot be completed' },
  COMPLETION_EXCEEDS_HOLD: { status: 409, iso: '110', zh: '完成金额超过预授权冻结金额', en: 'The completion amount is more than the amount held' },
  AUTHORISATION_IN_REVIEW: { status: 409, iso: '923', zh: '预授权待人工审核，油枪未放行，不能完成', en: 'The authorisation is pending risk review: the pump was not released, so it cannot be completed' },
  AUTHORISATION_RELEASE_CARD_BLOCKED: { status: 409, iso: '119', zh: '卡已挂失、冻结或停用，不能放行待审核的预授权，请拒绝该授权', en: 'The card was reported lost, frozen or closed: the authorisation in review cannot be released; refuse it' },
  AUTHORISATION_NOT_IN_REVIEW: { status: 409, iso: '913', zh: '预授权不在待审核状态', en: 'The authorisation is not pending review' },
  COMPLETION_NOT_POSTABLE: { status: 409, iso: '909', zh: '卡账户已关闭，超时完成无法入账，请联系运营处理', en: 'The card’s accounts are closed: the late completion cannot be posted; refer to the operator' },
});

/** Declines decided by the sale itself (the card's own are in cards/card.declines.ts). */
export const SALE_DECLINES = {
  INSUFFICIENT_FUNDS: { iso: '116', zh: '余额不足', en: 'Insufficient funds' },
  PRICE_MISMATCH: { iso: '902', zh: '单价与油站当前油价不符，请刷新油价', en: 'Unit price differs from the station’s price in force; refresh prices' },
  ALREADY_REVERSED: { iso: '913', zh: '该交易已被冲正，原交易不再受理', en: 'This transaction was already reversed; the late original is refused' },
  NOZZLE_BUSY: { iso: '923', zh: '该油枪已有未完成的授权', en: 'This nozzle already has an open authorisation' },
  // ── the risk engine's answers (docs/risk-sale-path.md) ──
  RISK_STEP_UP: { iso: '117', zh: '请重新输入密码或由工作人员核实身份后重试', en: 'Re-enter the PIN or have staff confirm the holder, then retry' },
  RISK_REVIEW: { iso: '100', zh: '交易待人工审核，请稍后重试', en: 'Held for risk review; retry once it is released' },
  RISK_DECLINED: { iso: '100', zh: '风控拒绝交易', en: 'Declined by risk control' },
  RISK_FROZEN: { iso: '119', zh: '风控拒绝交易，卡已冻结，请联系客服', en: 'Declined by risk control; the card is frozen, contact customer service' },
} as const satisfies Record<string, DeclineSpec>;
