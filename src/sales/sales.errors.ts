import { defineErrors } from '../platform/index.js';
import type { DeclineSpec } from '../cards/index.js';

export const salesError = defineErrors('sales', {
  SALE_AMOUNT_MISMATCH: { status: 400, iso: '904', zh: '金额与油量、单价不符', en: 'amount does not equal volumeMl × unitPrice / 1000 (to the fen)' },
  SALE_NOT_FOUND: { status: 404, iso: '902', zh: '交易不存在', en: 'Sale not found' },
  SALE_STATION_CLOSED: { status: 409, iso: '119', zh: '终端所属油站已停业', en: 'The terminal’s station is closed' },
});

/** Declines decided by the sale itself (the card's own are in cards/card.declines.ts). */
export const SALE_DECLINES = {
  INSUFFICIENT_FUNDS: { iso: '116', zh: '余额不足', en: 'Insufficient funds' },
  PRICE_MISMATCH: { iso: '902', zh: '单价与油站当前油价不符，请刷新油价', en: 'Unit price differs from the station’s price in force; refresh prices' },
} as const satisfies Record<string, DeclineSpec>;
