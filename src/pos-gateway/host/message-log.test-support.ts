/**
 * TEST SUPPORT ONLY: the host objects on the test server's PostgreSQL (as the gateway builds them)
 * and one exchange recorded the way the gateway's handler records it: time the session layer,
 * then hand request, answer and result to the message log.
 */
import type { TestServer } from '../../../test/support/server.js';
import { handleInbound, type InboundContext, type InboundResult } from './inbound.js';
import { DbTerminalDirectory } from './db-directory.js';
import { DbReplayGuard } from './db-replay.js';
import { posKeyStoreFor } from './db-keystore.js';
import type { PosMessageLog } from './message-log.js';

export async function dbHost(s: TestServer): Promise<InboundContext> {
  return {
    directory: new DbTerminalDirectory(s.deps.db),
    replay: new DbReplayGuard(s.deps.db),
    keyStore: await posKeyStoreFor(s.deps.db, s.config.dataKeys, s.config.pinKey),
    handlers: {},
    transmissionWindowMs: s.config.terminalClockSkewMs,
  };
}

export async function exchange(ctx: InboundContext, log: PosMessageLog, request: Buffer, connId = 'c-test'): Promise<InboundResult> {
  const receivedAt = new Date();
  const t0 = performance.now();
  const r = await handleInbound(request, ctx);
  log.record({ isoTerminalId: r.terminalId ?? null, connId, receivedAt, durationMs: performance.now() - t0, request, response: r.response, result: r });
  return r;
}
