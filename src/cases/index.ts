// Review cases (人工审核), issue 7 §4: the queue, assignment, notes, evidence, resolutions, alerts and
// the holder's view. Cases are opened by the sale path through openRiskCase (src/risk); nothing but
// the composition root (server, main) imports this module.
export { casesRoutes } from './cases.routes.js';
export { startCaseJobs, runCaseJobsOnce, CASE_JOB_INTERVAL_MS, type CaseJobDeps, type CaseJobRound } from './cases.jobs.js';
export { casesError } from './cases.errors.js';
export { RESOLUTIONS, type Resolution } from './cases.queries.js';
export type { CaseDeps } from './cases.service.js';
