/**
 * `npm run bench -- finder` (or `npx tsx bench/finder.ts`): the public station finder on a
 * network of 30 000 stations. Seeds its own database (stations clustered around cities, nozzles,
 * tanks with readings for a share of them, national / province / station prices, promotions),
 * starts the real server in its own process, and measures GET /api/v1/finder/stations and
 * POST /api/v1/finder/along over HTTP: p50/p95/p99 latency and requests per second, closed loop.
 * See bench/README.md ("Station finder").
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createBenchDatabase, type BenchDatabase } from './lib/database.js';
import { REPO_ROOT, startServer, type RunningServer } from './lib/server.js';
import { percentile } from './lib/http-load.js';
import { Api } from './lib/setup.js';

const log = (msg: string) => process.stderr.write(`${msg}\n`);

function intEnv(name: string, dflt: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}, got "${raw}"`);
  return n;
}

/** A deterministic generator, so two runs seed the same network. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where the stations are: around these cities (lat, lng, province), denser near the centre, like a real network. */
const CITIES: Array<[number, number, string]> = [
  [31.23, 121.47, '上海市'], [39.9, 116.4, '北京市'], [23.13, 113.26, '广东省'], [22.54, 114.06, '广东省'], [30.27, 120.15, '浙江省'],
  [32.06, 118.8, '江苏省'], [31.3, 120.58, '江苏省'], [30.59, 114.3, '湖北省'], [30.57, 104.07, '四川省'], [29.56, 106.55, '重庆市'],
  [34.34, 108.94, '陕西省'], [36.07, 120.38, '山东省'], [36.65, 117.12, '山东省'], [38.04, 114.51, '河北省'], [34.75, 113.62, '河南省'],
  [28.23, 112.94, '湖南省'], [26.07, 119.3, '福建省'], [24.48, 118.09, '福建省'], [25.04, 102.71, '云南省'], [26.65, 106.63, '贵州省'],
  [22.82, 108.37, '广西壮族自治区'], [28.68, 115.86, '江西省'], [31.82, 117.23, '安徽省'], [41.8, 123.43, '辽宁省'], [38.91, 121.61, '辽宁省'],
  [43.82, 125.32, '吉林省'], [45.8, 126.53, '黑龙江省'], [37.87, 112.55, '山西省'], [40.84, 111.75, '内蒙古自治区'], [36.06, 103.83, '甘肃省'],
  [43.83, 87.62, '新疆维吾尔自治区'], [20.04, 110.34, '海南省'], [38.49, 106.23, '宁夏回族自治区'], [36.62, 101.78, '青海省'], [29.65, 91.14, '西藏自治区'],
];
const SERVICES = ['store', 'car_wash', 'toilet', 'ev_charging', 'air', 'restaurant', 'atm', 'lpg'];
const GRADES = ['92#', '95#', '98#', '0#', '-10#'];

interface Seeded {
  stations: number;
  nozzles: number;
  tanks: number;
  readings: number;
  prices: number;
  promotions: number;
  seconds: number;
}

