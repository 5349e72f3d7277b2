import { sql } from 'kysely';
import type { Actor, Db, Executor, FieldCipher } from '../platform/index.js';
import { audit, pgErrorCode, PgCode, randomToken } from '../platform/index.js';
import { systemAccount } from '../ledger/index.js';
import { stationsError } from './stations.errors.js';
import { openingHoursProblem, type OpeningHours } from './opening-hours.js';
import { pricesChanged } from './price-check.js';

export const STATION_SERVICES = ['store', 'car_wash', 'toilet', 'ev_charging', 'air', 'restaurant', 'atm', 'lpg'] as const;
export type StationService = (typeof STATION_SERVICES)[number];

export interface Station {
  id: number;
  code: string;
  name: string;
  address: string;
  lat: number;
  lng: number;
  province: string;
  city: string;
  district: string;
  phone: string | null;
  openingHours: OpeningHours;
  services: StationService[];
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

/** Services in the catalogue's order, each once, whatever order the operator sent them in. */
const SERVICE_ORDER = (list: readonly string[]): StationService[] => STATION_SERVICES.filter((s) => list.includes(s));

type StationRow = {
  id: number;
  code: string;
  name: string;
  address: string;
  lat: number;
  lng: number;
  province: string;
  city: string;
  district: string;
  phone: string | null;
  opening_hours: OpeningHours;
  services: StationService[];
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
  province: r.province,
  city: r.city,
  district: r.district,
  phone: r.phone,
  openingHours: r.opening_hours,
  services: SERVICE_ORDER(r.services),
  status: r.status,
  settlementAccountId: r.settlement_account_id,
  createdAt: r.created_at.toISOString(),
});


/** What an operator can set on a station besides its code. */
export interface StationProfile {
  name: string;
  address: string;
  lat: number;
  lng: number;
  province: string;
  city: string;
  district: string;
  phone: string | null;
  openingHours: OpeningHours;
  services: StationService[];
  status: 'active' | 'closed';
}

function checkHours(hours: OpeningHours | undefined, prefix: string): void {
  if (hours === undefined) return;
  const problem = openingHoursProblem(hours);
  if (problem) throw stationsError('OPENING_HOURS_INVALID', { field: `${prefix}.${problem.field}`, reason: problem.reason });
}

/** An opening-hours value as stored: windows sorted by day and time, so equal schedules compare equal. */
function normaliseHours(hours: OpeningHours): OpeningHours {
  if (hours.always) return { always: true };
  const weekly = [...hours.weekly].map((w) => ({ day: w.day, open: w.open, close: w.close })).sort((a, b) => a.day - b.day || a.open.localeCompare(b.open));
  return { always: false, weekly };
}

export async function createStation(
  db: Db,
  actor: Actor,
  input: { code: string; name: string; address: string; lat: number; lng: number } & Partial<Omit<StationProfile, 'name' | 'address' | 'lat' | 'lng' | 'status'>>,
): Promise<Station> {
  checkHours(input.openingHours, 'body');
  const hours = normaliseHours(input.openingHours ?? { always: true });
  return db.transaction().execute(async (trx) => {
    const exists = await sql`select 1 from stations where code = ${input.code}`.execute(trx);
    if (exists.rows.length > 0) throw stationsError('STATION_CODE_TAKEN', { field: 'code' });
    const settlement = await systemAccount(trx, 'station_settlement', input.code, `油站结算 ${input.name}`);
    try {
      const r = await sql<StationRow>`insert into stations (code, name, address, lat, lng, settlement_account_id, province, city, district, phone, opening_hours, services)
        values (${input.code}, ${input.name}, ${input.address}, ${input.lat}, ${input.lng}, ${settlement.id},
          ${input.province ?? ''}, ${input.city ?? ''}, ${input.district ?? ''}, ${input.phone ?? null}, ${JSON.stringify(hours)}::jsonb,
          ${SERVICE_ORDER(input.services ?? [])}::text[]) returning *`.execute(trx);
      const station = toStation(r.rows[0]!);
      await audit(trx, actor, { action: 'station.create', targetType: 'station', targetId: station.id, details: { code: input.code } });
      return station;
    } catch (err) {
      if (pgErrorCode(err) === PgCode.uniqueViolation) throw stationsError('STATION_CODE_TAKEN', { field: 'code' });
      throw err;
    }
  });
}

