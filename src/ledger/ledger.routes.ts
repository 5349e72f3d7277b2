import { Type } from 'typebox';
import type { App, Db } from '../platform/index.js';
import { access } from '../platform/index.js';
import { verifyLedger } from './ledger.verify.js';

export function ledgerRoutes(app: App, deps: { db: Db }): void {
  app.get(
    '/api/v1/ledger/verify',
    {
      config: { access: access.roles('admin') },
      schema: {
        tags: ['ledger'],
        summary: 'Prove the ledger invariants (admin) / 账本校验',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            ok: Type.Boolean(),
            accounts: Type.Integer(),
            transfers: Type.Integer(),
            pendingOpen: Type.Integer(),
            arrearsAccounts: Type.Integer(),
            problems: Type.Array(Type.Record(Type.String(), Type.Unknown())),
            checkedAt: Type.String(),
          }),
        },
      },
    },
    async () => verifyLedger(deps.db),
  );
}