/** Seeds the network straight into the database (the API would take minutes for 30 000 stations; the finder only reads). */
async function seed(client: pg.Client, count: number, tankShare: number): Promise<Seeded> {
  const t0 = Date.now();
  const r = rng(20261128);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const codes: string[] = [];
  const names: string[] = [];
  const lats: number[] = [];
  const lngs: number[] = [];
  const provinces: string[] = [];
  const services: string[] = [];
  const hours: string[] = [];
  for (let i = 0; i < count; i++) {
    const [clat, clng, province] = CITIES[Math.floor(r() * r() * CITIES.length)]!;
    // Half within ~15 km of the centre, the rest spread along roads out to ~150 km.
    const spreadKm = r() < 0.5 ? 15 : 80;
    lats.push(Math.max(-89, Math.min(89, clat + (gauss() * spreadKm) / 111)));
    lngs.push(clng + (gauss() * spreadKm) / (111 * Math.cos((clat * Math.PI) / 180)));
    codes.push(`BF${String(i).padStart(6, '0')}`);
    names.push(`寻站压测 ${i}`);
    provinces.push(province);
    services.push(`{${SERVICES.filter(() => r() < 0.35).join(',')}}`);
    hours.push(r() < 0.8 ? '{"always": true}' : JSON.stringify({ always: false, weekly: [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day, open: '06:00', close: '22:00' })) }));
  }
  await client.query('begin');
  const accounts = await client.query<{ id: string }>(
    `insert into ledger_accounts (kind, name, system_key) select 'station_settlement', '油站结算 ' || c, 'station_settlement:' || c from unnest($1::text[]) as c returning id`,
    [codes],
  );
  const ids = await client.query<{ id: string }>(
    `insert into stations (code, name, address, lat, lng, province, city, district, services, opening_hours, settlement_account_id)
     select c, n, '压测路 ' || ord || ' 号', la, lo, p, p, '', s::text[], h::jsonb, a
     from unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::text[], $6::text[], $7::text[], $8::bigint[]) with ordinality as t(c, n, la, lo, p, s, h, a, ord)
     order by ord returning id`,
    [codes, names, lats, lngs, provinces, services, hours, accounts.rows.map((a) => a.id)],
  );
  const stationIds = ids.rows.map((x) => Number(x.id));
  // Three or four nozzles each: 92#, 95#, 0#, and 98# at a third of them.
  const nozzles = await client.query(
    `insert into station_nozzles (station_id, nozzle, grade)
     select s, n, g from unnest($1::bigint[]) as s, (values (1, '92#'), (2, '95#'), (3, '0#')) as v(n, g)
     union all select s, 4, '98#' from unnest($1::bigint[]) as s where s % 3 = 0`,
    [stationIds],
  );
  const gauged = stationIds.filter((_, i) => i % 100 < tankShare);
  const tanks = await client.query(
    `insert into station_tanks (station_id, tank, grade, capacity_ml, low_level_ml)
     select s, n, g, 30000000, 4000000 from unnest($1::bigint[]) as s, (values (1, '92#'), (2, '95#'), (3, '0#')) as v(n, g)`,
    [gauged],
  );
  // Two readings per tank; one tank in ten is low (shows as out of stock).
  const readings = await client.query(
    `insert into tank_readings (station_id, tank, grade, volume_ml, read_at)
     select t.station_id, t.tank, t.grade, case when (t.station_id + t.tank) % 10 = 0 then 2000000 else 18000000 end, now() - make_interval(hours => h)
     from station_tanks t, (values (2), (26)) as v(h)`,
  );
  let prices = 0;
  for (const [i, g] of GRADES.entries()) {
    await client.query(`insert into fuel_prices (grade, unit_price, effective_from, created_by) values ($1, $2, now() - interval '10 days', 'bench')`, [g, 780 + i * 40]);
    prices += 1;
  }
  const provinceList = [...new Set(CITIES.map((c) => c[2]))];
  const prov = await client.query(
    `insert into fuel_prices (grade, province, unit_price, effective_from, created_by)
     select g, p, 770 + (ascii(p) % 30), now() - interval '5 days', 'bench' from unnest($1::text[]) as p, unnest(array['92#', '95#']) as g`,
    [provinceList],
  );
  prices += prov.rowCount ?? 0;
  // A station's own price at one in ten, with a superseded older one (history the query must skip).
  const own = await client.query(
    `insert into fuel_prices (grade, station_id, unit_price, effective_from, created_by)
     select '92#', s, 760 + (s % 40), now() - make_interval(days => d), 'bench' from unnest($1::bigint[]) as s, (values (1), (3)) as v(d) where s % 10 = 0`,
    [stationIds],
  );
  prices += own.rowCount ?? 0;
  const promos = await client.query(
    `insert into station_promotions (station_id, province, title_zh, title_en, grade, starts_at, ends_at, created_by)
     select s, null, '本站立减', 'Money off here', '95#', now() - interval '1 day', now() + interval '10 days', 'bench' from unnest($1::bigint[]) as s where s % 25 = 0
     union all select null, p, '本省会员日', 'Province members'' day', null, now() - interval '1 day', now() + interval '10 days', 'bench' from unnest($2::text[]) as p
     union all select null, null, '全国洗车优惠', 'Car wash offer', null, now() - interval '1 day', now() + interval '10 days', 'bench'`,
    [stationIds, provinceList],
  );
  await client.query('commit');
  await client.query('analyze');
  return {
    stations: stationIds.length,
    nozzles: nozzles.rowCount ?? 0,
    tanks: tanks.rowCount ?? 0,
    readings: readings.rowCount ?? 0,
    prices,
    promotions: promos.rowCount ?? 0,
    seconds: (Date.now() - t0) / 1000,
  };
}

interface Workload {
  name: string;
  describe: string;
  request: () => { method: 'GET' | 'POST'; path: string; body?: string };
}

