import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { balanceOf, expectLedgerOk, newCard, newStation, PIN, type Terminal } from '../../test/support/fuel.js';
import { runPosSim, signOn, type PosSimIo } from './pos-sim.js';
import { Sim } from './pos-sim-core.js';
import { Journal } from './pos-sim-journal.js';
import { signTerminal, TerminalClient } from './terminal-client.js';

/**
 * The simulator end to end: runPosSim in process against the real server, with a station,
 * terminal and cards made through the API. A scenario whose route is not on this server is
 * skipped here (the route list says which), so the file tracks the forecourt as it lands.
 */
let server: TestServer;
let terminal: Terminal;
let stationId: number;
let journalRoot: string;

const PRICE_92 = 800;

beforeAll(async () => {
  server = await startTestServer();
  const st = await newStation(server);
  terminal = st.terminal;
  stationId = st.stationId;
  const nozzles = await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { body: { items: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '92#' }, { nozzle: 3, grade: '95#' }] } });
  expect(nozzles.status).toBe(200);
  for (const [grade, unitPrice] of [['92#', PRICE_92], ['95#', 850]] as const) {
    expect((await server.api('POST', '/api/v1/prices', { body: { grade, unitPrice, stationId } })).status).toBe(201);
  }
  journalRoot = mkdtempSync(path.join(tmpdir(), 'pos-sim-test-'));
});
afterAll(async () => {
  await server?.close();
  if (journalRoot) rmSync(journalRoot, { recursive: true, force: true });
});
afterEach(async () => expectLedgerOk(server));

const hasRoute = (method: string, url: string) => server.routes.some((r) => r.method === method && r.url === url);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

let journals = 0;
async function sim(args: string[], opts: { stdin?: string; env?: Record<string, string>; journal?: string } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: PosSimIo = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: opts.env ?? { SIM_SECRET: terminal.secret },
    readStdin: async () => opts.stdin ?? '',
  };
  const journal = opts.journal ?? path.join(journalRoot, `j${++journals}`);
  const code = await runPosSim(['--url', server.baseUrl, '--terminal', terminal.terminalId, '--secret-env', 'SIM_SECRET', '--journal', journal, ...args], io);
  let json: any = null;
  if (args.includes('--json')) json = JSON.parse(stdout);
  return { code, stdout, stderr, json };
}

const BILINGUAL = /\[CLI_USAGE\] .*[\u4e00-\u9fff].* \/ [A-Za-z-]/;

describe('arguments', () => {
  it('refuses bad arguments with exit 2 and a bilingual message, before any request', async () => {
    const cases: string[][] = [
      [],
      ['frobnicate'],
      ['sale'], // no --card
      ['sale', '--card', '9000016144730152666'], // no --pin
      ['sale', '--card', 'abc', '--pin', PIN],
      ['sale', '--card', '9000016144730152666', '--pin', PIN, '--deliver', '100'], // not an option of sale
      ['sale', '--card', '9000016144730152666', '--pin', PIN, '--amount', 'lots'],
      ['sale', '--card', '9000016144730152666', '--pin', PIN, '--items', 'COKE:0'],
      ['load', '--card', '9000016144730152666', '--pin', PIN, '--clients', '0'],
      ['offline', '--card', '9000016144730152666', '--pin', PIN, '--batch-size', '201'],
      ['sale', 'extra', '--card', '9000016144730152666', '--pin', PIN],
      ['sale', '--card', '1,2', '--pin', PIN], // several cards: load only
    ];
    for (const args of cases) {
      const r = await sim(args);
      expect(r.code, JSON.stringify(args)).toBe(2);
      expect(r.stderr, JSON.stringify(args)).toMatch(BILINGUAL);
      expect(r.stdout).toBe('');
    }
  });

  it('refuses a missing URL, a bad terminal id, and a secret it cannot read', async () => {
    const io = (env: Record<string, string> = {}) => {
      const out = { stderr: '' };
      return { out, io: { stdout: () => {}, stderr: (t: string) => void (out.stderr += t), env, readStdin: async () => '' } satisfies PosSimIo };
    };
    const a = io();
    expect(await runPosSim(['--terminal', terminal.terminalId, '--secret-env', 'X', 'shift-close'], a.io)).toBe(2);
    expect(a.out.stderr).toContain('--url');
    const b = io();
    expect(await runPosSim(['--url', server.baseUrl, '--terminal', 'X1', '--secret-env', 'X', 'shift-close'], b.io)).toBe(2);
    expect(b.out.stderr).toMatch(BILINGUAL);
    const c = io();
    expect(await runPosSim(['--url', server.baseUrl, '--terminal', terminal.terminalId, '--secret-env', 'NOT_SET', 'shift-close'], c.io)).toBe(2);
    expect(c.out.stderr).toContain('NOT_SET');
    const d = io();
    expect(await runPosSim(['--url', server.baseUrl, '--terminal', terminal.terminalId, '--secret-stdin', 'shift-close'], d.io)).toBe(2);
    expect(d.out.stderr).toMatch(/standard input/);
  });
});

