import { defineErrors } from '../platform/index.js';

/** Tanks, gauge readings, deliveries and stock alerts (库存). */
export const stockError = defineErrors('stock', {
  TANK_UNKNOWN: { status: 404, iso: '902', zh: '油罐不存在', en: 'No such tank at this station' },
  TANK_DUPLICATE: { status: 400, iso: '904', zh: '油罐号重复', en: 'The same tank number appears twice' },
  TANK_IN_USE: { status: 409, iso: '902', zh: '油罐已有液位或进油记录，不能删除', en: 'The tank has readings or deliveries and cannot be removed' },
  TANK_LOW_LEVEL_INVALID: { status: 400, iso: '904', zh: '低液位报警线不能超过油罐容量', en: 'lowLevelMl must not exceed capacityMl' },
  TANK_READING_INVALID: { status: 400, iso: '904', zh: '液位读数不正确', en: 'The tank reading is not valid' },
  DELIVERY_INVALID: { status: 400, iso: '904', zh: '进油记录不正确', en: 'The delivery is not valid' },
  DELIVERY_REFERENCE_TAKEN: { status: 409, iso: '902', zh: '该提货单号已登记', en: 'A delivery with this reference is already recorded' },
  STOCK_ALERT_NOT_FOUND: { status: 404, iso: '902', zh: '库存告警不存在', en: 'Stock alert not found' },
  STOCK_ALERT_ALREADY_RESOLVED: { status: 409, iso: '902', zh: '库存告警已处理', en: 'The stock alert is already resolved' },
  STATION_NOT_YOURS: { status: 403, iso: '119', zh: '只能操作本站的库存', en: 'Station staff may only record stock for their own station' },
});
