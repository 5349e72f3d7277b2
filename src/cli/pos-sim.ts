import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CliUsageError } from './args.js';
import { parsePosSimArgs, type PosSimArgs, type Scenario } from './pos-sim-args.js';
import { RouteMissing, Sim, SimFailure, type PosSimIo } from './pos-sim-core.js';
import { postpayScenario, preauthScenario, prepayScenario, reversalScenario, saleScenario, voidScenario } from './pos-sim-flows.js';
import { Journal } from './pos-sim-journal.js';
import { loadScenario } from './pos-sim-load.js';
import { offlineScenario } from './pos-sim-offline.js';
import { shiftCloseScenario } from './pos-sim-shift.js';
import { TerminalClient, TerminalUnreachable } from './terminal-client.js';

export type { PosSimIo } from './pos-sim-core.js';

/**
 * `fuelcard pos-sim`: a forecourt terminal in the command line. It signs its requests as a real
 * terminal does (docs/terminals.md), runs the forecourt's flows against a server and tells what
 * happened. Exit codes: 0 the scenario ended as it should, 1 it did not (a decline where an
 * approval was expected, a refusal, an unreachable server), 2 bad arguments.
 */

export const POS_SIM_HELP = `  pos-sim --url <base> --terminal <id> (--secret-env VAR | --secret-stdin) <scenario> [options]
                                  终端模拟器 / terminal simulator (docs/pos-sim.md); scenarios:
                                  sale | preauth | prepay | postpay | reversal | void | offline | shift-close | demo
                                  | load --clients N --duration S;  --card <no> --pin <pin>, --json for machines
  pos-sim --iso8583 --terminal <iso id> (--tmk <hex> | --tmk-env VAR) --tak <enc>[:kcv] [--port 8583] <scenario>
                                  ISO 8583 terminal (docs/pos-sim.md): signon | sale-flow | prepay | reversal | postpay
                                  | offline | reconcile | all | load --clients N --seconds S;  --card --pin/--pin-env --nozzle --amount`;

const DEMO_ORDER: Array<{ scenario: Exclude<Scenario, 'demo' | 'load'>; zh: string; en: string }> = [
  { scenario: 'sale', zh: '顾客加油后刷卡付款', en: 'a customer fills up and pays by card' },
  { scenario: 'preauth', zh: '户外支付终端：插卡先冻结，加完按实际金额扣款', en: 'outdoor terminal: hold first, post what was delivered' },
  { scenario: 'prepay', zh: '预付定额：油枪加到定额自动停止', en: 'prepay: the pump stops at the preset' },
  { scenario: 'postpay', zh: '先加油，到便利店一并结账', en: 'fill first, pay indoors with store goods' },
  { scenario: 'reversal', zh: '网络超时后的冲正', en: 'reversals after a timeout' },
  { scenario: 'void', zh: '收银员撤销本班交易', en: 'the cashier voids a sale of this shift' },
  { scenario: 'offline', zh: '断网脱机受理，恢复后批量上送', en: 'offline approvals, uploaded when the network is back' },
  { scenario: 'shift-close', zh: '交班对账', en: 'shift close and reconciliation' },
];

async function runScenario(sim: Sim, a: PosSimArgs, scenario: Exclude<Scenario, 'demo'>): Promise<void> {
  switch (scenario) {
    case 'sale':
      return saleScenario(sim, { amount: a.amount, items: a.items });
    case 'preauth':
      return preauthScenario(sim, { amount: a.amount, deliver: a.deliver });
    case 'prepay':
      return prepayScenario(sim, { amount: a.amount, deliver: a.deliver });
    case 'postpay':
      return postpayScenario(sim, { amount: a.amount, items: a.items });
    case 'reversal':
      return reversalScenario(sim, { amount: a.amount });
    case 'void':
      return voidScenario(sim, { amount: a.amount, cashier: a.cashier });
    case 'offline':
      return offlineScenario(sim, { count: a.count, amount: a.amount, hotCard: a.hotCard, batchSize: a.batchSize });
    case 'shift-close':
      return shiftCloseScenario(sim, { cashier: a.cashier, endOfDay: a.endOfDay, miscount: a.miscount });
    case 'load':
      await loadScenario(sim, { clients: a.clients, durationS: a.durationS, cards: a.cards });
  }
}

/** Every scenario in order; one the server does not offer yet is skipped and said so. */
async function runDemo(sim: Sim, a: PosSimArgs): Promise<{ skipped: string[]; failed: string[] }> {
  const skipped: string[] = [];
  const failed: string[] = [];
  for (const [i, act] of DEMO_ORDER.entries()) {
    sim.say(`\n### 第 ${i + 1} 幕 / act ${i + 1}: ${act.zh} / ${act.en}`);
    const before = sim.steps.length;
    try {
      await runScenario(sim, { ...a, amount: undefined }, act.scenario);
      if (sim.steps.slice(before).some((s) => !s.ok)) failed.push(act.scenario);
    } catch (err) {
      if (err instanceof RouteMissing) {
        sim.say(`  — 跳过：服务器未提供 ${err.route} / skipped: the server has no ${err.route}`);
        sim.record({ step: act.scenario, ok: true, skipped: true, route: err.route });
        skipped.push(act.scenario);
        continue;
      }
      if (!(err instanceof SimFailure)) throw err;
      sim.say(`  ✗ [${err.code}] ${err.zh} / ${err.en}`);
      sim.record({ step: act.scenario, ok: false, code: err.code, message: err.message });
      failed.push(act.scenario);
    }
  }
  sim.say(`\n演示结束 / end of the demo: ${DEMO_ORDER.length - skipped.length - failed.length} 幕完成 done${skipped.length ? `，跳过 skipped ${skipped.join(', ')}` : ''}${failed.length ? `，未成功 failed ${failed.join(', ')}` : ''}`);
  return { skipped, failed };
}

