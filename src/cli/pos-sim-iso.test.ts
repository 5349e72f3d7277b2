/**
 * `fuelcard pos-sim --iso8583` in process against the terminal host as `npm start` runs it: the key
 * ceremony through the staff API, then the simulator keyed from exactly what the installer got.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerVerified, getCard, issueCard, newStation, ok, PIN } from '../../test/support/cards-factory.js';
import { newForecourt } from '../sales/authorisations.testkit.js';
import { startPosGateway, type PosGateway } from '../pos-gateway/index.js';
import { REPEAT_RULES, silenceRisk } from '../sales/sale-risk.testkit.js';
import { runPosSim, type PosSimIo } from './pos-sim.js';

let server: TestServer;
let gw: PosGateway;
beforeAll(async () => {
  server = await startTestServer();
  gw = await startPosGateway({ db: server.deps.db, config: server.config, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await gw?.stop();
  await server?.close();
});

function captureIo(env: Record<string, string> = {}): PosSimIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    env,
    readStdin: () => Promise.resolve(''),
  };
  return io;
}

interface Ceremony {
  isoTerminalId: string;
  tmk: { components: Array<{ hex: string }> };
  initialMacKey: { encryptedUnderTmk: string; kcv: string };
}

async function ceremony(algorithm: string, macAlgorithm: string, opts: { nozzles?: boolean } = {}): Promise<Ceremony> {
  // The sale scenarios need nozzles (1–8, 92# on 1, 3, 5–8); sign-on alone does not.
  const terminal = opts.nozzles ? (await newForecourt(server)).terminal : (await newStation(server)).terminal;
  return ok(
    await server.api('POST', `/api/v1/terminals/${terminal.terminalId}/iso-keys`, { body: { algorithm, macAlgorithm, pinFormat: algorithm === 'tdes' ? 0 : 4 } }),
    200,
    'key ceremony',
  ) as Ceremony;
}

const base = (c: Ceremony): string[] => ['--iso8583', '--host', '127.0.0.1', '--port', String(gw.port), '--terminal', c.isoTerminalId];

describe('pos-sim --iso8583 signon', () => {
  it('tdes, binary2, TMK as the two components: sign on, echo, key change, echo, sign off', async () => {
    const c = await ceremony('tdes', 'retail-tdes-pad2');
    const io = captureIo();
    const code = await runPosSim(
      [...base(c), '--tmk', `${c.tmk.components[0]!.hex}+${c.tmk.components[1]!.hex}`, '--tak', `${c.initialMacKey.encryptedUnderTmk}:${c.initialMacKey.kcv}`, 'signon'],
      io,
    );
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(io.out).toMatch(/签到 signed on：800 {2}TAK v2 /);
    expect(io.out).toMatch(/换密钥 keys changed：800 {2}TAK v3 /);
    expect(io.out.match(/1830 800/g)).toHaveLength(2);
    expect(io.out).toContain('签退 signed off：800');
  });

  it('sm4, ascii4, TMK from the environment, XORed beforehand', async () => {
    const c = await ceremony('sm4', 'sm4-cmac');
    const [a, b] = c.tmk.components.map((p) => Buffer.from(p.hex, 'hex')) as [Buffer, Buffer];
    const tmk = Buffer.from(a.map((x, i) => x ^ b[i]!)).toString('hex');
    const io = captureIo({ ISO_TMK: tmk });
    const code = await runPosSim([...base(c), '--tmk-env', 'ISO_TMK', '--tak', c.initialMacKey.encryptedUnderTmk, '--algorithm', 'sm4', '--framing', 'ascii4'], io);
    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(io.out).toContain('sm4/sm4-cmac');
  });

  it('a wrong TMK without the KCV: the host answers 916 and the run exits 1', async () => {
    const c = await ceremony('tdes', 'retail-tdes-pad2');
    const io = captureIo();
    const code = await runPosSim([...base(c), '--tmk', c.tmk.components[0]!.hex, '--tak', c.initialMacKey.encryptedUnderTmk], io);
    expect(code).toBe(1);
    expect(io.err).toMatch(/\[ISO_HOST_DECLINED\] .*应答码 916.*action 916 MAC incorrect/);
    expect(io.out).toContain('未达预期');
  });

  it('a wrong TMK with the KCV: refused before anything is sent', async () => {
    const c = await ceremony('tdes', 'retail-tdes-pad2');
    const io = captureIo();
    const code = await runPosSim([...base(c), '--tmk', c.tmk.components[1]!.hex, '--tak', `${c.initialMacKey.encryptedUnderTmk}:${c.initialMacKey.kcv}`], io);
    expect(code).toBe(1);
    expect(io.err).toContain('[ISO_KCV_MISMATCH]');
    expect(io.out).not.toContain('签到 signed on');
  });

  it('bad arguments exit 2 before connecting', async () => {
    const io = captureIo();
    expect(await runPosSim(['--iso8583', '--host', '127.0.0.1', '--terminal', 'T00000001', '--tmk', '00', '--tak', '00'], io)).toBe(2);
    expect(io.err).toContain('[CLI_USAGE]');
    const io2 = captureIo();
    expect(await runPosSim(['--iso8583', '--host', '127.0.0.1', '--terminal', '00000001', '--tmk', '00', '--tak', '00', '--mac-algorithm', 'aes-cmac'], io2)).toBe(2);
    expect(io2.err).toContain('aes-cmac');
  });
});

/** The keyed forecourt terminal's options for the sale scenarios (TDES, the TMK as its two components). */
async function saleTerminal(): Promise<string[]> {
  const c = await ceremony('tdes', 'retail-tdes-pad2', { nozzles: true });
  return [
    ...base(c),
    '--tmk',
    `${c.tmk.components[0]!.hex}+${c.tmk.components[1]!.hex}`,
    '--tak',
    `${c.initialMacKey.encryptedUnderTmk}:${c.initialMacKey.kcv}`,
    '--time-zone',
    server.config.timeZone,
  ];
}

