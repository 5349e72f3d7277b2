import { createHash, createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import { percentile, REQUEST_TIMEOUT_MS, type Terminal } from './http-load.js';

/**
 * The HTTP side of `npm run bench -- iso`: closed-loop pump pre-authorisations
 * (POST /api/v1/pos/authorisations) each followed by its reversal (POST /api/v1/pos/reversals,
 * naming the authorisation by its Idempotency-Key), signed as a terminal signs (docs/terminals.md,
 * the same scheme as http-load.ts). The ISO 8583 side runs the same pair (1100 + 1420).
 */

export const AUTHORISATION_PATH = '/api/v1/pos/authorisations';
export const REVERSAL_PATH = '/api/v1/pos/reversals';

export interface PairLoadResult {
  /** Pre-authorisations answered in the window. */
  authorisations: number;
  approved: number;
  /** Answers by outcome: { 'authorisation approved': n, 'authorisation NOZZLE_BUSY': n, 'reversal 400': n }. */
  outcomes: Record<string, number>;
  errors: number;
  errorsByKind: Record<string, number>;
  seconds: number;
  perSecond: number;
  /** Latency of the authorisation request alone. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function signed(terminal: Terminal, path: string, body: string, key: string): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = randomUUID();
  const hash = createHash('sha256').update(body).digest('hex');
  return {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-terminal-id': terminal.terminalId,
    'x-timestamp': ts,
    'x-nonce': nonce,
    'x-signature': createHmac('sha256', terminal.secret).update(`POST\n${path}\n${ts}\n${nonce}\n${hash}`).digest('hex'),
    'idempotency-key': key,
  };
}

function post(agent: http.Agent, url: URL, path: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ agent, hostname: url.hostname, port: url.port, path, method: 'POST', headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    r.on('error', reject);
    r.end(body);
  });
}

const errorCode = (body: string): string => {
  try {
    return (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? '';
  } catch {
    return '';
  }
};

export async function runHttpAuthPairs(opts: {
  baseUrl: string;
  terminal: Terminal;
  cards: readonly string[];
  pin: string;
  /** Client i authorises on nozzles[i]: one open authorisation per nozzle. */
  nozzles: readonly number[];
  amount: number;
  clients: number;
  seconds: number;
}): Promise<PairLoadResult> {
  const url = new URL(opts.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients, maxFreeSockets: opts.clients });
  const r: PairLoadResult = { authorisations: 0, approved: 0, outcomes: {}, errors: 0, errorsByKind: {}, seconds: 0, perSecond: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
  const latencies: number[] = [];
  const count = (k: string): void => void (r.outcomes[k] = (r.outcomes[k] ?? 0) + 1);
  const error = (k: string): void => {
    r.errors++;
    r.errorsByKind[k] = (r.errorsByKind[k] ?? 0) + 1;
  };
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  let lastDone = started;
  let loops = 0;

  const client = async (i: number): Promise<void> => {
    while (performance.now() < deadline) {
      const cardNo = opts.cards[loops++ % opts.cards.length]!;
      const key = randomUUID();
      const body = JSON.stringify({ cardNo, pin: opts.pin, nozzle: opts.nozzles[i], mode: 'preauth', amount: opts.amount });
      const t0 = performance.now();
      let answered = false;
      try {
        const res = await post(agent, url, AUTHORISATION_PATH, signed(opts.terminal, AUTHORISATION_PATH, body, key), body);
        if (res.status === 200) {
          answered = true;
          const a = JSON.parse(res.body) as { status: string; declineCode?: string };
          count(`authorisation ${a.status === 'approved' ? 'approved' : (a.declineCode ?? 'declined')}`);
          if (a.status === 'approved') r.approved++;
        } else error(`authorisation ${res.status} ${errorCode(res.body)}`.trim());
      } catch (err) {
        error(`authorisation ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const t1 = performance.now();
      latencies.push(t1 - t0);
      r.authorisations++;
      lastDone = t1;
      // Reversed whatever came back: an approved hold is released, an unanswered request is recorded as reversed.
      const rb = JSON.stringify({ originalRef: key, reason: answered ? 'customer_cancel' : 'timeout' });
      try {
        const res = await post(agent, url, REVERSAL_PATH, signed(opts.terminal, REVERSAL_PATH, rb, randomUUID()), rb);
        if (res.status === 200) count(`reversal ${(JSON.parse(res.body) as { actionCode: string }).actionCode}`);
        else error(`reversal ${res.status} ${errorCode(res.body)}`.trim());
      } catch (err) {
        error(`reversal ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      lastDone = performance.now();
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, i) => client(i)));
  agent.destroy();

  const sorted = Float64Array.from(latencies).sort();
  r.seconds = Math.max(0.001, (lastDone - started) / 1000);
  r.perSecond = r.authorisations / r.seconds;
  r.p50Ms = percentile(sorted, 0.5);
  r.p99Ms = percentile(sorted, 0.99);
  r.maxMs = sorted.length ? sorted[sorted.length - 1]! : NaN;
  return r;
}
