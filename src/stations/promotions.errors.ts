import { defineErrors } from '../platform/index.js';

/** Promotions shown by the station finder (油站活动). */
export const promotionsError = defineErrors('promotions', {
  PROMOTION_NOT_FOUND: { status: 404, iso: '902', zh: '活动不存在', en: 'Promotion not found' },
  PROMOTION_SCOPE_INVALID: { status: 400, iso: '904', zh: '活动范围只能是一个油站、一个省份或全部油站', en: 'A promotion is for one station, one province, or every station — not both' },
  PROMOTION_PERIOD_INVALID: { status: 400, iso: '904', zh: '活动结束时间必须晚于开始时间且晚于当前时间', en: 'endsAt must be after startsAt and in the future' },
  PROMOTION_ALREADY_ENDED: { status: 409, iso: '902', zh: '活动已结束', en: 'The promotion has already ended' },
});