const balanceOf = async (cardNo: string): Promise<number> => (await getCard(server, cardNo)).balance;
/** "debited in all: ¥1,234.56" → fen. */
const debitedIn = (out: string): number => {
  const m = /debited in all: ¥([0-9,]+\.[0-9]{2})/.exec(out);
  if (!m) throw new Error(`no total in:\n${out}`);
  return Math.round(Number(m[1]!.replace(/,/g, '')) * 100);
};

describe('pos-sim --iso8583 sale scenarios', () => {
  it('all: sign-on, pre-auth + completion, prepay, reversal, post-pay, offline upload, reconciliation; the money moved is what the sim says', async () => {
    const args = await saleTerminal();
    const { cardNo } = await issueCard(server, { funds: 200_000 });
    const before = await balanceOf(cardNo);
    const io = captureIo({ CARD_PIN: PIN });
    const code = await runPosSim([...args, 'all', '--card', cardNo, '--pin-env', 'CARD_PIN', '--count', '2'], io);
    expect(io.err).toBe('');
    expect(code, io.out).toBe(0);
    // One line per answer, each checked: the MTIs of every flow, action codes with their meanings, MACs.
    for (const line of [/1110 STAN \d{6} · 000 approved · DE 4 ¥300\.00 · DE 38 \w{6} · 余额 balance ¥/, /1230 STAN \d{6} · 000 approved · DE 4 ¥240\.00/, /1430 STAN \d{6} · 400 reversal accepted/, /1210 STAN \d{6} · 000 approved · DE 4 ¥120\.00/]) {
      expect(io.out).toMatch(line);
    }
    expect(io.out.match(/1230 STAN \d{6} · 000 approved/g)?.length).toBe(2 + 2 + 1); // 2 completions, 2 offline advices, the 1221 repeat
    expect(io.out).toMatch(/1530 STAN \d{6} · 500 reconciled, in balance[^\n]*\n[\s\S]*1530 STAN \d{6} · 500 reconciled, in balance/);
    expect(io.out).not.toMatch(/MAC ✗|无 MAC/);
    // 240.00 + 200.00 (prepay) + 120.00 (post-pay) + 2 × 50.00 (offline)
    expect(debitedIn(io.out)).toBe(66_000);
    expect(before - (await balanceOf(cardNo))).toBe(66_000);
    const terminalId = `T${args[args.indexOf('--terminal') + 1]}`;
    const closed = await sql<{ n: number }>`select count(*)::int as n from terminal_shifts where terminal_id = ${terminalId} and closed_at is not null`.execute(server.deps.db);
    expect(closed.rows[0]!.n).toBe(1);
    await expectLedgerVerified(server);
  });

  it('load: 2 connections for 2 seconds, pre-auths reversed and completed in turn, only approvals and 400s', async () => {
    const args = await saleTerminal();
    const cards = [(await issueCard(server, { funds: 10_000_000 })).cardNo, (await issueCard(server, { funds: 10_000_000 })).cardNo];
    // Hundreds of pre-auths on two cards in two seconds is load, not fraud: the repeat-counting risk rules are silenced for them.
    for (const c of cards) await silenceRisk(server, c, [...REPEAT_RULES, 'period_amount']);
    const before = (await balanceOf(cards[0]!)) + (await balanceOf(cards[1]!));
    const io = captureIo();
    const code = await runPosSim([...args, 'load', '--card', cards.join(','), '--pin', PIN, '--clients', '2', '--seconds', '2', '--nozzle', '5', '--amount', '2000'], io);
    expect(io.err).toBe('');
    expect(code, io.out).toBe(0);
    const codes = [...io.out.matchAll(/(1[1-4][13]0 \d{3}) [a-z ,]+ ×(\d+)/g)].map((m) => m[1]);
    expect(codes).toContain('1110 000');
    expect(codes.every((c) => ['1110 000', '1110 002', '1430 400', '1230 000'].includes(c!))).toBe(true);
    const debited = /扣款 debited ¥([0-9,]+\.[0-9]{2})/.exec(io.out)!;
    expect(before - ((await balanceOf(cards[0]!)) + (await balanceOf(cards[1]!)))).toBe(Math.round(Number(debited[1]!.replace(/,/g, '')) * 100));
    await expectLedgerVerified(server);
  });

  it('a wrong PIN: the 1110 decline is shown with its meaning, the run exits 1, nothing held', async () => {
    const args = await saleTerminal();
    const { cardNo } = await issueCard(server, { funds: 50_000 });
    const io = captureIo();
    const code = await runPosSim([...args, 'sale-flow', '--card', cardNo, '--pin', '654321'], io);
    expect(code).toBe(1);
    expect(io.out).toMatch(/✗ 1110 STAN \d{6} · 117 incorrect PIN/);
    expect(io.err).toMatch(/\[ISO_HOST_DECLINED\] .*应答码 117.*action 117 incorrect PIN/);
    expect(io.out).toContain('未达预期');
    expect(await balanceOf(cardNo)).toBe(50_000);
    await expectLedgerVerified(server);
  });

  it('scenario options are checked before connecting', async () => {
    const io = captureIo();
    expect(await runPosSim(['--iso8583', '--host', '127.0.0.1', '--terminal', '00000001', '--tmk', '00', '--tak', '00', 'signon', '--card', '9000016144730152666'], io)).toBe(2);
    expect(io.err).toContain('does not take --card');
    const io2 = captureIo();
    expect(await runPosSim(['--iso8583', '--host', '127.0.0.1', '--terminal', '00000001', '--tmk', '00', '--tak', '00', 'sale-flow', '--card', '9000016144730152666'], io2)).toBe(2);
    expect(io2.err).toContain('needs --pin or --pin-env');
    const io3 = captureIo();
    expect(await runPosSim(['--iso8583', '--host', '127.0.0.1', '--terminal', '00000001', '--tmk', '00', '--tak', '00', 'load', '--card', '9000016144730152666', '--pin', '1234', '--clients', '3', '--nozzle', '1,2'], io3)).toBe(2);
    expect(io3.err).toContain('3 clients need 3 nozzles');
  });
});
