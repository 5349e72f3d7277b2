import { defineErrors } from '../platform/index.js';

export const casesError = defineErrors('cases', {
  CASES_NOT_FOUND: { status: 404, iso: '902', zh: '审核案件不存在', en: 'No such review case' },
  CASES_ALREADY_RESOLVED: { status: 409, iso: '909', zh: '审核案件已结案，不能再处理', en: 'The review case is already resolved' },
  CASES_ASSIGNEE_NOT_ELIGIBLE: { status: 400, iso: '904', zh: '只能分派给在岗的风控或管理员人员', en: 'Cases can be assigned only to active risk or admin staff' },
  CASES_NOT_ASSIGNED: { status: 409, iso: '909', zh: '审核案件未分派，无需取消', en: 'The review case is not assigned' },
  CASES_REVIEW_PENDING: { status: 409, iso: '909', zh: '尚有待审核的加油授权，请选择放行或确认欺诈', en: 'Pump authorisations are still held for review: release them or confirm fraud' },
  CASES_SALE_NOT_REVERSIBLE: { status: 409, iso: '909', zh: '该交易不能在审核中冲正（不属于此卡或无终端流水号）', en: 'This sale cannot be reversed from the case (not this card’s, or it has no terminal reference)' },
  CASES_NOTHING_TO_APPEAL: { status: 409, iso: '909', zh: '此卡没有可申诉的风控决定', en: 'This card has no risk decision to appeal' },
  CASES_APPEAL_LIMIT: { status: 429, iso: '912', zh: '申诉次数已达上限，请等待人工处理', en: 'Too many appeals on this case: a person will review it' },
});
