/**
 * The recharge order's state machine (docs/payments.md), one for every channel:
 *
 *   created → paying → paid → credited → refunded
 *   created | paying → closed | failed
 *   closed | failed → paid      money arrived after we gave up: it is the payer's money, still credited
 *   created → paid              the answer to our create request was lost, the payment was not
 *   paid → refunded             the card could not take the money (closed meanwhile): it went back to the payer
 */
export const ORDER_STATUSES = ['created', 'paying', 'paid', 'credited', 'closed', 'failed', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  created: ['paying', 'paid', 'closed', 'failed'],
  paying: ['paid', 'closed', 'failed'],
  paid: ['credited', 'refunded'],
  credited: ['refunded'],
  closed: ['paid'],
  failed: ['paid'],
  refunded: [],
};

/** Orders still waiting for the payer: the close job looks at these once they expire. */
export const OPEN_STATUSES: readonly OrderStatus[] = ['created', 'paying'];
/** Orders the channel says were paid (whether or not the card has the money yet). */
export const PAID_STATUSES: readonly OrderStatus[] = ['paid', 'credited', 'refunded'];

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

export const isOpen = (s: OrderStatus): boolean => OPEN_STATUSES.includes(s);
export const isPaid = (s: OrderStatus): boolean => PAID_STATUSES.includes(s);
