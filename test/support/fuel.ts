import type { SaleRequest } from '../../src/sales/index.js';
import { randomInt, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Db } from '../../src/platform/index.js';
import { terminalPost, type ApiResponse, type TestServer } from './server.js';

/**
 * Factories for end-to-end tests: everything goes through the HTTP API as staff would
 * do it, so a test exercises the same path as the operator's console and the pumps.
 */

export const PIN = '123456';
export const SALE_PATH = '/api/v1/pos/sales';
/** What the factories need of a server: the in-process test server or a child process. */
export type ApiClient = Pick<TestServer, 'api' | 'baseUrl'>;

/** A terminal as POST /stations/:id/terminals returns it. */
export interface Terminal {
  terminalId: string;
  secret: string;
  stationId: number;
}

function expectStatus(r: ApiResponse, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
}

let seq = 0;
/** A unique-enough suffix for codes and phone numbers within one database. */
export function uniq(): string {
  seq += 1;
  return `${process.pid % 1000}${seq}${randomInt(0, 1000)}`;
}

export async function newStation(server: ApiClient, code = `ST${uniq()}`.slice(0, 20)): Promise<{ stationId: number; settlementAccountId: number; terminal: Terminal }> {
  const st = await server.api('POST', '/api/v1/stations', {
    body: { code, name: `测试油站 ${code}`, address: '上海市浦东新区世纪大道 100 号', lat: 31.23, lng: 121.47 },
  });
  expectStatus(st, 201, 'create station');
  const terminal = await newTerminal(server, st.body.id as number);
  return { stationId: st.body.id, settlementAccountId: st.body.settlementAccountId, terminal };
}

export async function newTerminal(server: ApiClient, stationId: number): Promise<Terminal> {
  const t = await server.api('POST', `/api/v1/stations/${stationId}/terminals`);
  expectStatus(t, 201, 'register terminal');
  return { terminalId: t.body.terminalId, secret: t.body.secret, stationId };
}

export async function newCustomer(server: ApiClient): Promise<number> {
  const phone = `139${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
  const r = await server.api('POST', '/api/v1/customers', {
    body: { name: '张三', phone, idType: 'resident_id', idNumber: `3101011990${String(randomInt(0, 100_000_000)).padStart(8, '0')}` },
  });
  expectStatus(r, 201, 'create customer');
  return r.body.id;
}

export interface CardOptions {
  kind?: 'personal' | 'anonymous' | 'master' | 'sub';
  customerId?: number;
  masterCardNo?: string;
  sharedBalance?: boolean;
  pin?: string;
  /** Recharge this much (cash) after issuing. */
  funds?: number;
}

/** Issue a card (activating it when the server issues cards pending) and optionally fund it. */
export async function newCard(server: ApiClient, opts: CardOptions = {}): Promise<string> {
  const kind = opts.kind ?? 'personal';
  const customerId = opts.customerId ?? (kind === 'personal' || kind === 'master' ? await newCustomer(server) : undefined);
  const r = await server.api('POST', '/api/v1/cards', {
    body: {
      kind,
      pin: opts.pin ?? PIN,
      ...(customerId !== undefined ? { customerId } : {}),
      ...(opts.masterCardNo ? { masterCardNo: opts.masterCardNo } : {}),
      ...(opts.sharedBalance !== undefined ? { sharedBalance: opts.sharedBalance } : {}),
    },
  });
  expectStatus(r, 201, 'issue card');
  const cardNo = r.body.cardNo as string;
  if (r.body.status === 'pending') expectStatus(await server.api('POST', `/api/v1/cards/${cardNo}/activate`, { body: {} }), 200, 'activate card');
  if (opts.funds) await recharge(server, cardNo, opts.funds);
  return cardNo;
}

export async function recharge(server: ApiClient, cardNo: string, amount: number, idempotencyKey: string = randomUUID()): Promise<ApiResponse> {
  const r = await server.api('POST', `/api/v1/cards/${cardNo}/recharges`, { body: { amount, channel: 'cash' }, idempotencyKey });
  expectStatus(r, 201, 'recharge');
  return r;
}

export async function card(server: ApiClient, cardNo: string): Promise<{ balance: number; available: number; status: string; accounts: Array<{ accountId: number }> } & Record<string, any>> {
  const r = await server.api('GET', `/api/v1/cards/${cardNo}`);
  expectStatus(r, 200, 'get card');
  return r.body;
}

export async function balanceOf(server: ApiClient, cardNo: string): Promise<number> {
  return (await card(server, cardNo)).balance;
}

export type SaleBody = SaleRequest;

/** A consistent sale body for `amount` fen of 92# at 8.00 yuan/L. */
export function saleBody(cardNo: string, amount: number, over: Partial<SaleBody> = {}): SaleBody {
  const unitPrice = over.unitPrice ?? 800;
  return { cardNo, pin: PIN, grade: '92#', volumeMl: Math.round((amount * 1000) / unitPrice), unitPrice, amount, nozzle: 3, ...over };
}

export function sell(server: ApiClient, terminal: Terminal, body: unknown, opts: { idempotencyKey?: string; timestamp?: number; nonce?: string } = {}): Promise<ApiResponse> {
  return terminalPost(server as TestServer, terminal, SALE_PATH, body, opts); // terminalPost only reads baseUrl
}

/** Row counts and sums that any money movement changes. */
export async function moneySnapshot(db: Db): Promise<{ transfers: number; transferSum: number; posted: number }> {
  const r = await sql<{ transfers: number; transfer_sum: number; posted: number }>`
    select (select count(*) from ledger_transfers)::int as transfers,
           (select coalesce(sum(amount), 0) from ledger_transfers)::bigint as transfer_sum,
           (select coalesce(sum(debits_posted + debits_pending), 0) from ledger_accounts)::bigint as posted`.execute(db);
  const row = r.rows[0]!;
  return { transfers: row.transfers, transferSum: row.transfer_sum, posted: row.posted };
}

export async function expectLedgerOk(server: TestServer): Promise<void> {
  const report = await server.verify();
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
}

/** Sample value of a Prometheus metric line with the given labels, or 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && line.split(' ')[0] !== name) continue;
    const m = /^([^{ ]+)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}
