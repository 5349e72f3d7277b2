import { CliUsageError, usage } from './args.js';
import { parsePosSimIsoArgs, parseTmk, type PosSimIsoArgs } from './pos-sim-iso-args.js';
import type { PosSimIo } from './pos-sim-core.js';
import { posCrypto, posHost } from '../pos-gateway/index.js';
import { IsoLink, IsoSimFailure, IsoTerminalState } from './pos-sim-iso-terminal.js';
import { debitedTotal, emptyTally, offline, postpay, prepay, reconcile, reversal, saleFlow, yuan, type FlowContext, type SaleParams } from './pos-sim-iso-flows.js';
import { EXPECTED_LOAD_ACTIONS, runIsoLoad } from './pos-sim-iso-load.js';

export { IsoSimFailure } from './pos-sim-iso-terminal.js';

/**
 * `fuelcard pos-sim --iso8583`: a PIN pad talking ISO 8583 to the terminal host (docs/pos-sim.md).
 * It holds clear keys, as the pad's secure memory does; it is a test and installation tool.
 * Every scenario signs on first (the session keys come with the 1814) and signs off at the end.
 */

function initialTak(a: PosSimIsoArgs, tmk: Buffer): Buffer {
  try {
    if (a.tak.kcv) return posCrypto.unwrapKeyChecked(a.algorithm, tmk, a.algorithm, a.tak.encrypted, a.tak.kcv, 'ecb');
    const key = posCrypto.unwrapKey(a.algorithm, tmk, a.tak.encrypted, 'ecb');
    if (!posCrypto.validKeyLengths(a.algorithm).includes(key.length)) throw usage(`--tak 解密后 ${key.length} 字节，不是 ${a.algorithm} 密钥`, `--tak unwraps to ${key.length} bytes, not a ${a.algorithm} key`);
    return key;
  } catch (e) {
    if (posCrypto.isPosCryptoError(e) && e.code === 'KCV_MISMATCH') {
      throw new IsoSimFailure('ISO_KCV_MISMATCH', '初始 MAC 密钥校验值不符：TMK 或 --tak 不对', 'the initial MAC key fails its check value: wrong TMK or --tak');
    }
    if (posCrypto.isPosCryptoError(e)) throw usage(`--tak 无效：${e.message}`, `--tak is invalid: ${e.message}`);
    throw e;
  }
}

async function signOnSteps(link: IsoLink, say: (l: string) => void, full: boolean): Promise<void> {
  const keys = async (fc: string, label: string): Promise<void> => {
    const k = await link.deliverKeys(fc);
    say(`  ✓ ${label}：800  TAK v${k.takVersion} KCV ${k.takKcv} · TPK v${k.tpkVersion} KCV ${k.tpkKcv} · 应答 MAC 正确 / answer MAC ok (${Math.round(k.ms)} ms)`);
  };
  const echo = async (): Promise<void> => {
    const a = IsoLink.expect(await link.send('1820', [[24, posHost.NETWORK_FUNCTION.echo]]), '1820/831', [posHost.ACTION.networkAccepted]);
    say(`  ✓ 回响 echo 1820/831 → 1830 800 · MAC v${link.t.takVersion} 正确 / ok (${Math.round(a.ms)} ms)`);
  };
  say('→ 签到 / sign on 1804/801');
  await keys(posHost.NETWORK_FUNCTION.signOn, '签到 signed on');
  if (!full) return;
  say('→ 回响 / echo');
  await echo();
  say('→ 换密钥 / key change 1804/811');
  await keys(posHost.NETWORK_FUNCTION.keyChange, '换密钥 keys changed');
  say('→ 回响 / echo');
  await echo();
}

async function signOff(link: IsoLink, say: (l: string) => void): Promise<void> {
  say('\n→ 签退 / sign off 1804/802');
  const off = IsoLink.expect(await link.send('1804', [[24, posHost.NETWORK_FUNCTION.signOff]]), '1804/802', [posHost.ACTION.networkAccepted]);
  say(`  ✓ 签退 signed off：800 (${Math.round(off.ms)} ms)`);
}

function pinOf(a: PosSimIsoArgs, io: PosSimIo): string | null {
  if (a.pin === null) return null;
  if ('text' in a.pin) return a.pin.text;
  const v = io.env[a.pin.env];
  if (!v) throw usage(`环境变量 ${a.pin.env} 未设置或为空`, `environment variable ${a.pin.env} is not set or empty`);
  if (!/^[0-9]{4,12}$/.test(v)) throw usage(`${a.pin.env} 中的 PIN 须为 4–12 位数字`, `the PIN in ${a.pin.env} must be 4–12 digits`);
  return v;
}

