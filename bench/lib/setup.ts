import { randomBytes, randomUUID } from 'node:crypto';
import type { Terminal } from './http-load.js';

/**
 * The benchmark's data, created through the public API of the server under test, as an
 * operator would: stations, terminals, cards, cash recharges. Anonymous cards, because the
 * sale path does not read the holder and they need no customer record each.
 */
export const BENCH_PIN = '246810';
/** The largest single counter recharge the API accepts (fen). */
const MAX_RECHARGE_FEN = 100_000_000;

export class Api {
  private token = '';
  constructor(readonly baseUrl: string) {}

  async login(username: string, password: string): Promise<void> {
    const r = await this.call<{ token: string }>('POST', '/api/v1/auth/login', { username, password }, { auth: false });
    this.token = r.token;
  }

  async call<T>(method: string, path: string, body?: unknown, opts: { auth?: boolean; idempotencyKey?: string } = {}): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (opts.auth !== false) headers.authorization = `Bearer ${this.token}`;
    if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
    const res = await fetch(this.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : null) as T;
  }
}

async function pool<T>(items: readonly T[], workers: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(workers, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

export interface BenchStation {
  id: number;
  code: string;
  settlementAccountId: number;
  /** Signs the HTTP load. */
  http: Terminal;
  /** Its rows are pgbench's: a separate terminal so each side's sales can be counted in the database. */
  pgbenchTerminalId: string;
}

export async function createStations(api: Api, count: number): Promise<BenchStation[]> {
  const out: BenchStation[] = [];
  for (let i = 1; i <= count; i++) {
    const code = `BENCH${String(i).padStart(3, '0')}`;
    const st = await api.call<{ id: number; settlementAccountId: number }>('POST', '/api/v1/stations', {
      code,
      name: `压测油站 ${i} / bench station ${i}`,
      address: `上海市浦东新区压测路 ${i} 号`,
      lat: 31.2 + i / 1000,
      lng: 121.5 + i / 1000,
    });
    const http = await api.call<{ terminalId: string; secret: string }>('POST', `/api/v1/stations/${st.id}/terminals`);
    const pgb = await api.call<{ terminalId: string }>('POST', `/api/v1/stations/${st.id}/terminals`);
    out.push({ id: st.id, code, settlementAccountId: st.settlementAccountId, http: { terminalId: http.terminalId, secret: http.secret }, pgbenchTerminalId: pgb.terminalId });
  }
  return out;
}

export async function issueCards(api: Api, count: number, onProgress: () => void): Promise<string[]> {
  const cards: string[] = new Array(count);
  await pool([...Array(count).keys()], 16, async (i) => {
    const c = await api.call<{ cardNo: string }>('POST', '/api/v1/cards', { kind: 'anonymous', pin: BENCH_PIN });
    cards[i] = c.cardNo;
    onProgress();
  });
  return cards;
}

/** Cash recharges until the card holds `amountFen` more; several when it exceeds one recharge's limit. */
export async function fund(api: Api, cardNos: readonly string[], amountFen: number, onProgress: () => void): Promise<void> {
  await pool(cardNos, 16, async (cardNo) => {
    for (let left = amountFen; left > 0; left -= MAX_RECHARGE_FEN) {
      await api.call('POST', `/api/v1/cards/${cardNo}/recharges`, { amount: Math.min(left, MAX_RECHARGE_FEN), channel: 'cash' }, { idempotencyKey: randomUUID() });
    }
    onProgress();
  });
}

/** The risk rules that count a card's own repeated sales and spend: a load test trips them by design. */
export const LOAD_TEST_QUIET_RULES = ['velocity_sales', 'velocity_declines', 'card_testing', 'period_amount'] as const;

/**
 * Publishes a programme risk parameter version with the rules that count a card's repeated sales
 * switched off, as a risk team would before a load test: thousands of sales on a few thousand
 * cards (and hundreds on one hot card) in minutes are load, not fraud, and without this the bench
 * would measure declines (RISK_REVIEW, RISK_DECLINED) instead of the approved sale path. The gate
 * itself still runs on every sale (context, the other rules, the decision row). Approval needs a
 * second person: a `risk` staff member is created for it.
 */
export async function quietRiskRulesForLoad(admin: Api, baseUrl: string): Promise<number> {
  const username = `bench.risk.${randomBytes(3).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  await admin.call('POST', '/api/v1/staff', { username, password, role: 'risk', displayName: 'bench risk approver' });
  const approver = new Api(baseUrl);
  await approver.login(username, password);
  const patch = Object.fromEntries(LOAD_TEST_QUIET_RULES.map((rule) => [rule, { enabled: false }]));
  const draft = await admin.call<{ id: number }>('POST', '/api/v1/risk/parameter-versions', { scope: 'programme', scopeKey: 'default', patch, note: 'bench: load, not fraud' });
  await admin.call('POST', `/api/v1/risk/parameter-versions/${draft.id}/submit`);
  await approver.call('POST', `/api/v1/risk/parameter-versions/${draft.id}/approve`);
  return draft.id;
}
