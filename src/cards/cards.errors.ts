import { defineErrors } from '../platform/index.js';

export const cardsError = defineErrors('cards', {
  CARD_NOT_FOUND: { status: 404, iso: '111', zh: '卡不存在', en: 'Card not found' },
  CARD_OPERATION_NOT_ALLOWED: { status: 409, iso: '119', zh: '当前卡状态不允许此操作', en: 'This operation is not allowed in the card’s current state' },
  CARD_ANONYMOUS_NOT_REPORTABLE: { status: 409, iso: '119', zh: '不记名卡不能挂失', en: 'Anonymous cards cannot be reported lost' },
  CARD_ANONYMOUS_NOT_REFUNDABLE: { status: 409, iso: '119', zh: '不记名卡余额不予退还，请先用完余额', en: 'Anonymous card balances are not refundable; spend the balance first' },
  CARD_LOSS_WAIT: { status: 409, iso: '119', zh: '挂失等待期未满，余额暂不能退还', en: 'The waiting period after the loss report has not passed yet; the balance cannot be paid out' },
  CARD_HAS_ACTIVE_SUB_CARDS: { status: 409, iso: '119', zh: '主卡下仍有未销户的副卡', en: 'The master card still has sub cards that are not closed' },
  CARD_HOLDS_OUTSTANDING: { status: 409, iso: '119', zh: '卡上有未完成的预授权', en: 'The card has holds outstanding' },
  CARD_CUSTOMER_REQUIRED: { status: 400, iso: '904', zh: '记名卡必须指定客户', en: 'A registered card needs a customerId' },
  CARD_CUSTOMER_NOT_ALLOWED: { status: 400, iso: '904', zh: '不记名卡不能指定客户', en: 'An anonymous card has no customer' },
  CARD_MASTER_REQUIRED: { status: 400, iso: '904', zh: '副卡必须指定主卡', en: 'A sub card needs masterCardNo' },
  CARD_MASTER_INVALID: { status: 409, iso: '119', zh: '指定的主卡无效', en: 'masterCardNo is not an open master card' },
  CARD_NOT_SUB_OF_MASTER: { status: 409, iso: '119', zh: '该卡不是此主卡的副卡', en: 'The card is not a sub card of this master card' },
  CARD_NOT_MASTER: { status: 409, iso: '119', zh: '该卡不是主卡', en: 'The card is not a master card' },
  CARD_PIN_FORMAT: { status: 400, iso: '904', zh: '密码必须是 6 位数字', en: 'PIN must be 6 digits' },
  CARD_PIN_WRONG: { status: 403, iso: '117', zh: '密码错误', en: 'Wrong PIN' },
  CARD_PIN_LOCKED: { status: 423, iso: '106', zh: '密码错误次数过多，已锁定', en: 'PIN is locked after too many wrong tries' },
  CARD_ACCOUNT_NOT_LINKED: { status: 409, iso: '119', zh: '账户未关联到此卡', en: 'The account is not linked to this card' },
  CARD_ACCOUNT_LINK_INVALID: { status: 409, iso: '119', zh: '账户关联不正确', en: 'The account link is not valid' },
  CARD_GRADE_UNKNOWN: { status: 400, iso: '904', zh: '油品编码不正确', en: 'Unknown fuel grade' },
});
