import { iso8583, posHost } from '../pos-gateway/index.js';
import { IsoLink, IsoSimFailure, meaningOf, type IsoAnswer } from './pos-sim-iso-terminal.js';

/**
 * The sale scenarios of `fuelcard pos-sim --iso8583` (docs/pos-sim.md): each message built as
 * docs/pos-iso8583.md and docs/pos-mapping.md define it (DE 48 pump/nozzle and batch/sequence,
 * DE 52 PIN block under the TPK of the sign-on, DE 56 the original, DE 63 the fuel line), each
 * answer printed on one line and checked against what the scenario expects.
 */

export interface SaleParams {
  readonly card: string | null;
  readonly pin: string | null;
  readonly nozzle: number;
  readonly pump: number;
  /** DE 63 product code of the nozzle's grade (92# → 92). */
  readonly product: string;
  /** fen per litre; must be the station's price when it has one (PRICE_MISMATCH otherwise). */
  readonly unitPrice: number;
  /** --amount, fen; null: each scenario's default. */
  readonly amount: number | null;
  readonly count: number;
}

/** Shift kinds (docs/pos-mapping.md DE 72) as the simulator counts its own approved sales. */
export type TallyKind = 'online' | 'completion' | 'postpay' | 'offline' | 'voided' | 'reversed';
export type Tally = Record<TallyKind, { count: number; amount: number }>;

export function emptyTally(): Tally {
  const z = () => ({ count: 0, amount: 0 });
  return { online: z(), completion: z(), postpay: z(), offline: z(), voided: z(), reversed: z() };
}