/**
 * Edits a station's profile (only the fields given). Audited with the fields that changed, before
 * and after. A changed province moves the station to that province's price list at once.
 */
export async function updateStation(db: Db, actor: Actor, id: number, patch: Partial<StationProfile>): Promise<Station> {
  checkHours(patch.openingHours, 'body');
  const station = await db.transaction().execute(async (trx) => {
    const cur = await sql<StationRow>`select * from stations where id = ${id} for no key update`.execute(trx);
    if (!cur.rows[0]) throw stationsError('STATION_NOT_FOUND', { stationId: id });
    const before = toStation(cur.rows[0]);
    const next: StationProfile = {
      name: patch.name ?? before.name,
      address: patch.address ?? before.address,
      lat: patch.lat ?? before.lat,
      lng: patch.lng ?? before.lng,
      province: patch.province ?? before.province,
      city: patch.city ?? before.city,
      district: patch.district ?? before.district,
      phone: patch.phone !== undefined ? patch.phone : before.phone,
      openingHours: patch.openingHours ? normaliseHours(patch.openingHours) : before.openingHours,
      services: patch.services ? SERVICE_ORDER(patch.services) : before.services,
      status: patch.status ?? before.status,
    };
    const changed = (Object.keys(next) as Array<keyof StationProfile>).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(before[k]));
    if (changed.length === 0) return before;
    const r = await sql<StationRow>`update stations set name = ${next.name}, address = ${next.address}, lat = ${next.lat}, lng = ${next.lng},
        province = ${next.province}, city = ${next.city}, district = ${next.district}, phone = ${next.phone},
        opening_hours = ${JSON.stringify(next.openingHours)}::jsonb, services = ${next.services}::text[], status = ${next.status}
      where id = ${id} returning *`.execute(trx);
    await audit(trx, actor, {
      action: 'station.update',
      targetType: 'station',
      targetId: id,
      details: { before: Object.fromEntries(changed.map((k) => [k, before[k]])), after: Object.fromEntries(changed.map((k) => [k, next[k]])) },
    });
    return toStation(r.rows[0]!);
  });
  // The province decides which price list applies: the sale path's price cache must read again.
  pricesChanged();
  return station;
}

export async function getStation(db: Executor, id: number): Promise<Station> {
  const r = await sql<StationRow>`select * from stations where id = ${id}`.execute(db);
  const row = r.rows[0];
  if (!row) throw stationsError('STATION_NOT_FOUND', { stationId: id });
  return toStation(row);
}

export interface StationFilter {
  limit: number;
  offset: number;
  province?: string;
  city?: string;
  status?: 'active' | 'closed';
  /** Part of the code, name or address. */
  q?: string;
}

export async function listStations(db: Executor, opts: StationFilter): Promise<{ items: Station[]; total: number }> {
  const like = opts.q !== undefined && opts.q !== '' ? `%${opts.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  const where = sql`(${opts.province ?? null}::text is null or province = ${opts.province ?? null})
    and (${opts.city ?? null}::text is null or city = ${opts.city ?? null})
    and (${opts.status ?? null}::text is null or status = ${opts.status ?? null})
    and (${like}::text is null or code ilike ${like} or name ilike ${like} or address ilike ${like})`;
  const r = await sql<StationRow>`select * from stations where ${where} order by id limit ${opts.limit} offset ${opts.offset}`.execute(db);
  const t = await sql<{ n: number }>`select count(*)::int n from stations where ${where}`.execute(db);
  return { items: r.rows.map(toStation), total: t.rows[0]?.n ?? 0 };
}

/** The provinces and cities the network has stations in (for filters and the province price list), with station counts. */
export async function listRegions(db: Executor): Promise<Array<{ province: string; stations: number; cities: Array<{ city: string; stations: number }> }>> {
  const r = await sql<{ province: string; city: string; n: number }>`select province, city, count(*)::int n from stations
    where province <> '' group by province, city order by province, city limit 2000`.execute(db);
  const out: Array<{ province: string; stations: number; cities: Array<{ city: string; stations: number }> }> = [];
  for (const row of r.rows) {
    let p = out.at(-1);
    if (!p || p.province !== row.province) {
      p = { province: row.province, stations: 0, cities: [] };
      out.push(p);
    }
    p.stations += row.n;
    if (row.city !== '') p.cities.push({ city: row.city, stations: row.n });
  }
  return out;
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