export async function runPosSimIso(argv: readonly string[], io: PosSimIo): Promise<number> {
  const fail = (code: string, zh: string, en: string, exit: number): number => {
    io.stderr(`fuelcard pos-sim: [${code}] ${zh} / ${en}\n`);
    if (exit === 2) io.stderr('运行 fuelcard help 查看用法 / run `fuelcard help` for usage; see docs/pos-sim.md\n');
    return exit;
  };
  let link: IsoLink | undefined;
  const say = (line: string): void => io.stdout(`${line}\n`);
  try {
    const a = parsePosSimIsoArgs(argv);
    const tmkText = 'hex' in a.tmk ? a.tmk.hex : io.env[a.tmk.env];
    if (!tmkText) throw usage(`环境变量 ${'env' in a.tmk ? a.tmk.env : ''} 未设置或为空`, `environment variable ${'env' in a.tmk ? a.tmk.env : ''} is not set or empty`);
    const tmk = parseTmk(tmkText, a.algorithm);
    const pin = pinOf(a, io);
    const tak = initialTak(a, tmk);
    const t = new IsoTerminalState({ isoTerminalId: a.isoTerminalId, algorithm: a.algorithm, macAlgorithm: a.macAlgorithm, timeZone: a.timeZone, timeoutMs: a.timeoutMs }, tmk, tak);
    link = await IsoLink.open(t, a.host, a.port, a.framing);
    say(`ISO 8583 终端 terminal ${a.isoTerminalId} · ${a.algorithm}/${a.macAlgorithm} · ${a.framing} · tcp://${a.host}:${a.port}`);
    await signOnSteps(link, say, a.scenario === 'signon' || a.scenario === 'all');

    if (a.scenario === 'load') return await load(a, t, pin!, link, say, io);

    const p: SaleParams = { card: a.cards[0] ?? null, pin, nozzle: a.nozzles[0]!, pump: a.pump, product: a.product, unitPrice: a.unitPrice, amount: a.amount, count: a.count };
    const c: FlowContext = { link, reconnect: () => IsoLink.open(t, a.host, a.port, a.framing), p, tally: emptyTally(), say };
    const run = async (): Promise<void> => {
      switch (a.scenario) {
        case 'signon':
          return;
        case 'sale-flow':
          return saleFlow(c);
        case 'prepay':
          return prepay(c);
        case 'reversal':
          return reversal(c);
        case 'postpay':
          return postpay(c);
        case 'offline':
          return offline(c);
        case 'reconcile':
          return reconcile(c, false);
        case 'all':
          // --amount means something different to each flow: `all` uses each one's default.
          await saleFlow(c);
          await prepay(c);
          await reversal(c);
          await postpay(c);
          await offline(c);
          return reconcile(c, true);
      }
    };
    try {
      await run();
    } finally {
      // The offline upload may have replaced the connection.
      link = c.link;
    }
    await signOff(link, say);
    if (a.scenario !== 'signon' && a.scenario !== 'reconcile') {
      const d = debitedTotal(c.tally);
      say(`\n本次扣款合计 / debited in all: ${yuan(d.amount)} (${d.count} 笔 sales)`);
    }
    say('\n结果 / result: ✓ 符合预期 / as expected');
    return 0;
  } catch (err) {
    if (err instanceof CliUsageError) return fail(err.code, err.zh, err.en, 2);
    if (err instanceof IsoSimFailure) {
      io.stdout('\n结果 / result: ✗ 未达预期 / not as expected\n');
      return fail(err.code, err.zh, err.en, err.code === 'CLI_USAGE' ? 2 : 1);
    }
    const m = err instanceof Error ? err.message : String(err);
    return fail('CLI_FAILED', `失败：${m}`, `failed: ${m}`, 1);
  } finally {
    link?.close();
  }
}

async function load(a: PosSimIsoArgs, t: IsoTerminalState, pin: string, link: IsoLink, say: (l: string) => void, io: PosSimIo): Promise<number> {
  void io;
  say(`\n== 压测 / load: ${a.clients} 连接 connections × ${a.seconds} s，油枪 nozzles ${a.nozzles.slice(0, a.clients).join(',')}，1100 + 1420/1220 闭环 closed loop ==`);
  const r = await runIsoLoad({
    host: a.host,
    port: a.port,
    framing: a.framing,
    terminals: [t],
    clients: a.clients,
    seconds: a.seconds,
    cards: a.cards,
    pin,
    nozzles: a.nozzles,
    amount: a.amount ?? 10_000,
    unitPrice: a.unitPrice,
    product: a.product,
    second: 'alternate',
  });
  say(`  授权 authorisations: ${r.authorisations}（批准 approved ${r.approved}）in ${r.seconds.toFixed(1)} s = ${r.perSecond.toFixed(1)}/s`);
  say(`  1100 延迟 latency: p50 ${r.p50Ms.toFixed(1)} ms · p99 ${r.p99Ms.toFixed(1)} ms · max ${r.maxMs.toFixed(1)} ms`);
  say(`  应答码 action codes: ${Object.entries(r.actions).sort().map(([k, n]) => `${k} ${posMeaning(k)} ×${n}`).join(' · ')}`);
  say(`  结算 completions: ${r.completions}，扣款 debited ${yuan(r.debited)}`);
  if (r.errors > 0) say(`  错误 errors: ${JSON.stringify(r.errorsByKind)}`);
  await signOff(link, say);
  const unexpected = Object.keys(r.actions).filter((k) => !EXPECTED_LOAD_ACTIONS.has(k));
  if (r.errors > 0 || unexpected.length > 0 || r.authorisations === 0) {
    throw new IsoSimFailure(
      'ISO_LOAD_UNEXPECTED',
      `压测中出现非预期应答：${unexpected.join('、') || '无'}；错误 ${r.errors}`,
      `the load met unexpected answers: ${unexpected.join(', ') || 'none'}; errors ${r.errors}${r.authorisations === 0 ? '; no authorisation answered' : ''}`,
    );
  }
  say('\n结果 / result: ✓ 符合预期 / as expected');
  return 0;
}

const posMeaning = (k: string): string => posHost.ACTION_CODE_MEANINGS[k.split(' ')[1] ?? ''] ?? 'unknown';
