export * from './risk.types.js';
export { RULES, RULE_IDS, distanceKm, inHourWindow, type RuleId, type RiskParams, type RuleParams } from './risk.rules.js';
export { DEFAULT_PARAMS, DEFAULT_PARAM_SET, RiskParamsSchema, validateParams, mergeParams, paramSet, paramsHash, canonicalJson, type ParamSet } from './risk.params.js';
export { evaluate, replay, ENGINE_VERSION, type ReplayResult } from './risk.engine.js';
export { riskError } from './risk.errors.js';
export { loadRiskContext, localHour, type RiskContextInput } from './risk.context.js';
export {
  createParamDraft,
  submitParamVersion,
  approveParamVersion,
  rejectParamVersion,
  getParamVersion,
  listParamVersions,
  paramsForCard,
  recordDecision,
  loadDecisionRecord,
  silenceRule,
  revokeSilence,
  flagStation,
  clearStationFlag,
  type ParamScope,
  type ParamStatus,
  type ParamVersion,
} from './risk.store.js';
export { backtest, type BacktestOptions, type BacktestReport, type RuleBacktest } from './risk.backtest.js';
export { riskRoutes, BACKTEST_MAX_DAYS, BACKTEST_MAX_SALES, type RiskRouteDeps } from './risk.routes.js';
export { openRiskCase, casePriority, CASE_SLA_MS, type CaseOutcome, type OpenCaseInput, type OpenedCase } from './risk.cases.js';
export {
  refreshRiskProfiles,
  startRiskProfileJobs,
  storeRiskProfiles,
  readRiskProfile,
  PROFILE_MAX_LAG_MS,
  PROFILE_REFRESH_AGE_MS,
  PROFILE_JOB_EVERY_MS,
  type RefreshRiskProfilesOptions,
} from './risk.profile.js';
