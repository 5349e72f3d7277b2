import { defineErrors } from '../platform/index.js';

export const reportsError = defineErrors('reports', {
  REPORT_TOO_LARGE: {
    status: 400,
    iso: '904',
    zh: '导出行数超过上限（100,000 行），请缩短时间范围或增加筛选条件',
    en: 'The export would have more than 100,000 rows; narrow the period or add filters',
  },
  REPORT_EXPORTS_BUSY: {
    status: 429,
    iso: '912',
    zh: '同时进行的导出过多，请稍后再试',
    en: 'Too many exports are running; try again shortly',
  },
});
