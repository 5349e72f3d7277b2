import type { FastifyRequest } from 'fastify';
import type { Db, Outcome, TerminalPrincipal, Trx } from '../platform/index.js';
import { checkIdempotencyKey, platformError, runIdempotent } from '../platform/index.js';
import { spendTerminalNonce } from '../stations/index.js';

/**
 * The terminal pattern of src/sales/sales.routes.ts for every signed POST of the forecourt: the
 * nonce is spent inside the use case's transaction (one commit), and spent by this hook when the
 * request fails instead, so the same signed bytes are never accepted later when the cause has gone.
 */
export function spendNonceOnError(db: Db) {
  return async (req: FastifyRequest): Promise<void> => {
    const nonce = req.terminal?.unspentNonce;
    if (nonce === undefined) return;
    await spendTerminalNonce(db, req.terminal!.id, nonce).catch(() => {
      // Already spent (a replay, or the request committed): nothing to do.
    });
  };
}

/**
 * Runs a terminal's request once per (scope, Idempotency-Key): the nonce first, then the key
 * (required when `requireKey`), then the work. `hashed` is what the stored request hash covers.
 */
export function runTerminalRequest<T>(
  db: Db,
  terminal: TerminalPrincipal,
  scope: string,
  key: string | undefined,
  hashed: unknown,
  opts: { requireKey: boolean },
  work: (trx: Trx) => Promise<Outcome<T>>,
): Promise<{ status: number; body: T; replayed: boolean }> {
  return runIdempotent<T>(db, `${scope}:${terminal.id}`, key, hashed, work, {
    first: async (trx) => {
      if (terminal.unspentNonce !== undefined) await spendTerminalNonce(trx, terminal.id, terminal.unspentNonce);
      checkIdempotencyKey(key);
      if (opts.requireKey && key === undefined) throw platformError('IDEMPOTENCY_KEY_INVALID', { header: 'Idempotency-Key', reason: 'required: this request moves money' });
    },
  }).catch((err: unknown) => {
    // claimTerminalRef decides this under the reference lock; the unique indexes are the backstop.
    if (isTerminalRefViolation(err)) throw platformError('IDEMPOTENCY_KEY_REUSED', { key, reason: 'this terminal reference already names another original' });
    throw err;
  });
}

/** The unique indexes that keep one original per (terminal, terminal reference). */
const TERMINAL_REF_INDEXES = new Set(['sales_terminal_ref', 'pump_authorisations_terminal_id_terminal_ref_key', 'pump_sales_terminal_id_terminal_ref_key']);

function isTerminalRefViolation(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown } | null;
  return e !== null && typeof e === 'object' && e.code === '23505' && typeof e.constraint === 'string' && TERMINAL_REF_INDEXES.has(e.constraint);
}
