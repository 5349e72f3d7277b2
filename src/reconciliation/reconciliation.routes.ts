import type { App, Config, Db } from '../platform/index.js';
import type { PaymentsRuntime } from '../payments/index.js';

// SCAFFOLD (replaced by the reconciliation helper).
export function reconciliationRoutes(_app: App, _deps: { db: Db; config: Config; payments: PaymentsRuntime }): void {}
