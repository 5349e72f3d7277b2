import { defineErrors } from '../platform/index.js';

export const stationsError = defineErrors('stations', {
  STATION_NOT_FOUND: { status: 404, iso: '902', zh: '油站不存在', en: 'Station not found' },
  STATION_CODE_TAKEN: { status: 409, iso: '902', zh: '油站编码已存在', en: 'Station code is already in use' },
  STATION_CLOSED: { status: 409, iso: '119', zh: '油站已停业', en: 'Station is closed' },
  TERMINAL_NOT_FOUND: { status: 404, iso: '902', zh: '终端不存在', en: 'Terminal not found' },
  GRADE_UNKNOWN: { status: 400, iso: '904', zh: '油品不存在', en: 'Unknown fuel grade' },
  PRICE_NOT_FOUND: { status: 404, iso: '902', zh: '油价记录不存在', en: 'Price not found' },
  PRICE_ALREADY_EFFECTIVE: { status: 409, iso: '902', zh: '该油价已生效，不能取消', en: 'This price is already in force and cannot be cancelled' },
  PRICE_EFFECTIVE_IN_PAST: { status: 400, iso: '904', zh: '生效时间不能早于当前时间', en: 'effectiveFrom is in the past' },
  NOZZLE_DUPLICATE: { status: 400, iso: '904', zh: '油枪号重复', en: 'The same nozzle number appears twice' },
});