async function readSecret(a: PosSimArgs, io: PosSimIo): Promise<string> {
  const secret = 'env' in a.secret ? io.env[a.secret.env] : (await io.readStdin()).trim();
  if (secret === undefined || secret === '') {
    throw new CliUsageError(
      'CLI_USAGE',
      'env' in a.secret ? `环境变量 ${a.secret.env} 未设置或为空` : '标准输入没有终端密钥',
      'env' in a.secret ? `environment variable ${a.secret.env} is not set or empty` : 'no terminal secret on standard input',
    );
  }
  return secret;
}

/** Check the secret and the clock first; a clock off by more than the skew is corrected once. */
export async function signOn(sim: Sim): Promise<{ stationId: number }> {
  let r = await sim.client.get('/api/v1/pos/ping');
  if (r.error?.code === 'TERMINAL_TIMESTAMP_SKEW' && r.error.details?.serverTime) {
    const raw = r.error.details.serverTime;
    const server = typeof raw === 'number' || /^\d+$/.test(String(raw)) ? Number(raw) * 1000 : Date.parse(String(raw));
    if (Number.isFinite(server)) {
      const before = sim.client.clockOffsetS;
      sim.client.clockOffsetS = Math.round((server - Date.now()) / 1000);
      const off = before - sim.client.clockOffsetS;
      sim.say(`  终端时钟偏差 ${off} s，已按服务器时间校正 / clock off by ${off} s: using the server's time`);
      r = await sim.client.get('/api/v1/pos/ping');
    }
  }
  if (r.error) {
    throw new SimFailure(r.error.code, `终端签到失败（HTTP ${r.status}）：${r.error.message}`, `the terminal could not sign on (HTTP ${r.status}): ${r.error.message}`, r.error.details);
  }
  const t = r.body.serverTime;
  const serverTime = typeof t === 'number' || /^\d+$/.test(String(t)) ? new Date(Number(t) * 1000).toISOString() : String(t);
  sim.say(`终端 terminal ${r.body.terminalId} · 油站 station ${r.body.stationId} · 服务器时间 server time ${serverTime} · ${sim.client.baseUrl}`);
  return { stationId: Number(r.body.stationId) };
}

export async function runPosSim(argv: readonly string[], io: PosSimIo): Promise<number> {
  if (argv.includes('--iso8583')) return (await import('./pos-sim-iso.js')).runPosSimIso(argv, io);
  let args: PosSimArgs;
  let sim: Sim | undefined;
  const fail = (code: string, zh: string, en: string, exit: number): number => {
    io.stderr(`fuelcard pos-sim: [${code}] ${zh} / ${en}\n`);
    if (exit === 2) io.stderr('运行 fuelcard help 查看用法 / run `fuelcard help` for usage; see docs/pos-sim.md\n');
    if (sim?.opts.json) io.stdout(JSON.stringify({ ok: false, error: { code, message: `${zh} / ${en}` }, steps: sim.steps }, null, 2) + '\n');
    return exit;
  };
  try {
    args = parsePosSimArgs(argv);
    const secret = await readSecret(args, io);
    const client = new TerminalClient({ baseUrl: args.url, terminalId: args.terminalId, secret, timeoutMs: args.timeoutMs });
    const journalDir = args.journal ?? Journal.defaultDir(args.terminalId);
    const journal = new Journal(journalDir, args.terminalId);
    sim = new Sim(io, client, { cardNo: args.cards[0] ?? '', pin: args.pin, nozzle: args.nozzle, json: args.json }, journal);
    const { stationId } = await signOn(sim);
    let demo: { skipped: string[]; failed: string[] } | undefined;
    if (args.scenario === 'demo') demo = await runDemo(sim, args);
    else await runScenario(sim, args, args.scenario);
    const ok = sim.steps.length > 0 && sim.steps.every((s) => s.ok);
    if (args.json) {
      io.stdout(JSON.stringify({ scenario: args.scenario, terminalId: args.terminalId, stationId, ok, ...(demo ?? {}), journal: journal.file, steps: sim.steps }, null, 2) + '\n');
    } else {
      io.stdout(ok ? '\n结果 / result: ✓ 符合预期 / as expected\n' : `\n结果 / result: ✗ 未达预期 / not as expected (${sim.steps.filter((s) => !s.ok).map((s) => s.step).join(', ')})\n`);
    }
    return ok ? 0 : 1;
  } catch (err) {
    if (err instanceof CliUsageError) return fail(err.code, err.zh, err.en, 2);
    if (err instanceof TerminalUnreachable) {
      return fail('CLI_SERVER_UNREACHABLE', `无法连接服务器 ${err.url}：${err.reason}`, `cannot reach the server ${err.url}: ${err.reason}`, 1);
    }
    if (err instanceof SimFailure) return fail(err.code, err.zh, err.en, 1);
    return fail('CLI_FAILED', `失败：${err instanceof Error ? err.message : String(err)}`, `failed: ${err instanceof Error ? err.message : String(err)}`, 1);
  }
}

/** The process's own streams, for the `fuelcard` command. */
export function processIo(signal?: AbortSignal): PosSimIo {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
    signal,
    async readStdin() {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
    },
  };
}

/** A throwaway journal directory (tests, one-off runs). */
export const tempJournalDir = (): string => mkdtempSync(path.join(tmpdir(), 'fuelcard-pos-sim-'));
