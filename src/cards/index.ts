export { cardsRoutes } from './cards.routes.js';
export { authoriseCardUse, recordCardUse, type CardUse, type CardUseDecision } from './cards.sale.js';
export { CARD_DECLINES, type CardDecline, type DeclineSpec } from './card.declines.js';
export { issueCard, getCard, requireCard, requireLockedCard, presentCard, maySeeCardNumbers, type CardView, type CardDeps } from './cards.service.js';
export { CAPABILITIES, CARD_OPERATIONS, CARD_STATUSES, TRANSITIONS, nextStatus, type CardStatus, type CardOperation } from './card.state.js';
export { isValidCardNo, generateCardNo, luhnCheckDigit } from './card.numbers.js';
export { cardsError } from './cards.errors.js';
export { findCardByNo, type CardRow, type CardKind } from './cards.repository.js';
