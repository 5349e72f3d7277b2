import type { Actor } from '../platform/index.js';
import { cardholderCustomerIds, cardVisibleTo, requireVisibleCard } from '../portal/index.js';
import { CHANNEL_NAMES, type ChannelCode, type PaymentMethod } from './channel.js';
import { createOrder, presentOrder, queriedWithin, queryOrder, type PaymentsDeps, type RechargeOrder } from './orders.service.js';
import { listOrderViews, type OrderView } from './orders.repository.js';
import { paymentsError } from './payments.errors.js';

/** Channels a cardholder may pay with from the portal, and how (WeChat JSAPI needs an openid the portal does not have). */
export const PORTAL_METHODS: Readonly<Partial<Record<ChannelCode, readonly PaymentMethod[]>>> = {
  wechat: ['native'],
  alipay: ['precreate', 'page'],
  unionpay: ['online'],
  bank_transfer: ['transfer'],
};
export type PortalChannel = 'wechat' | 'alipay' | 'unionpay' | 'bank_transfer';
export const TOPUP_PRESETS = [5000, 10000, 20000, 50000];

/** How long a payer's poll waits before asking the channel itself (and how often it asks). */
export const POLL_QUERY_AFTER_MS = 5000;

export interface TopupOptions {
  channels: Array<{ channel: ChannelCode; methods: PaymentMethod[]; sandbox: boolean; name: { zh: string; en: string } }>;
  orderMax: number;
  dayMax: number;
  presets: number[];
}

export function topupOptions(deps: PaymentsDeps): TopupOptions {
  const channels: TopupOptions['channels'] = [];
  for (const [code, methods] of Object.entries(PORTAL_METHODS) as Array<[ChannelCode, readonly PaymentMethod[]]>) {
    const ch = deps.payments.channels.get(code);
    if (!ch) continue;
    channels.push({ channel: code, methods: [...methods], sandbox: ch.sandbox, name: CHANNEL_NAMES[code] });
  }
  return { channels, orderMax: deps.config.topupOrderMax, dayMax: deps.config.topupDayMax, presets: TOPUP_PRESETS };
}

export async function createTopup(
  deps: PaymentsDeps,
  actor: Actor,
  customerId: number,
  input: { cardNo: string; amount: number; channel: PortalChannel; method?: PaymentMethod; clientIp: string },
  key: string | undefined,
): Promise<RechargeOrder> {
  await requireVisibleCard(deps.db, customerId, input.cardNo);
  const methods = PORTAL_METHODS[input.channel] ?? [];
  if (input.method !== undefined && !methods.includes(input.method)) {
    throw paymentsError('PAYMENT_METHOD_NOT_SUPPORTED', { field: 'method', channel: input.channel, methods });
  }
  return createOrder(
    deps,
    actor,
    {
      cardNo: input.cardNo,
      amount: input.amount,
      channel: input.channel,
      method: input.method ?? methods[0]!,
      origin: 'portal',
      customerId,
      payer: { clientIp: input.clientIp },
      returnUrl: (orderNo) => `${deps.payments.publicUrl()}/portal/topups/${orderNo}`,
    },
    { scope: `portal-topup:${customerId}`, key, request: { cardNo: input.cardNo, amount: input.amount, channel: input.channel, method: input.method } },
  );
}

export async function listMyTopups(
  deps: PaymentsDeps,
  customerId: number,
  q: { cardNo?: string; limit: number; cursor?: string },
): Promise<{ items: RechargeOrder[]; nextCursor: string | null }> {
  if (q.cardNo !== undefined) await requireVisibleCard(deps.db, customerId, q.cardNo);
  const ids = await cardholderCustomerIds(deps.db, customerId);
  if (ids.length === 0) return { items: [], nextCursor: null };
  const page = await listOrderViews(deps.db, {
    visibleTo: cardVisibleTo(ids),
    ...(q.cardNo ? { cardNo: q.cardNo } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
    limit: q.limit,
  });
  return { items: page.items.map(presentOrder), nextCursor: page.nextCursor };
}

async function myOrder(deps: PaymentsDeps, ids: number[], orderNo: string): Promise<OrderView> {
  const page = await listOrderViews(deps.db, { visibleTo: cardVisibleTo(ids), orderNo, limit: 1 });
  const v = page.items[0];
  if (!v) throw paymentsError('PAYMENT_ORDER_NOT_FOUND', { orderNo });
  return v;
}

/**
 * The payer's poll. An open online order older than 5 s that nobody asked about in the last 5 s
 * is first asked about at the channel: a payment whose notification never arrived is found (and
 * credited) while the payer is still looking at the page.
 */
export async function getMyTopup(deps: PaymentsDeps, customerId: number, orderNo: string): Promise<RechargeOrder> {
  const ids = await cardholderCustomerIds(deps.db, customerId);
  let v = await myOrder(deps, ids, orderNo);
  const open = v.status === 'created' || v.status === 'paying';
  const online = v.channel === 'wechat' || v.channel === 'alipay' || v.channel === 'unionpay';
  if (open && online && Date.now() - v.created_at.getTime() >= POLL_QUERY_AFTER_MS && !queriedWithin(orderNo, POLL_QUERY_AFTER_MS)) {
    try {
      await queryOrder(deps, orderNo, 'query');
      v = await myOrder(deps, ids, orderNo);
    } catch (err) {
      // The channel being unreachable must not break the payer's page: it shows the order as we know it.
      deps.logger.warn({ err, orderNo }, 'top-up poll: channel query failed');
    }
  }
  return presentOrder(v);
}
