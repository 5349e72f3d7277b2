import { createHash, createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';

/**
 * The load generator: `clients` connections, each sending one signed sale after the other
 * (closed loop, like a forecourt terminal waiting for its answer). Written here rather than
 * taken from autocannon because every request needs its own nonce, timestamp, signature and
 * idempotency key, and the answer's approved/declined status is part of the result.
 */

export const SALE_PATH = '/api/v1/pos/sales';
/** 92# at 7.89 元/L, in fen per litre. */
export const UNIT_PRICE = 789;
export const MIN_VOLUME_ML = 5_000;
export const MAX_VOLUME_ML = 40_000;

export interface Terminal {
  terminalId: string;
  secret: string;
}

export interface LoadResult {
  /** Sales answered in the measured window, whatever the answer. */
  completed: number;
  approved: number;
  declined: number;
  declinesByCode: Record<string, number>;
  /** Non-200 answers and transport failures, by status and error code. */
  errors: number;
  errorsByKind: Record<string, number>;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[idx]!;
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function signedSale(terminal: Terminal, cardNo: string, pin: string): { body: string; headers: Record<string, string> } {
  const volumeMl = MIN_VOLUME_ML + Math.floor(Math.random() * (MAX_VOLUME_ML - MIN_VOLUME_ML + 1));
  const body = JSON.stringify({ cardNo, pin, grade: '92', volumeMl, unitPrice: UNIT_PRICE, amount: Math.round((volumeMl * UNIT_PRICE) / 1000), nozzle: 1 });
  const ts = String(Math.floor(Date.now() / 1000));
  const nonce = randomUUID();
  const signature = createHmac('sha256', terminal.secret).update(`POST\n${SALE_PATH}\n${ts}\n${nonce}\n${sha256Hex(body)}`).digest('hex');
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-terminal-id': terminal.terminalId,
      'x-timestamp': ts,
      'x-nonce': nonce,
      'x-signature': signature,
      // Terminals retry on timeouts, so every sale carries a key, as in production.
      'idempotency-key': randomUUID(),
    },
  };
}

/** A sale unanswered for this long means the server is stuck, not slow: it is counted as an error and the connection dropped. */
export const REQUEST_TIMEOUT_MS = 15_000;

function post(agent: http.Agent, url: URL, req: { body: string; headers: Record<string, string> }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ agent, hostname: url.hostname, port: url.port, path: SALE_PATH, method: 'POST', headers: req.headers, timeout: REQUEST_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    r.on('error', reject);
    r.end(req.body);
  });
}

export async function runHttpLoad(opts: {
  baseUrl: string;
  terminals: readonly Terminal[];
  pickCard: () => string;
  pin: string;
  clients: number;
  seconds: number;
}): Promise<LoadResult> {
  const url = new URL(opts.baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.clients, maxFreeSockets: opts.clients });
  const latencies: number[] = [];
  const result: LoadResult = { completed: 0, approved: 0, declined: 0, declinesByCode: {}, errors: 0, errorsByKind: {}, seconds: 0, perSecond: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
  const started = performance.now();
  const deadline = started + opts.seconds * 1000;
  let lastDone = started;

  const client = async (n: number) => {
    while (performance.now() < deadline) {
      const terminal = opts.terminals[(n + result.completed) % opts.terminals.length]!;
      const req = signedSale(terminal, opts.pickCard(), opts.pin);
      const t0 = performance.now();
      let kind: string | null = null;
      try {
        const res = await post(agent, url, req);
        if (res.status === 200) {
          const answer = JSON.parse(res.body) as { status: string; declineCode?: string };
          if (answer.status === 'approved') result.approved++;
          else {
            result.declined++;
            const code = answer.declineCode ?? 'UNKNOWN';
            result.declinesByCode[code] = (result.declinesByCode[code] ?? 0) + 1;
          }
        } else {
          let code = '';
          try {
            code = (JSON.parse(res.body) as { error?: { code?: string } }).error?.code ?? '';
          } catch {
            // not our error shape
          }
          kind = `${res.status} ${code}`.trim();
        }
      } catch (err) {
        kind = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      }
      const t1 = performance.now();
      lastDone = t1;
      latencies.push(t1 - t0);
      result.completed++;
      if (kind !== null) {
        result.errors++;
        result.errorsByKind[kind] = (result.errorsByKind[kind] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, (_, i) => client(i)));
  agent.destroy();

  const sorted = Float64Array.from(latencies).sort();
  result.seconds = (lastDone - started) / 1000;
  result.perSecond = result.completed / result.seconds;
  result.p50Ms = percentile(sorted, 0.5);
  result.p99Ms = percentile(sorted, 0.99);
  result.maxMs = sorted.length ? sorted[sorted.length - 1]! : NaN;
  return result;
}
