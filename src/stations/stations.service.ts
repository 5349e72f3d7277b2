import { sql } from 'kysely';
import type { Actor, Db, Executor, FieldCipher } from '../platform/index.js';
import { audit, pgErrorCode, PgCode, randomToken } from '../platform/index.js';
import { systemAccount } from '../ledger/index.js';
import { stationsError } from './stations.errors.js';

export interface Station {
  id: number;
  code: string;
  name: string;
  address: string;
  lat: number;
  lng: number;
  status: 'active' | 'closed';
  settlementAccountId: number;
  createdAt: string;
}

export interface Terminal {
  terminalId: string;
  stationId: number;
  status: 'active' | 'disabled';
  createdAt: string;
  lastSeenAt: string | null;
}

type StationRow = {
  id: number;
  code: string;
  name: string;
  address: string;
  lat: number;
  lng: number;
  status: 'active' | 'closed';
  settlement_account_id: number;
  created_at: Date;
};

const toStation = (r: StationRow): Station => ({
  id: r.id,
  code: r.code,
  name: r.name,
  address: r.address,
  lat: r.lat,
  lng: r.lng,
  status: r.status,
  settlementAccountId: r.settlement_account_id,
  createdAt: r.created_at.toISOString(),
});

export async function createStation(
  db: Db,
  actor: Actor,
  input: { code: string; name: string; address: string; lat: number; lng: number },
): Promise<Station> {
  return db.transaction().execute(async (trx) => {
    const exists = await sql`select 1 from stations where code = ${input.code}`.execute(trx);
    if (exists.rows.length > 0) throw stationsError('STATION_CODE_TAKEN', { field: 'code' });
    const settlement = await systemAccount(trx, 'station_settlement', input.code, `油站结算 ${input.name}`);
    try {
      const r = await sql<StationRow>`insert into stations (code, name, address, lat, lng, settlement_account_id)
        values (${input.code}, ${input.name}, ${input.address}, ${input.lat}, ${input.lng}, ${settlement.id}) returning *`.execute(trx);
      const station = toStation(r.rows[0]!);
      await audit(trx, actor, { action: 'station.create', targetType: 'station', targetId: station.id, details: { code: input.code } });
      return station;
    } catch (err) {
      if (pgErrorCode(err) === PgCode.uniqueViolation) throw stationsError('STATION_CODE_TAKEN', { field: 'code' });
      throw err;
    }
  });
}

export async function getStation(db: Executor, id: number): Promise<Station> {
  const r = await sql<StationRow>`select * from stations where id = ${id}`.execute(db);
  const row = r.rows[0];
  if (!row) throw stationsError('STATION_NOT_FOUND', { stationId: id });
  return toStation(row);
}

export async function listStations(db: Executor, opts: { limit: number; offset: number }): Promise<{ items: Station[]; total: number }> {
  const r = await sql<StationRow>`select * from stations order by id limit ${opts.limit} offset ${opts.offset}`.execute(db);
  const t = await sql<{ n: number }>`select count(*)::int n from stations`.execute(db);
  return { items: r.rows.map(toStation), total: t.rows[0]?.n ?? 0 };
}

/** Registers a terminal; its secret is returned this once and kept only encrypted. */
export async function registerTerminal(db: Db, cipher: FieldCipher, actor: Actor, stationId: number): Promise<Terminal & { secret: string }> {
  return db.transaction().execute(async (trx) => {
    const station = await getStation(trx, stationId);
    if (station.status !== 'active') throw stationsError('STATION_CLOSED', { stationId });
    const secret = randomToken(32);
    const r = await sql<{ id: string; created_at: Date }>`insert into terminals (id, station_id, secret_enc)
      values ('T' || lpad(nextval('terminal_no_seq')::text, 8, '0'), ${stationId}, ${cipher.encrypt(secret)})
      returning id, created_at`.execute(trx);
    const row = r.rows[0]!;
    await audit(trx, actor, { action: 'terminal.register', targetType: 'terminal', targetId: row.id, details: { stationId } });
    return { terminalId: row.id, stationId, status: 'active', createdAt: row.created_at.toISOString(), lastSeenAt: null, secret };
  });
}

export async function listTerminals(db: Executor, stationId: number): Promise<Terminal[]> {
  await getStation(db, stationId);
  const r = await sql<{ id: string; station_id: number; status: 'active' | 'disabled'; created_at: Date; last_seen_at: Date | null }>`
    select id, station_id, status, created_at, last_seen_at from terminals where station_id = ${stationId} order by id`.execute(db);
  return r.rows.map((t) => ({
    terminalId: t.id,
    stationId: t.station_id,
    status: t.status,
    createdAt: t.created_at.toISOString(),
    lastSeenAt: t.last_seen_at?.toISOString() ?? null,
  }));
}

export async function setTerminalStatus(db: Db, actor: Actor, terminalId: string, status: 'active' | 'disabled'): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const r = await sql`update terminals set status = ${status} where id = ${terminalId} returning id`.execute(trx);
    if (r.rows.length === 0) throw stationsError('TERMINAL_NOT_FOUND', { terminalId });
    await audit(trx, actor, { action: status === 'active' ? 'terminal.enable' : 'terminal.disable', targetType: 'terminal', targetId: terminalId });
  });
}