describe('signing', () => {
  it('signs as docs/terminals.md says: the worked example, and the same bytes as the test signer', () => {
    const secret = 'q8mVt1pZrA3xK0cN5wYd7LbE2hFjU9sG4oTiRkW6eHM';
    const body = '{"cardNo":"9000016144730152666","pin":"123456","grade":"92#","volumeMl":30000,"unitPrice":750,"amount":22500,"nozzle":3}';
    const at = { timestamp: '1767225600', nonce: 'Zt3pQ9vLx2Wm7kDa' };
    expect(signTerminal({ secret, method: 'POST', target: '/api/v1/pos/sales', body, ...at }).signature).toBe('af6c25666938531bfe200e2e82e2a4ec9092fc215f1d8a94bd9d402bc4c90b42');
    expect(signTerminal({ secret, method: 'GET', target: '/api/v1/pos/ping', body: '', ...at }).signature).toBe('bf6f0de0e98fb0fe78686989ca2c6e593606391cc4ad3dab713ad8764271f5d7');
    const theirs = signTerminalRequest({ terminalId: 'T00000001', secret }, 'GET', '/api/v1/pos/hotlist?since=5', '', { timestamp: 1767225600, nonce: at.nonce });
    expect(signTerminal({ secret, method: 'GET', target: '/api/v1/pos/hotlist?since=5', body: '', ...at }).signature).toBe(theirs['x-signature']);
  });

  it('corrects a terminal clock that is off by more than the skew, once, from the server time', async () => {
    const client = new TerminalClient({ baseUrl: server.baseUrl, terminalId: terminal.terminalId, secret: terminal.secret, clockOffsetS: -3_600 });
    expect((await client.get('/api/v1/pos/ping')).error?.code).toBe('TERMINAL_TIMESTAMP_SKEW');
    let said = '';
    const io: PosSimIo = { stdout: (t) => void (said += t), stderr: () => {}, env: {}, readStdin: async () => '' };
    const s = new Sim(io, client, { cardNo: '', pin: '', json: false }, new Journal(path.join(journalRoot, 'clock'), terminal.terminalId));
    expect(await signOn(s)).toEqual({ stationId });
    expect(Math.abs(client.clockOffsetS)).toBeLessThanOrEqual(2);
    expect(said).toMatch(/clock off by -3\d{3} s/);
  });
});

describe('the fuelcard command', () => {
  const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/fuelcard.js');
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end();
    });

  it('lists pos-sim in help and runs it: a sale through the real command', async () => {
    const help = await run(['help']);
    expect(help.stdout).toContain('pos-sim --url <base> --terminal <id>');
    const bad = await run(['pos-sim', 'sale']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(BILINGUAL);
    const cardNo = await newCard(server, { funds: 5_000 });
    const ok = await run(
      ['pos-sim', '--url', server.baseUrl, '--terminal', terminal.terminalId, '--secret-env', 'SIM_SECRET', '--journal', path.join(journalRoot, 'bin'), 'sale', '--card', cardNo, '--pin', PIN, '--amount', '1000'],
      { SIM_SECRET: terminal.secret, LOG_LEVEL: 'silent' },
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('✓ 批准 / approved');
    expect(await balanceOf(server, cardNo)).toBe(4_000);
  });
});

