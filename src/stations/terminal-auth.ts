import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { Config, Db, Executor, FieldCipher, TerminalPrincipal } from '../platform/index.js';
import { hmacSha256Hex, platformError, safeEqual, sha256Hex } from '../platform/index.js';

interface CachedTerminal {
  secret: string;
  stationId: number;
  active: boolean;
  fetchedAtMs: number;
}

/** A disabled terminal is refused within this long on every instance (and at once on this one). */
const CACHE_TTL_MS = 30_000;
// One cache per database: terminal ids are only unique within one database, and a process
// (tests, tools) may serve several.
const caches = new WeakMap<object, Map<string, CachedTerminal>>();
function cacheFor(db: object): Map<string, CachedTerminal> {
  let cache = caches.get(db);
  if (!cache) {
    cache = new Map();
    caches.set(db, cache);
  }
  return cache;
}

export function forgetTerminal(db: object, terminalId: string): void {
  cacheFor(db).delete(terminalId);
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === 'string' && v.length > 0 && v.length <= 200 ? v : undefined;
}

/**
 * Terminals sign each request: X-Signature = hex HMAC-SHA256(secret,
 * METHOD \n PATH \n X-Timestamp \n X-Nonce \n hex SHA-256(raw body)), where PATH is the
 * request target as sent (path and query). The signature is checked before the nonce
 * is spent, so forged requests cannot burn a terminal's nonces.
 */
export function terminalAuthenticator(deps: { db: Db; config: Config; cipher: FieldCipher }) {
  const cache = cacheFor(deps.db);
  const lookup = async (terminalId: string): Promise<CachedTerminal | null> => {
    const hit = cache.get(terminalId);
    if (hit && Date.now() - hit.fetchedAtMs < CACHE_TTL_MS) return hit;
    const r = await sql<{ secret_enc: string; station_id: number; status: string }>`
      select secret_enc, station_id, status from terminals where id = ${terminalId}`.execute(deps.db);
    const row = r.rows[0];
    if (!row) return null;
    const entry = { secret: deps.cipher.decrypt(row.secret_enc), stationId: row.station_id, active: row.status === 'active', fetchedAtMs: Date.now() };
    cache.set(terminalId, entry);
    return entry;
  };

  return {
    async authenticate(request: FastifyRequest): Promise<TerminalPrincipal> {
      const terminalId = header(request, 'x-terminal-id');
      const timestamp = header(request, 'x-timestamp');
      const nonce = header(request, 'x-nonce');
      const signature = header(request, 'x-signature');
      if (!terminalId || !timestamp || !nonce || !signature) {
        throw platformError('TERMINAL_SIGNATURE_INVALID', { reason: 'missing X-Terminal-Id, X-Timestamp, X-Nonce or X-Signature' });
      }
      if (!/^\d{1,12}$/.test(timestamp)) throw platformError('TERMINAL_TIMESTAMP_SKEW', { reason: 'X-Timestamp must be unix seconds' });
      if (Math.abs(Date.now() - Number(timestamp) * 1000) > deps.config.terminalClockSkewMs) {
        throw platformError('TERMINAL_TIMESTAMP_SKEW', { serverTime: Math.floor(Date.now() / 1000) });
      }
      if (!/^[A-Za-z0-9_-]{8,128}$/.test(nonce)) throw platformError('TERMINAL_SIGNATURE_INVALID', { reason: 'X-Nonce must be 8-128 url-safe characters' });
      const terminal = await lookup(terminalId);
      if (!terminal || !terminal.active) throw platformError('TERMINAL_UNKNOWN', { terminalId });
      const bodyHash = sha256Hex(request.rawBody ?? '');
      const expected = hmacSha256Hex(terminal.secret, `${request.method}\n${request.url}\n${timestamp}\n${nonce}\n${bodyHash}`);
      if (!safeEqual(expected, signature.toLowerCase())) throw platformError('TERMINAL_SIGNATURE_INVALID');
      if (request.routeOptions.config?.spendNonceInTransaction) {
        return { id: terminalId, stationId: terminal.stationId, unspentNonce: nonce };
      }
      await spendTerminalNonce(deps.db, terminalId, nonce);
      return { id: terminalId, stationId: terminal.stationId };
    },
  };
}

/**
 * Spend a terminal request's nonce (refused if seen before) and, at most once a minute, note when
 * the terminal was last seen: one round trip. In a transaction, a concurrent request with the same
 * nonce waits for it and is refused once it commits.
 */
export async function spendTerminalNonce(db: Executor, terminalId: string, nonce: string): Promise<void> {
  const r = await sql<{ spent: number }>`with spent as (
      insert into terminal_nonces (terminal_id, nonce) values (${terminalId}, ${nonce}) on conflict do nothing returning 1),
    seen as (update terminals set last_seen_at = now()
      where id = ${terminalId} and exists (select 1 from spent) and (last_seen_at is null or last_seen_at < now() - interval '1 minute'))
    select count(*)::int as spent from spent`.execute(db);
  if ((r.rows[0]?.spent ?? 0) === 0) throw platformError('TERMINAL_NONCE_REPLAYED');
}

/** Nonces older than twice the allowed clock skew can never be replayed (the timestamp check refuses them). */
export async function pruneNonces(db: Db, skewMs: number): Promise<number> {
  const r = await sql`delete from terminal_nonces where seen_at < now() - ${2 * skewMs} * interval '1 millisecond'`.execute(db);
  return Number(r.numAffectedRows ?? 0);
}
