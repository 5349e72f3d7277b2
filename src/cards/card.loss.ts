import type { Config } from '../platform/index.js';
import { cardsError } from './cards.errors.js';
import type { CardRow } from './cards.repository.js';

/**
 * When the loss waiting period of a lost card ends (null when it is not lost or already over),
 * or of a replacement still inside it (its usable_from).
 */
export function lossWaitEnd(card: CardRow, config: Config, now: Date): Date | null {
  const end =
    card.status === 'lost' && card.lost_at ? new Date(card.lost_at.getTime() + config.lossTransferWaitMs) : card.usable_from;
  return end !== null && end > now ? end : null;
}

/** After a loss report the balance may not be paid out (closing) until the waiting period has passed. */
export function requireLossWaitOver(card: CardRow, config: Config, now: Date): void {
  const end = lossWaitEnd(card, config, now);
  if (end !== null) throw cardsError('CARD_LOSS_WAIT', { availableAt: end.toISOString() });
}

