/**
 * The card state machine as one table. Every (state, operation) pair not listed is refused.
 * 'resume' returns the card to the state it had before it was frozen or reported lost.
 */
export const CARD_STATUSES = ['pending', 'active', 'frozen', 'lost', 'replaced', 'closed'] as const;
export type CardStatus = (typeof CARD_STATUSES)[number];

export const CARD_OPERATIONS = ['activate', 'report-loss', 'cancel-loss', 'freeze', 'unfreeze', 'replace', 'close'] as const;
export type CardOperation = (typeof CARD_OPERATIONS)[number];

type Target = CardStatus | 'resume';

export const TRANSITIONS: Readonly<Record<CardOperation, Partial<Record<CardStatus, Target>>>> = {
  activate: { pending: 'active' },
  // 挂失: any card that could still be used can be reported lost, even a frozen one.
  'report-loss': { pending: 'lost', active: 'lost', frozen: 'lost' },
  // 解挂: back to what it was.
  'cancel-loss': { lost: 'resume' },
  freeze: { active: 'frozen' },
  unfreeze: { frozen: 'resume' },
  // 补卡: a damaged (active) card at once; a lost card once the waiting period has passed.
  // A frozen card must be unfrozen first: freezing is a risk or operator decision.
  replace: { active: 'replaced', lost: 'replaced' },
  // 销户: a frozen card is under review and cannot be closed until unfrozen.
  close: { pending: 'closed', active: 'closed', lost: 'closed' },
};

/** What a card in each state may do besides the operations above. */
export const CAPABILITIES: Readonly<Record<CardStatus, { sale: boolean; recharge: boolean; pin: boolean; limits: boolean; allocate: boolean }>> = {
  pending: { sale: false, recharge: true, pin: true, limits: true, allocate: true },
  active: { sale: true, recharge: true, pin: true, limits: true, allocate: true },
  frozen: { sale: false, recharge: true, pin: true, limits: true, allocate: false },
  lost: { sale: false, recharge: false, pin: false, limits: true, allocate: false },
  replaced: { sale: false, recharge: false, pin: false, limits: false, allocate: false },
  closed: { sale: false, recharge: false, pin: false, limits: false, allocate: false },
};

/** The next state, or null when the operation is not allowed from `from`. */
export function nextStatus(from: CardStatus, op: CardOperation, resumeStatus: CardStatus | null): CardStatus | null {
  const target = TRANSITIONS[op][from];
  if (target === undefined) return null;
  if (target === 'resume') return resumeStatus ?? 'active';
  return target;
}
