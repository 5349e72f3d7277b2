import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../platform/index.js';
import { signTerminalRequest, terminalPost, type ApiResponse, type TestServer } from '../../test/support/server.js';
import { newStation, newTerminal, type Terminal } from '../../test/support/fuel.js';

/** Test helpers for the forecourt flows (authorisations, post-pay, goods): HTTP only, plus direct SQL for fixtures. */

export const PUMP_NOZZLES = [
  { nozzle: 1, grade: '92#' },
  { nozzle: 2, grade: '95#' },
  { nozzle: 3, grade: '92#' },
  { nozzle: 4, grade: '0#' },
  { nozzle: 5, grade: '92#' },
  { nozzle: 6, grade: '92#' },
  { nozzle: 7, grade: '92#' },
  { nozzle: 8, grade: '92#' },
];

export interface Forecourt {
  stationId: number;
  terminal: Terminal;
  /** A second terminal of the same station (the cashier's, when the first is the pump's). */
  cashier: Terminal;
}

export async function newForecourt(server: TestServer, nozzles = PUMP_NOZZLES): Promise<Forecourt> {
  const st = await newStation(server);
  const r = await server.api('PUT', `/api/v1/stations/${st.stationId}/nozzles`, { role: 'operator', body: { items: nozzles } });
  if (r.status !== 200) throw new Error(`nozzles: ${r.status} ${JSON.stringify(r.body)}`);
  return { stationId: st.stationId, terminal: st.terminal, cashier: await newTerminal(server, st.stationId) };
}

export function post(server: TestServer, t: Terminal, path: string, body: unknown, key: string | null = randomUUID()): Promise<ApiResponse> {
  return terminalPost(server, t, path, body, key === null ? {} : { idempotencyKey: key });
}

export async function get(server: TestServer, t: Terminal, path: string): Promise<ApiResponse> {
  const headers = signTerminalRequest(t, 'GET', path, '');
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { headers });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

/** A consistent fuel part for `amount` fen at `unitPrice` fen/L. */
export function fuel(amount: number, unitPrice = 800): { volumeMl: number; unitPrice: number; amount: number } {
  return { volumeMl: Math.round((amount * 1000) / unitPrice), unitPrice, amount };
}

export const authorise = (server: TestServer, t: Terminal, body: Record<string, unknown>, key: string | null = randomUUID()) =>
  post(server, t, '/api/v1/pos/authorisations', body, key);

export const complete = (server: TestServer, t: Terminal, id: string, body: Record<string, unknown>, key: string | null = randomUUID()) =>
  post(server, t, `/api/v1/pos/authorisations/${id}/completion`, body, key);

/** Store goods straight into the catalogue (the goods API is another module's). */
export async function addGoods(db: Db, items: Array<{ sku: string; unitPrice: number; active?: boolean }>): Promise<void> {
  const code = `C${randomUUID().slice(0, 8)}`;
  const cat = await sql<{ id: number }>`insert into goods_categories (code, name_zh, name_en) values (${code}, '饮料', 'Drinks') returning id`.execute(db);
  for (const g of items) {
    await sql`insert into goods (sku, category_id, name_zh, name_en, unit_price, active)
      values (${g.sku}, ${cat.rows[0]!.id}, ${'商品 ' + g.sku}, ${'Item ' + g.sku}, ${g.unitPrice}, ${g.active ?? true})`.execute(db);
  }
}

/** Move an authorisation's expiry into the past (its ledger holds keep their own, later expiry). */
export async function makeDue(db: Db, authorisationId: string): Promise<void> {
  await sql`update pump_authorisations set expires_at = clock_timestamp() - interval '1 second' where id = ${authorisationId}`.execute(db);
}

export async function authorisationRow(db: Db, id: string) {
  const r = await sql<{ status: string; sale_id: string | null; held_amount: number; shift_id: number | null; terminal_ref: string }>`
    select status, sale_id, held_amount, shift_id, terminal_ref from pump_authorisations where id = ${id}`.execute(db);
  return r.rows[0]!;
}

/** The ledger state of an authorisation's holds. */
export async function holdStates(db: Db, id: string): Promise<string[]> {
  const r = await sql<{ state: string }>`select p.state from pump_authorisations a cross join jsonb_array_elements(a.holds) h
    join ledger_pending p on p.id = (h->>'transferId')::uuid where a.id = ${id} order by p.id`.execute(db);
  return r.rows.map((x) => x.state);
}

export async function saleRow(db: Db, id: string) {
  const r = await sql<Record<string, any>>`select * from sales where id = ${id}`.execute(db);
  return r.rows[0]!;
}
