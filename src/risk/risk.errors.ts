import { defineErrors } from '../platform/index.js';

export const riskError = defineErrors('risk', {
  RISK_PARAMS_INVALID: { status: 400, iso: '904', zh: '风控规则参数不正确', en: 'The risk rule parameters are not valid' },
  RISK_PARAM_VERSION_NOT_FOUND: { status: 404, iso: '902', zh: '风控参数版本不存在', en: 'No such risk parameter version' },
  RISK_PARAM_VERSION_STATE: { status: 409, iso: '909', zh: '风控参数版本当前状态不允许此操作', en: 'The risk parameter version’s status does not allow this' },
  RISK_SELF_APPROVAL: { status: 403, iso: '909', zh: '不能审批自己提交的风控参数版本，需由另一人审批', en: 'A risk parameter version must be approved by someone other than its author' },
  RISK_DECISION_NOT_REPLAYABLE: { status: 409, iso: '909', zh: '该风控决策无法重放（参数或上下文不完整）', en: 'The risk decision cannot be replayed (its parameters or context are incomplete)' },
  RISK_SILENCE_INVALID: { status: 400, iso: '904', zh: '静默规则的截止时间或规则名不正确', en: 'The silence’s rule or end time is not valid' },
});