describe('server problems', () => {
  it('says clearly when the server cannot be reached (exit 1)', async () => {
    let stderr = '';
    const code = await runPosSim(
      ['--url', 'http://127.0.0.1:1', '--terminal', terminal.terminalId, '--secret-env', 'S', '--journal', path.join(journalRoot, 'unreachable'), 'sale', '--card', '9000016144730152666', '--pin', PIN],
      { stdout: () => {}, stderr: (t) => void (stderr += t), env: { S: 'x' }, readStdin: async () => '' },
    );
    expect(code).toBe(1);
    expect(stderr).toMatch(/\[CLI_SERVER_UNREACHABLE\] 无法连接服务器 http:\/\/127\.0\.0\.1:1.* \/ cannot reach the server/);
  });

  it('prints the server code when the terminal secret is wrong', async () => {
    const r = await sim(['shift-close'], { env: { SIM_SECRET: 'not-the-secret' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[TERMINAL_SIGNATURE_INVALID]');
  });

  it('reads the secret from stdin as well', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    let stdout = '';
    const code = await runPosSim(
      ['--url', server.baseUrl, '--terminal', terminal.terminalId, '--secret-stdin', '--journal', path.join(journalRoot, 'stdin'), 'sale', '--card', cardNo, '--pin', PIN, '--amount', '1000'],
      { stdout: (t) => void (stdout += t), stderr: () => {}, env: {}, readStdin: async () => `${terminal.secret}\n` },
    );
    expect(code).toBe(0);
    expect(stdout).toContain('approved');
  });
});

describe('sale', () => {
  it('sells on the first priced nozzle, at the price in force, and journals the approval', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const journal = path.join(journalRoot, 'sale');
    const r = await sim(['sale', '--card', cardNo, '--pin', PIN, '--amount', '20000'], { journal });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/批准 \/ approved/);
    expect(r.stdout).toContain('¥8.00/L × 25.00 L = ¥200.00');
    expect(await balanceOf(server, cardNo)).toBe(30_000);
    const lines = readFileSync(path.join(journal, `journal-${terminal.terminalId}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({ type: 'sale', flow: 'online', amount: 20_000 })]);
  });

  it('--json gives one machine-readable document; a decline exits 1 with its code', async () => {
    const cardNo = await newCard(server, { funds: 1_000 });
    const r = await sim(['sale', '--card', cardNo, '--pin', PIN, '--amount', '5000', '--nozzle', '3', '--json']);
    expect(r.code).toBe(1);
    expect(r.json).toMatchObject({ scenario: 'sale', ok: false, stationId, steps: [{ step: 'sale', ok: false, status: 'declined', declineCode: 'INSUFFICIENT_FUNDS' }] });
    expect(await balanceOf(server, cardNo)).toBe(1_000);
  });

  it('refuses a nozzle the station does not have (exit 1, nothing sold)', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const r = await sim(['sale', '--card', cardNo, '--pin', PIN, '--nozzle', '9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('[CLI_NOZZLE_UNKNOWN]');
    expect(await balanceOf(server, cardNo)).toBe(10_000);
  });
});

describe('pump flows (when the server has them)', () => {
  it('preauth: holds, completes for less, releases the rest', async (ctx) => {
    if (!hasRoute('POST', '/api/v1/pos/authorisations')) return ctx.skip();
    const cardNo = await newCard(server, { funds: 100_000 });
    const r = await sim(['preauth', '--card', cardNo, '--pin', PIN, '--amount', '30000', '--deliver', '12000', '--json']);
    expect(r.code, r.stderr + JSON.stringify(r.json)).toBe(0);
    const completion = r.json.steps.find((s: any) => s.step === 'completion');
    expect(completion).toMatchObject({ ok: true, posted: 12_000, released: 18_000 });
    expect(await balanceOf(server, cardNo)).toBe(88_000);
  });

  it('prepay: the preset is held and the delivered amount posted', async (ctx) => {
    if (!hasRoute('POST', '/api/v1/pos/authorisations')) return ctx.skip();
    const cardNo = await newCard(server, { funds: 50_000 });
    const r = await sim(['prepay', '--card', cardNo, '--pin', PIN, '--amount', '20000', '--json']);
    expect(r.code, r.stderr + JSON.stringify(r.json)).toBe(0);
    expect(r.json.steps.find((s: any) => s.step === 'prepay')).toMatchObject({ heldAmount: 20_000, mode: 'prepay' });
    expect(await balanceOf(server, cardNo)).toBe(30_000);
  });

  it('postpay: the pump reports an unpaid fill, the customer pays it at the counter', async (ctx) => {
    if (!hasRoute('POST', '/api/v1/pos/pump-sales')) return ctx.skip();
    const cardNo = await newCard(server, { funds: 50_000 });
    // With a store catalogue, the customer also buys the first item in it.
    let goods = 0;
    if (hasRoute('POST', '/api/v1/goods')) {
      const cat = await server.api('POST', '/api/v1/goods-categories', { body: { code: 'DRINKS', nameZh: '饮料', nameEn: 'Drinks' } });
      expect(cat.status, JSON.stringify(cat.body)).toBe(201);
      const g = await server.api('POST', '/api/v1/goods', { body: { sku: 'WATER550', categoryId: cat.body.id, nameZh: '矿泉水', nameEn: 'Water 550 ml', unitPrice: 300 } });
      expect(g.status, JSON.stringify(g.body)).toBe(201);
      goods = 300;
    }
    const r = await sim(['postpay', '--card', cardNo, '--pin', PIN, '--amount', '16000', '--json']);
    expect(r.code, r.stderr + JSON.stringify(r.json)).toBe(0);
    const paid = r.json.steps.find((s: any) => s.step === 'postpay');
    expect(paid).toMatchObject({ ok: true, status: 'approved', amount: 16_000 + goods, goodsAmount: goods });
    expect(await balanceOf(server, cardNo)).toBe(50_000 - 16_000 - goods);

    // An explicit item list is priced from the catalogue too; an unknown SKU stops before any request.
    const unknown = await sim(['sale', '--card', cardNo, '--pin', PIN, '--amount', '1000', '--items', 'NOPE:1']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('[CLI_GOODS_UNKNOWN]');
  });
});

describe('reversal and void (when the server has them)', () => {
  it('reversal: sent before the original, the late original is declined; an approved sale is given back once', async (ctx) => {
    if (!hasRoute('POST', '/api/v1/pos/reversals')) return ctx.skip();
    const cardNo = await newCard(server, { funds: 20_000 });
    const r = await sim(['reversal', '--card', cardNo, '--pin', PIN, '--amount', '4000', '--json']);
    expect(r.code, r.stderr + JSON.stringify(r.json)).toBe(0);
    expect(r.json.steps.find((s: any) => s.step === 'late-original')).toMatchObject({ status: 'declined', declineCode: 'ALREADY_REVERSED' });
    expect(r.json.steps.find((s: any) => s.step === 'reversal')).toMatchObject({ status: 'reversed', amount: 4_000 });
    if (hasRoute('POST', '/api/v1/pos/authorisations')) expect(r.json.steps.find((s: any) => s.step === 'reversal-hold')).toMatchObject({ target: 'authorisation', amount: 4_000 });
    expect(await balanceOf(server, cardNo)).toBe(20_000);
    expect((await server.api('GET', `/api/v1/cards/${cardNo}`)).body.available ?? 20_000).toBe(20_000);
  });

  it('void: the cashier cancels a sale of the open shift', async (ctx) => {
    if (!hasRoute('POST', '/api/v1/pos/sales/:saleId/void')) return ctx.skip();
    const cardNo = await newCard(server, { funds: 20_000 });
    const r = await sim(['void', '--card', cardNo, '--pin', PIN, '--amount', '3000', '--json']);
    expect(r.code, r.stderr + JSON.stringify(r.json)).toBe(0);
    expect(r.json.steps.find((s: any) => s.step === 'void')).toMatchObject({ status: 'voided', amount: 3_000 });
    expect(await balanceOf(server, cardNo)).toBe(20_000);
  });
});
