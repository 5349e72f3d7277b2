import { randomInt, randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { terminalPost, type ApiResponse, type TestServer } from './server.js';

/**
 * Factories for the customers, cards, stations and payments tests. Everything goes through
 * the HTTP API as the counter and the pumps would do it.
 */

export const PIN = '123456';
export const SALE_PATH = '/api/v1/pos/sales';

export interface TestTerminal {
  terminalId: string;
  secret: string;
  stationId: number;
}

/** Fails with the whole answer in the message, so a broken step says why. */
export function ok<T = any>(r: ApiResponse<T>, status: number, what = 'request'): T {
  if (r.status !== status) throw new Error(`${what}: expected HTTP ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** An error answer: the HTTP status and the stable code (never the message text). */
export function expectError(r: ApiResponse, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
}

let seq = 0;
export function uniq(): string {
  seq += 1;
  return `${seq}${randomInt(0, 1_000_000)}`;
}

/** A mobile number unique enough within one test database. */
export function newPhone(): string {
  return `13${randomInt(5, 10)}${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
}

/** An 18-digit resident ID number with a correct GB 11643 (ISO 7064 MOD 11-2) check character. */
function randomBirthDate(): string {
  const d = new Date(Date.UTC(1950, 0, 1) + randomInt(0, 50 * 365) * 86_400_000);
  return d.toISOString().slice(0, 10).replaceAll('-', '');
}

/** A valid resident ID number; the birth date varies too, so parallel tests do not collide on its 1,000 sequence numbers. */
export function newResidentId(birth = randomBirthDate()): string {
  const body = `310101${birth}${String(randomInt(0, 1000)).padStart(3, '0')}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...body].reduce((s, ch, i) => s + Number(ch) * weights[i]!, 0);
  return body + '10X98765432'[sum % 11];
}

export async function newCustomer(server: TestServer, over: Record<string, unknown> = {}): Promise<any> {
  const r = await server.api('POST', '/api/v1/customers', {
    body: { name: '李小龙', phone: newPhone(), idType: 'passport', idNumber: `E${uniq()}`.slice(0, 20).padEnd(9, '7'), ...over },
  });
  return ok(r, 201, 'create customer');
}

export async function newStation(server: TestServer): Promise<{ stationId: number; terminal: TestTerminal }> {
  const code = `ST${uniq()}`.slice(0, 20);
  const st = ok(
    await server.api('POST', '/api/v1/stations', { body: { code, name: `测试站 ${code}`, address: '上海市浦东新区世纪大道 100 号', lat: 31.23, lng: 121.47 } }),
    201,
    'create station',
  );
  const t = ok(await server.api('POST', `/api/v1/stations/${st.id}/terminals`), 201, 'register terminal');
  return { stationId: st.id, terminal: { terminalId: t.terminalId, secret: t.secret, stationId: st.id } };
}

export interface IssueOptions {
  kind?: 'personal' | 'anonymous' | 'master' | 'sub';
  customerId?: number;
  masterCardNo?: string;
  sharedBalance?: boolean;
  pin?: string;
  /** Cash recharge after issuing (fen). */
  funds?: number;
  /** Activate when the server issues cards pending (default true). */
  activate?: boolean;
}

export async function issueCard(server: TestServer, opts: IssueOptions = {}): Promise<any> {
  const kind = opts.kind ?? 'personal';
  const customerId = opts.customerId ?? (kind === 'personal' || kind === 'master' ? (await newCustomer(server)).id : undefined);
  const body = ok(
    await server.api('POST', '/api/v1/cards', {
      body: {
        kind,
        pin: opts.pin ?? PIN,
        ...(customerId !== undefined ? { customerId } : {}),
        ...(opts.masterCardNo ? { masterCardNo: opts.masterCardNo } : {}),
        ...(opts.sharedBalance !== undefined ? { sharedBalance: opts.sharedBalance } : {}),
      },
    }),
    201,
    'issue card',
  );
  if (body.status === 'pending' && opts.activate !== false) ok(await server.api('POST', `/api/v1/cards/${body.cardNo}/activate`), 200, 'activate');
  if (opts.funds) await recharge(server, body.cardNo, opts.funds);
  return body;
}

/** Issue a card and return only its number. */
export async function newCardNo(server: TestServer, opts: IssueOptions = {}): Promise<string> {
  return (await issueCard(server, opts)).cardNo;
}

export async function recharge(server: TestServer, cardNo: string, amount: number, extra: Record<string, unknown> = {}): Promise<any> {
  return ok(
    await server.api('POST', `/api/v1/cards/${cardNo}/recharges`, { body: { amount, channel: 'cash', ...extra }, idempotencyKey: randomUUID() }),
    201,
    'recharge',
  );
}

export async function getCard(server: TestServer, cardNo: string): Promise<any> {
  return ok(await server.api('GET', `/api/v1/cards/${cardNo}`), 200, 'get card');
}

export function cardOp(server: TestServer, cardNo: string, op: string, body?: Record<string, unknown>): Promise<ApiResponse> {
  return server.api('POST', `/api/v1/cards/${cardNo}/${op}`, body === undefined ? {} : { body });
}

/** A consistent sale body at 10.00 yuan per litre, so volume (ml) equals amount (fen). */
export function saleBody(cardNo: string, amount: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return { cardNo, pin: PIN, grade: '92#', volumeMl: amount, unitPrice: 1000, amount, nozzle: 1, ...over };
}

/** A signed POS sale; returns the 200 answer body (approved or declined). */
export async function sell(server: TestServer, terminal: TestTerminal, cardNo: string, amount: number, over: Record<string, unknown> = {}): Promise<any> {
  return ok(await terminalPost(server, terminal, SALE_PATH, saleBody(cardNo, amount, over)), 200, 'sale');
}

export async function expectApproved(server: TestServer, terminal: TestTerminal, cardNo: string, amount: number, over: Record<string, unknown> = {}): Promise<any> {
  const s = await sell(server, terminal, cardNo, amount, over);
  expect({ status: s.status, declineCode: s.declineCode }).toEqual({ status: 'approved', declineCode: undefined });
  return s;
}

export async function expectDeclined(server: TestServer, terminal: TestTerminal, cardNo: string, amount: number, code: string, over: Record<string, unknown> = {}): Promise<any> {
  const s = await sell(server, terminal, cardNo, amount, over);
  expect({ status: s.status, declineCode: s.declineCode }).toEqual({ status: 'declined', declineCode: code });
  return s;
}

export async function expectLedgerVerified(server: TestServer): Promise<void> {
  const report = await server.verify();
  expect(report.ok, JSON.stringify(report)).toBe(true);
}
