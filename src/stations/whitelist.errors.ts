import { defineErrors } from '../platform/index.js';

/** The offline whitelist's refusals (staff side; terminals only read the list). */
export const whitelistError = defineErrors('whitelist', {
  WHITELIST_FLOOR_INVALID: { status: 400, iso: '904', zh: '每日脱机限额不能小于单笔脱机限额', en: 'floorDay must be at least floorSale' },
  WHITELIST_CARD_NOT_ELIGIBLE: {
    status: 409,
    iso: '119',
    zh: '该卡不能加入白名单（主卡不能加油；已销户或已换卡的卡不能再用）',
    en: 'This card cannot be whitelisted (master cards never buy fuel; closed or replaced cards are finished)',
  },
  WHITELIST_ENTRY_NOT_FOUND: { status: 404, iso: '902', zh: '该卡不在白名单中', en: 'This card is not on the whitelist' },
  WHITELIST_FULL: { status: 409, iso: '902', zh: '白名单已满', en: 'The whitelist is full: remove cards before adding more' },
});
