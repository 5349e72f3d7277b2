/**
 * The card state machine as the console needs it to enable buttons. A copy of
 * src/cards/card.state.ts (docs/cards.md shows the same tables): the server stays the judge and
 * refuses a stale button with CARD_OPERATION_NOT_ALLOWED, so a drift only costs a refusal.
 */
export const CARD_OPERATIONS = ['activate', 'report-loss', 'cancel-loss', 'freeze', 'unfreeze', 'replace', 'close'] as const;
export type CardOperation = (typeof CARD_OPERATIONS)[number];

const FROM: Record<CardOperation, readonly string[]> = {
  activate: ['pending'],
  'report-loss': ['pending', 'active', 'frozen'],
  'cancel-loss': ['lost'],
  freeze: ['active'],
  unfreeze: ['frozen'],
  replace: ['active', 'lost'],
  close: ['pending', 'active', 'lost'],
};

export function operationAllowed(op: CardOperation, status: string): boolean {
  return FROM[op].includes(status);
}

type Capability = 'recharge' | 'pin' | 'limits' | 'allocate';
const CAPABLE: Record<Capability, readonly string[]> = {
  recharge: ['pending', 'active', 'frozen'],
  pin: ['pending', 'active', 'frozen'],
  limits: ['pending', 'active', 'frozen', 'lost'],
  allocate: ['pending', 'active'],
};

export function capable(what: Capability, status: string): boolean {
  return CAPABLE[what].includes(status);
}

/** A recall works from a frozen or lost sub card too; only closed and replaced cards refuse. */
export function recallAllowed(status: string): boolean {
  return status !== 'closed' && status !== 'replaced';
}