function workloads(): Workload[] {
  const r = rng(7);
  const nearCity = () => {
    const [lat, lng] = CITIES[Math.floor(r() * CITIES.length)]!;
    return { lat: +(lat + (r() - 0.5) * 0.3).toFixed(5), lng: +(lng + (r() - 0.5) * 0.3).toFixed(5) };
  };
  return [
    {
      name: 'nearest-20',
      describe: 'GET /api/v1/finder/stations?lat&lng (radius 10 km, limit 20) around a random city',
      request: () => {
        const p = nearCity();
        return { method: 'GET', path: `/api/v1/finder/stations?lat=${p.lat}&lng=${p.lng}` };
      },
    },
    {
      name: 'filtered',
      describe: 'the same with grade=95#, service=store, openNow=true, radius 20 km',
      request: () => {
        const p = nearCity();
        return { method: 'GET', path: `/api/v1/finder/stations?lat=${p.lat}&lng=${p.lng}&radiusKm=20&grade=95%23&service=store&openNow=true` };
      },
    },
    {
      name: 'along-100km',
      describe: 'POST /api/v1/finder/along: a 100 km route of 20 points out of a city, corridor 2 km, limit 20',
      request: () => {
        const p = nearCity();
        const heading = r() * 2 * Math.PI;
        const pathPts = Array.from({ length: 20 }, (_, i) => ({
          lat: +(p.lat + ((Math.sin(heading) * 100) / 111) * (i / 19)).toFixed(5),
          lng: +(p.lng + ((Math.cos(heading) * 100) / (111 * Math.cos((p.lat * Math.PI) / 180))) * (i / 19)).toFixed(5),
        }));
        return { method: 'POST', path: '/api/v1/finder/along', body: JSON.stringify({ path: pathPts }) };
      },
    },
  ];
}

interface CellResult {
  workload: string;
  clients: number;
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  avgItems: number;
}

async function runCell(baseUrl: string, w: Workload, clients: number, seconds: number): Promise<CellResult> {
  const latencies: number[] = [];
  let errors = 0;
  let items = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const req = w.request();
        const t = performance.now();
        try {
          const res = await fetch(baseUrl + req.path, {
            method: req.method,
            headers: req.body ? { 'content-type': 'application/json' } : {},
            body: req.body,
            signal: AbortSignal.timeout(15_000),
          });
          const body = (await res.json()) as { items?: unknown[] };
          if (res.status !== 200) errors += 1;
          else {
            latencies.push(performance.now() - t);
            items += body.items?.length ?? 0;
          }
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    workload: w.name,
    clients,
    requests: latencies.length,
    errors,
    perSecond: latencies.length / elapsed,
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    avgItems: latencies.length ? items / latencies.length : 0,
  };
}

