import './ledger.tables.js';
export * from './ledger.service.js';
export { ledgerError } from './ledger.errors.js';
export { verifyLedger, type VerifyReport } from './ledger.verify.js';
export { accountEntries, type Entry, type EntryPage } from './ledger.entries.js';
export { ledgerRoutes } from './ledger.routes.js';
export type { AccountKind, Currency } from './ledger.tables.js';
