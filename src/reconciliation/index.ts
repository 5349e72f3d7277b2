export { reconciliationRoutes } from './reconciliation.routes.js';
export { reconError, type ReconErrorCode } from './reconciliation.errors.js';
export { startReconciliationJobs, dueReconciliations, reconciliationTick } from './reconciliation.jobs.js';
export { runReconciliation, importStatement, resolveItem, type ReconDeps, type RunView, type StatementView, type ItemView } from './reconciliation.service.js';
export { matchStatement, ITEM_CODES, type ItemCode, type MatchResult } from './matcher.js';
export { reconReport, type ReportDay } from './reconciliation.report.js';
