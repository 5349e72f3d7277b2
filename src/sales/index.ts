export { salesRoutes } from './sales.routes.js';
export { authoriseSale, decideSale, getSale, toSaleRecord, type SaleRequest, type SaleAnswer, type SaleRecord, type SaleRow } from './sales.service.js';
export { salesError, SALE_DECLINES } from './sales.errors.js';
export { openShiftFor, lockTerminalRef, claimTerminalRef } from './forecourt-locks.js';
// ── pump authorisations, post-pay (issue 4) ──
export { authorisationRoutes } from './authorisations.routes.js';
export { postpayRoutes } from './postpay.routes.js';
export { startAuthorisationJobs } from './authorisations.jobs.js';
// ── reversals, voids, shifts, settlement (issue 4) ──
export { reversalRoutes } from './reversals.routes.js';
export { shiftRoutes } from './shifts.routes.js';
export { settlementRoutes } from './settlement.routes.js';
// ── offline batch upload (issue 4) ──
export { offlineBatchRoutes } from './offline-batch.routes.js';
export { offlineError, OFFLINE_REJECTS } from './offline-batch.errors.js';
export { reversalsError } from './reversals.errors.js';
export { expireAuthorisations, AUTHORISATION_JOB_INTERVAL_MS } from './authorisations.jobs.js';
export { closeShift, currentShift, type ShiftView } from './shifts.service.js';
// ── the terminal host's ISO 8583 path runs the same use cases (issue 6) ──
export { runTerminalRequest } from './terminal-tx.js';
export { authorisePump, type AuthorisationAnswer } from './authorisations.service.js';
export { completeAuthorisation } from './authorisations.completion.js';
export { reverseByRef, type ReversalAnswer } from './reversals.service.js';
export { uploadOfflineBatch, type OfflineBatchAnswer } from './offline-batch.service.js';
export { compareTotals, checkDeclared } from './shifts.service.js';
// ── the risk engine in the sale path (issue 7 §1–§2) ──
export { releaseAuthorisationReview, refuseAuthorisationReview } from './sale-risk-review.js';
export { assessRisk, configureRiskGate, actionFor, RISK_CONTEXT_TIMEOUT_MS, RISK_DECLINE_CODES, type RiskConfirmation, type RiskVerdict, type RiskGateOptions } from './sale-risk.js';