export const yuan = (fen: number): string => `¥${(fen / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export interface Fuel {
  readonly volumeMl: number;
  readonly unitPrice: number;
  readonly amount: number;
}

/** The most fuel that fits in `amount` at `unitPrice`, and its amount rounded to the fen as the platform does. */
export function fuelFor(amount: number, unitPrice: number): Fuel {
  const volumeMl = Math.max(1, Math.floor((amount * 1000) / unitPrice));
  return { volumeMl, unitPrice, amount: Math.round((volumeMl * unitPrice) / 1000) };
}

export function fuelLine(product: string, f: Fuel): iso8583.De63Value {
  return {
    kind: 'de63',
    serviceLevel: 'S',
    lines: [{ productCode: product, unit: 'L', quantity: { scale: 3, value: f.volumeMl }, unitPrice: { scale: 0, value: f.unitPrice }, amount: f.amount, taxCode: '', additionalCode: '' }],
  };
}

const amountOf = (a: IsoAnswer, n = 4): number | null => {
  const v = a.field(n);
  return typeof v === 'string' && /^[0-9]{12}$/.test(v) ? Number(v) : null;
};
const balanceOf = (a: IsoAnswer): number | null => {
  const v = a.field(54);
  return typeof v === 'string' ? posHost.parseBalance(v) : null;
};

/** One line per answer: MTI, STAN, DE 39 and its meaning, DE 4, DE 38, the DE 54 balance, the MAC. */
export function answerLine(a: IsoAnswer, ok: boolean): string {
  const parts = [`${a.mti} STAN ${a.stan}`, `${a.action} ${meaningOf(a.action)}`];
  const amt = amountOf(a);
  if (amt !== null) parts.push(`DE 4 ${yuan(amt)}`);
  const approval = a.field(38);
  if (typeof approval === 'string') parts.push(`DE 38 ${approval}`);
  const balance = balanceOf(a);
  if (balance !== null) parts.push(`余额 balance ${yuan(balance)}`);
  parts.push(a.hasMac ? (a.macOk ? 'MAC ✓' : 'MAC ✗') : '无 MAC / no MAC');
  return `  ${ok ? '✓' : '✗'} ${parts.join(' · ')} (${Math.round(a.ms)} ms)`;
}

export interface FlowContext {
  /** The current connection; offline upload replaces it after a dropped answer. */
  link: IsoLink;
  reconnect(): Promise<IsoLink>;
  readonly p: SaleParams;
  readonly tally: Tally;
  readonly say: (line: string) => void;
}

function need<T>(v: T | null, zh: string, en: string): T {
  if (v === null) throw new IsoSimFailure('CLI_USAGE', zh, en);
  return v;
}

/** Sends, prints and checks one message; a refused step stops the scenario (exit 1). */
async function step(c: FlowContext, label: string, mti: string, fields: ReadonlyArray<readonly [number, iso8583.FieldValue]>, expected: readonly string[], opts: { stan?: string; local?: string } = {}): Promise<IsoAnswer> {
  c.say(`→ ${label} ${mti}${fieldFc(fields)}`);
  const a = await c.link.send(mti, fields, opts);
  const ok = expected.includes(a.action) && a.macOk;
  c.say(answerLine(a, ok));
  return IsoLink.expect(a, `${mti}${fieldFc(fields)}`, expected);
}

function fieldFc(fields: ReadonlyArray<readonly [number, iso8583.FieldValue]>): string {
  const fc = fields.find(([n]) => n === 24)?.[1];
  return typeof fc === 'string' ? `/${fc}` : '';
}

export function de48(link: IsoLink, p: SaleParams, withPin: boolean): iso8583.FieldValue {
  const v: iso8583.De48Value = {
    kind: 'de48',
    batchSequence: link.t.nextBatchSequence(),
    pumpNozzle: `${String(p.pump).padStart(2, '0')}${String(p.nozzle).padStart(2, '0')}`,
    ...(withPin ? { pinMethod: link.pinMethod() } : {}),
  };
  return v;
}

export function authorisationFields(link: IsoLink, p: SaleParams, card: string, pin: string, fc: '100' | '101', amount: number): Array<[number, iso8583.FieldValue]> {
  return [
    [2, card],
    [3, '000000'],
    [4, iso8583.formatAmount(amount)],
    [24, fc],
    [26, '5542'],
    [48, de48(link, p, true)],
    [49, '156'],
    [52, link.pinBlock(card, pin)],
  ];
}

export function completionFields(link: IsoLink, p: SaleParams, original: IsoAnswer, fuel: Fuel, sameAmount: boolean): Array<[number, iso8583.FieldValue]> {
  return [
    [3, '000000'],
    [4, iso8583.formatAmount(fuel.amount)],
    [24, sameAmount ? iso8583.FUNCTION_CODE.adviceCompletionSameAmount : iso8583.FUNCTION_CODE.adviceCompletionDifferentAmount],
    [26, '5542'],
    [48, de48(link, p, false)],
    [49, '156'],
    [56, originalOf('1100', original)],
    [63, fuelLine(p.product, fuel)],
  ];
}

export function reversalFields(link: IsoLink, p: SaleParams, original: { stan: string; local: string }, amount: number, reason: string): Array<[number, iso8583.FieldValue]> {
  return [
    [3, '000000'],
    [4, iso8583.formatAmount(amount)],
    [24, iso8583.FUNCTION_CODE.reversalFull],
    [25, reason],
    [48, de48(link, p, false)],
    [56, originalOf('1100', original)],
  ];
}

export function originalOf(mti: string, a: { stan: string; local: string }): string {
  return iso8583.formatOriginalData({ mti, stan: a.stan, localDateTime: a.local, acquirerId: '' });
}

const APPROVED = [posHost.ACTION.approved, posHost.ACTION.partial];

/** The 1230's DE 4 must be what the completion asked: the money the sim reports is the money moved. */
function checkDebited(a: IsoAnswer, fuel: Fuel): void {
  const debited = amountOf(a);
  if (debited !== fuel.amount) {
    throw new IsoSimFailure('ISO_AMOUNT_MISMATCH', `主机扣款 ${debited === null ? '无' : yuan(debited)}，应为 ${yuan(fuel.amount)}`, `the host debited ${debited === null ? 'nothing' : yuan(debited)}, not ${yuan(fuel.amount)}`);
  }
}

/** sale-flow: pre-authorise (1100 fc 101) for --amount, complete (1220 fc 202) for 80 % of the hold. */
export async function saleFlow(c: FlowContext): Promise<void> {
  c.say('\n== 预授权加油 / pre-authorise, then complete ==');
  const { card, pin } = cardAndPin(c);
  const requested = c.p.amount ?? 30_000;
  const auth = await step(c, '预授权 / pre-authorise', '1100', authorisationFields(c.link, c.p, card, pin, '101', requested), APPROVED);
  const held = amountOf(auth) ?? requested;
  const fuel = fuelFor(Math.max(1, Math.floor(held * 0.8)), c.p.unitPrice);
  c.say(`  油枪 nozzle ${c.p.nozzle} 实际加油 delivered ${(fuel.volumeMl / 1000).toFixed(3)} L × ${yuan(fuel.unitPrice)}/L = ${yuan(fuel.amount)}`);
  const done = await step(c, '挂枪结算 / completion', '1220', completionFields(c.link, c.p, auth, fuel, fuel.amount === held), [posHost.ACTION.approved]);
  checkDebited(done, fuel);
  add(c.tally, 'completion', fuel.amount);
  c.say(`  扣款 debited ${yuan(fuel.amount)}，释放 released ${yuan(held - fuel.amount)}`);
}

/** prepay: 1100 fc 100 holds exactly the preset; the completion posts what the pump delivered for it. */
export async function prepay(c: FlowContext): Promise<void> {
  c.say('\n== 预付定额 / prepay a preset ==');
  const { card, pin } = cardAndPin(c);
  const preset = c.p.amount ?? 20_000;
  const auth = await step(c, '预付 / prepay', '1100', authorisationFields(c.link, c.p, card, pin, '100', preset), [posHost.ACTION.approved]);
  const fuel = fuelFor(preset, c.p.unitPrice);
  c.say(`  加油机停于 / the pump stops at ${(fuel.volumeMl / 1000).toFixed(3)} L = ${yuan(fuel.amount)}`);
  const done = await step(c, '挂枪结算 / completion', '1220', completionFields(c.link, c.p, auth, fuel, fuel.amount === preset), [posHost.ACTION.approved]);
  checkDebited(done, fuel);
  add(c.tally, 'completion', fuel.amount);
  c.say(`  扣款 debited ${yuan(fuel.amount)}`);
}

/** reversal: a pre-authorisation whose answer the terminal treats as timed out: 1420 reason 4021 releases it. */
export async function reversal(c: FlowContext): Promise<void> {
  c.say('\n== 冲正 / reversal (4021 timeout) ==');
  const { card, pin } = cardAndPin(c);
  const requested = c.p.amount ?? 5_000;
  const auth = await step(c, '预授权 / pre-authorise', '1100', authorisationFields(c.link, c.p, card, pin, '101', requested), APPROVED);
  // DE 4 of a reversal is the original's amount (the request's, which the terminal knows without an answer).
  await step(c, '冲正 / reversal', '1420', reversalFields(c.link, c.p, auth, requested, iso8583.REASON_CODE.timeout), [posHost.ACTION.reversalAccepted]);
  c.say(`  冻结已释放 / the hold of ${yuan(amountOf(auth) ?? requested)} is released`);
}

/** postpay: the customer pays a fill indoors (1200, MCC 5541) with the PIN. */
export async function postpay(c: FlowContext): Promise<void> {
  c.say('\n== 先加后付 / indoor post-pay ==');
  const { card, pin } = cardAndPin(c);
  const fuel = fuelFor(c.p.amount ?? 12_000, c.p.unitPrice);
  const a = await step(
    c,
    '室内付款 / pay indoors',
    '1200',
    [
      [2, card],
      [3, '000000'],
      [4, iso8583.formatAmount(fuel.amount)],
      [24, iso8583.FUNCTION_CODE.financial],
      [26, '5541'],
      [48, de48(c.link, c.p, true)],
      [49, '156'],
      [52, c.link.pinBlock(card, pin)],
      [63, fuelLine(c.p.product, fuel)],
    ],
    [posHost.ACTION.approved],
  );
  checkDebited(a, fuel);
  // An indoor card sale without a recorded pump sale is the 'online' flow in the shift's totals.
  add(c.tally, 'online', fuel.amount);
  c.say(`  扣款 debited ${yuan(fuel.amount)}`);
}

/**
 * offline: --count stand-in sales (1220 fc 200), each its own advice; a dropped answer is repeated
 * as 1221 with the same STAN and time on a new connection, as a terminal must. Then the first
 * advice again as 1221, as after a lost acknowledgement: acknowledged again, posted once.
 */
export async function offline(c: FlowContext): Promise<void> {
  c.say(`\n== 脱机上送 / offline stand-in upload: ${c.p.count} 笔 sales ==`);
  const card = need(c.p.card, 'offline 需要 --card', 'offline needs --card');
  const amount = c.p.amount ?? 5_000;
  let first: { fields: Array<[number, iso8583.FieldValue]>; stan: string; local: string } | null = null;
  for (let i = 0; i < c.p.count; i++) {
    const fuel = fuelFor(amount, c.p.unitPrice);
    const approval = String(100_000 + Math.floor(Math.random() * 900_000));
    const fields: Array<[number, iso8583.FieldValue]> = [
      [2, card],
      [3, '000000'],
      [4, iso8583.formatAmount(fuel.amount)],
      [24, iso8583.FUNCTION_CODE.adviceStandIn],
      [25, '1003'],
      [26, '5542'],
      [38, approval],
      [48, de48(c.link, c.p, false)],
      [49, '156'],
      [63, fuelLine(c.p.product, fuel)],
    ];
    const stan = c.link.t.nextStan();
    const local = c.link.t.localTime(new Date());
    let mti = '1220';
    for (let attempt = 1; ; attempt++) {
      try {
        await step(c, `脱机交易 / stand-in sale ${i + 1}`, mti, fields, [posHost.ACTION.approved], { stan, local });
        break;
      } catch (e) {
        if (!(e instanceof IsoSimFailure) || e.code !== 'ISO_NO_ANSWER' || attempt >= 3) throw e;
        c.say(`  ! 未收到应答，重连后以 1221 重发 / no answer: reconnecting, repeating as 1221 (${attempt})`);
        c.link.close();
        c.link = await c.reconnect();
        mti = '1221';
      }
    }
    first ??= { fields, stan, local };
    add(c.tally, 'offline', fuel.amount);
  }
  if (first) {
    c.say('  再次上送第一笔（终端未收到确认）/ the first advice again, as after a lost acknowledgement:');
    await step(c, '重发 / repeat', '1221', first.fields, [posHost.ACTION.approved], { stan: first.stan, local: first.local });
  }
  c.say(`  上送 uploaded ${c.p.count} 笔 sales，共 ${yuan(c.p.count * fuelFor(amount, c.p.unitPrice).amount)}`);
}

/**
 * reconcile: a checkpoint (1520 fc 501) with the ISO class totals the simulator counted, then the
 * close (fc 500) with the per-kind totals in DE 72. `strict` (in `all`, where every sale of the
 * shift is the simulator's own): both must be 500. Alone the simulator knows only its own run, so
 * an out-of-balance checkpoint is reported and the shift is not closed.
 */
export async function reconcile(c: FlowContext, strict: boolean): Promise<void> {
  c.say('\n== 对账 / reconciliation ==');
  const t = c.tally;
  const debits = (['online', 'completion', 'postpay', 'offline'] as const).reduce((s, k) => ({ count: s.count + t[k].count, amount: s.amount + t[k].amount }), { count: 0, amount: 0 });
  const reversals = (['voided', 'reversed'] as const).reduce((s, k) => ({ count: s.count + t[k].count, amount: s.amount + t[k].amount }), { count: 0, amount: 0 });
  const n10 = (n: number): string => String(n).padStart(10, '0');
  const n16 = (n: number): string => String(n).padStart(16, '0');
  const totals: Array<[number, iso8583.FieldValue]> = [
    [74, n10(0)],
    [75, n10(0)],
    [76, n10(debits.count)],
    [77, n10(reversals.count)],
    [86, n16(0)],
    [87, n16(0)],
    [88, n16(debits.amount)],
    [89, n16(reversals.amount)],
  ];
  c.say(`  本终端统计 / counted here: 借记 debits ${debits.count} 笔 ${yuan(debits.amount)} · 借记冲正 debit reversals ${reversals.count} 笔 ${yuan(reversals.amount)}`);
  const inBalance = posHost.ACTION.reconciledInBalance;
  const check = await step(c, '对账检查 / checkpoint', '1520', [[24, '501'], [48, de48(c.link, c.p, false)], ...totals], strict ? [inBalance] : [inBalance, posHost.ACTION.reconciledOutOfBalance]);
  if (check.action !== inBalance) {
    c.say('  班次含本次运行之外的交易，不结班 / the shift holds sales this run did not make: not closed');
    return;
  }
  const declared = (Object.entries(t) as Array<[TallyKind, { count: number; amount: number }]>).filter(([, v]) => v.count > 0).map(([kind, v]) => ({ kind, count: v.count, amount: v.amount }));
  const de72 = posHost.formatDeclared(declared.length > 0 ? declared : [{ kind: 'online', count: 0, amount: 0 }]);
  c.say(`  DE 72: ${de72}`);
  await step(c, '结班 / close the shift', '1520', [[24, '500'], [48, de48(c.link, c.p, false)], [72, de72], ...totals], [inBalance]);
}

function cardAndPin(c: FlowContext): { card: string; pin: string } {
  return {
    card: need(c.p.card, '该场景需要 --card', 'this scenario needs --card'),
    pin: need(c.p.pin, '该场景需要 --pin 或 --pin-env', 'this scenario needs --pin or --pin-env'),
  };
}

function add(t: Tally, kind: TallyKind, amount: number): void {
  t[kind].count += 1;
  t[kind].amount += amount;
}

export function debitedTotal(t: Tally): { count: number; amount: number } {
  return (['online', 'completion', 'postpay', 'offline'] as const).reduce((s, k) => ({ count: s.count + t[k].count, amount: s.amount + t[k].amount }), { count: 0, amount: 0 });
}