/** Does the finder's box search read the (lat, lng) index? Printed with the results, so a plan regression shows. */
async function explainNearest(client: pg.Client): Promise<string> {
  const plan = await client.query<{ 'QUERY PLAN': string }>(
    `explain (analyze, buffers off, timing off, summary on)
     select s.id from unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[]) as b(lat1, lat2, lng1, lng2)
     join stations s on s.status = 'active' and s.lat between b.lat1 and b.lat2 and s.lng between b.lng1 and b.lng2`,
    [[31.14], [31.32], [121.365], [121.575]],
  );
  return plan.rows.map((x) => x['QUERY PLAN']).join('\n');
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const header = '| workload | clients | requests | req/s | p50 ms | p95 ms | p99 ms | stations per answer | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|';
const row = (c: CellResult) => `| ${c.workload} | ${c.clients} | ${c.requests} | ${fmt(c.perSecond, 0)} | ${fmt(c.p50)} | ${fmt(c.p95)} | ${fmt(c.p99)} | ${fmt(c.avgItems)} | ${c.errors} |`;

export async function runFinderBench(): Promise<number> {
  const stationCount = intEnv('BENCH_FINDER_STATIONS', 30_000, 100, 500_000);
  const tankShare = intEnv('BENCH_FINDER_TANK_PERCENT', 60, 0, 100);
  const seconds = intEnv('BENCH_SECONDS', 10, 1, 3600);
  const warmup = intEnv('BENCH_WARMUP_SECONDS', 2, 0, 600);
  const clientCounts = (process.env.BENCH_CLIENTS || '1,8').split(',').map((c) => {
    if (!/^\d+$/.test(c.trim()) || Number(c) < 1 || Number(c) > 256) throw new Error(`BENCH_CLIENTS entries must be integers 1..256, got "${c}"`);
    return Number(c);
  });
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fuelcard-finder-bench-'));
  let db: BenchDatabase | null = null;
  let server: RunningServer | null = null;
  let client: pg.Client | null = null;
  let failed = false;
  const started = new Date();
  try {
    db = await createBenchDatabase({ keep: process.env.BENCH_KEEP_DB === '1' });
    log(`finder bench: database: ${db.description}`);
    const adminPassword = randomBytes(18).toString('base64url');
    server = await startServer({ databaseUrl: db.url, adminPassword, logLevel: process.env.BENCH_SERVER_LOG_LEVEL || 'warn', poolSize: 16, logFile: path.join(workDir, 'server.log') });
    // The server applied the migrations; logging in proves it is the real one, ready.
    await new Api(server.baseUrl).login('admin', adminPassword);
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const seeded = await seed(client, stationCount, tankShare);
    log(`finder bench: seeded ${seeded.stations} stations, ${seeded.nozzles} nozzles, ${seeded.tanks} tanks, ${seeded.readings} readings, ${seeded.prices} prices, ${seeded.promotions} promotions in ${seeded.seconds.toFixed(1)} s`);
    const plan = await explainNearest(client);
    const usesIndex = /stations_lat_lng/.test(plan);
    log(`finder bench: box search ${usesIndex ? 'uses' : 'DOES NOT use'} stations_lat_lng`);

    const cells: CellResult[] = [];
    process.stdout.write(`\n${header}\n`);
    for (const w of workloads()) {
      for (const clients of clientCounts) {
        if (warmup > 0) await runCell(server.baseUrl, w, clients, warmup);
        const cell = await runCell(server.baseUrl, w, clients, seconds);
        cells.push(cell);
        process.stdout.write(`${row(cell)}\n`);
      }
    }
    const cmd = [
      ...['DATABASE_URL', 'BENCH_SECONDS', 'BENCH_WARMUP_SECONDS', 'BENCH_CLIENTS', 'BENCH_FINDER_STATIONS', 'BENCH_FINDER_TANK_PERCENT'].filter((k) => process.env[k]).map((k) => (k === 'DATABASE_URL' ? 'DATABASE_URL=…' : `${k}=${process.env[k]}`)),
      'npm run bench -- finder',
    ].join(' ');
    const cpus = os.cpus();
    const md = [
      '# Station finder benchmark — latest run',
      '',
      `- When: ${started.toISOString()}; command: \`${cmd}\``,
      `- Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'CPU'}, Node ${process.version}; load average (1 min) ${os.loadavg()[0]!.toFixed(2)} at end`,
      `- Database: ${db.description}`,
      `- Network: ${seeded.stations} active stations around ${CITIES.length} cities; ${seeded.nozzles} nozzles, ${seeded.tanks} tanks (${tankShare} % of stations gauged), ${seeded.readings} readings, ${seeded.prices} price rows (national, province, station), ${seeded.promotions} promotions`,
      `- Server: src/main.ts in its own process; closed loop, one request in flight per client, ${warmup} s warm-up then ${seconds} s per cell`,
      `- Box search on stations_lat_lng: ${usesIndex ? 'yes' : 'NO'}`,
      '',
      ...workloads().map((w) => `- ${w.name}: ${w.describe}`),
      '',
      header,
      ...cells.map(row),
      '',
      'Plan of the box search (10 km around People’s Square, Shanghai):',
      '',
      '```',
      plan,
      '```',
      '',
    ].join('\n');
    const dir = path.join(REPO_ROOT, 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'finder-latest.md'), md);
    log(`finder bench: written ${path.relative(process.cwd(), path.join(dir, 'finder-latest.md'))}`);
    const errors = cells.reduce((s, c) => s + c.errors, 0);
    if (errors > 0 || !usesIndex) failed = true;
    return failed ? 1 : 0;
  } catch (err) {
    failed = true;
    log(`finder bench: failed: ${err instanceof Error ? err.message : String(err)}`);
    if (server) log(`finder bench: server log kept in ${server.logFile}`);
    return 1;
  } finally {
    await client?.end().catch(() => {});
    await server?.stop().catch((e: unknown) => log(`finder bench: stopping the server failed: ${String(e)}`));
    await db?.drop().catch((e: unknown) => log(`finder bench: dropping the database failed: ${String(e)}`));
    if (!failed) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFinderBench().then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`finder bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
