/** The portal top-up's API shapes and the small rules its screens share (no React here). */

export interface TopupChannel {
  channel: string;
  methods: string[];
  sandbox: boolean;
  name: { zh: string; en: string };
}

export interface TopupOptions {
  channels: TopupChannel[];
  orderMax: number;
  dayMax: number;
  presets: number[];
}

export interface TopupPayload {
  qrText?: string;
  payUrl?: string;
  form?: { action: string; fields: Record<string, string> };
  transfer?: { bankName: string; accountName: string; accountNo: string; payerCode: string };
  sandboxUrl?: string;
}

export interface TopupOrder {
  orderNo: string;
  cardNo: string;
  amount: number;
  channel: string;
  method: string;
  status: 'created' | 'paying' | 'paid' | 'credited' | 'closed' | 'failed' | 'refunded';
  payload: TopupPayload;
  payerCode: string | null;
  paidAt: string | null;
  refundedAmount: number;
  expiresAt: string;
  createdAt: string;
}

/** The order the channels are offered in: the ones people use most on a phone first. */
export const CHANNEL_ORDER = ['wechat', 'alipay', 'unionpay', 'bank_transfer'];

/**
 * The method a phone browser can use: a QR code for WeChat (Native; JSAPI needs to run inside
 * WeChat with the payer's openid) and Alipay (precreate), the front page for UnionPay, the
 * instructions for a bank transfer.
 */
const PREFERRED_METHODS = ['native', 'precreate', 'online', 'page', 'transfer'];
export function methodFor(channel: TopupChannel): string | undefined {
  return PREFERRED_METHODS.find((m) => channel.methods.includes(m)) ?? channel.methods[0];
}

export function sortChannels(channels: TopupChannel[]): TopupChannel[] {
  const rank = (c: string) => (CHANNEL_ORDER.indexOf(c) < 0 ? 99 : CHANNEL_ORDER.indexOf(c));
  return channels.filter((c) => c.channel !== 'cash').sort((a, b) => rank(a.channel) - rank(b.channel));
}

/** Card statuses that may take money (the cards module's CAPABILITIES[status].recharge). */
export const RECHARGEABLE = new Set(['pending', 'active', 'frozen']);

/** Statuses after which nothing more will happen to the order on its own: the page stops asking. */
export const FINAL = new Set(['credited', 'closed', 'failed', 'refunded']);

/** How often the payment page asks for the order while it waits. */
export const POLL_MS = 2_000;
