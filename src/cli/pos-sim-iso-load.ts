import { iso8583, posHost, type posTransport } from '../pos-gateway/index.js';
import { authorisationFields, completionFields, fuelFor, reversalFields, type SaleParams } from './pos-sim-iso-flows.js';
import { IsoLink, IsoSimFailure, type IsoAnswer, type IsoTerminalState } from './pos-sim-iso-terminal.js';
import { percentile } from './pos-sim-load.js';

/**
 * Closed-loop ISO 8583 load (`pos-sim --iso8583 load`, bench/pos-iso.ts): each client is one TCP
 * connection with one request in flight, looping a pre-authorisation (1100 fc 101) and then either
 * its reversal (1420, money released) or its completion (1220 fc 202, money moved). Every client
 * has its own nozzle: one open authorisation per nozzle is the platform's rule.
 */

export interface IsoLoadOptions {
  readonly host: string;
  readonly port: number;
  readonly framing: posTransport.FramingKind;
  /** Signed-on terminals; client i uses terminals[i % length]. */
  readonly terminals: readonly IsoTerminalState[];
  readonly clients: number;
  readonly seconds: number;
  readonly cards: readonly string[];
  readonly pin: string;
  /** Client i sells on nozzles[i]. */
  readonly nozzles: readonly number[];
  readonly amount: number;
  readonly unitPrice: number;
  readonly product: string;
  /** 'reversal': every pre-authorisation reversed; 'alternate': reversed and completed in turn. */
  readonly second: 'reversal' | 'alternate';
}

export interface IsoLoadResult {
  /** Pre-authorisations answered in the window (one per loop). */
  authorisations: number;
  approved: number;
  /** Action codes by answer MTI: { '1110 000': n, '1430 400': n, … }. */
  actions: Record<string, number>;
  /** Transport failures and unMACed / unverifiable answers, by kind. */
  errors: number;
  errorsByKind: Record<string, number>;
  /** Money the completions debited (fen), as the answers' DE 4 said. */
  debited: number;
  completions: number;
  seconds: number;
  perSecond: number;
  /** Latency of the 1100 → 1110 exchange. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What a load answer may be and still count as expected (approvals, the reversal's 400). */
export const EXPECTED_LOAD_ACTIONS: ReadonlySet<string> = new Set(['1110 000', '1110 002', '1430 400', '1230 000']);

export async function runIsoLoad(o: IsoLoadOptions): Promise<IsoLoadResult> {
  if (o.nozzles.length < o.clients) throw new RangeError(`${o.clients} clients need ${o.clients} nozzles, got ${o.nozzles.length}`);
  const r: IsoLoadResult = { authorisations: 0, approved: 0, actions: {}, errors: 0, errorsByKind: {}, debited: 0, completions: 0, seconds: 0, perSecond: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
  const latencies: number[] = [];
  const error = (kind: string): void => {
    r.errors++;
    r.errorsByKind[kind] = (r.errorsByKind[kind] ?? 0) + 1;
  };
  const seen = (a: IsoAnswer): void => {
    const k = `${a.mti} ${a.action}`;
    r.actions[k] = (r.actions[k] ?? 0) + 1;
    if (!a.macOk) error(a.hasMac ? 'ANSWER_MAC_INVALID' : 'ANSWER_UNMACED');
  };
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  let lastDone = started;
  let loops = 0;

  const client = async (i: number): Promise<void> => {
    const t = o.terminals[i % o.terminals.length]!;
    const p: SaleParams = { card: null, pin: null, nozzle: o.nozzles[i]!, pump: 1, product: o.product, unitPrice: o.unitPrice, amount: o.amount, count: 1 };
    let link: IsoLink | null = null;
    try {
      while (performance.now() < deadline) {
        link ??= await IsoLink.open(t, o.host, o.port, o.framing);
        const card = o.cards[loops++ % o.cards.length]!;
        const complete = o.second === 'alternate' && loops % 2 === 0;
        const fields = authorisationFields(link, p, card, o.pin, '101', o.amount);
        const stan = t.nextStan();
        const local = t.localTime(new Date());
        let auth: IsoAnswer;
        try {
          auth = await link.send('1100', fields, { stan, local });
        } catch (e) {
          error(e instanceof IsoSimFailure ? e.code : 'FAILED');
          link.close();
          link = null;
          // No answer: the terminal reverses what it sent (4021) before it does anything else.
          try {
            link = await IsoLink.open(t, o.host, o.port, o.framing);
            seen(await link.send('1420', reversalFields(link, p, { stan, local }, o.amount, iso8583.REASON_CODE.timeout)));
          } catch (e2) {
            error(e2 instanceof IsoSimFailure ? `REVERSAL_${e2.code}` : 'REVERSAL_FAILED');
            link?.close();
            link = null;
          }
          continue;
        }
        lastDone = performance.now();
        latencies.push(auth.ms);
        r.authorisations++;
        seen(auth);
        if (auth.action !== posHost.ACTION.approved && auth.action !== posHost.ACTION.partial) continue;
        r.approved++;
        const held = Number(auth.field(4) ?? o.amount);
        const [mti, fields2] = complete
          ? (['1220', completionFields(link, p, auth, fuelFor(Math.max(1, Math.floor(held / 2)), o.unitPrice), false)] as const)
          : (['1420', reversalFields(link, p, auth, o.amount, iso8583.REASON_CODE.customerCancel)] as const);
        const second = { stan: t.nextStan(), local: t.localTime(new Date()) };
        // An advice is repeated (1221 / 1421, same STAN and time) until it is answered, as a terminal must.
        for (let attempt = 1; ; attempt++) {
          try {
            link ??= await IsoLink.open(t, o.host, o.port, o.framing);
            const a = await link.send(attempt === 1 ? mti : `${mti.slice(0, 3)}1`, fields2, second);
            seen(a);
            if (complete && a.action === posHost.ACTION.approved) {
              r.completions++;
              r.debited += Number(a.field(4) ?? 0);
            }
            break;
          } catch (e) {
            error(e instanceof IsoSimFailure ? e.code : 'FAILED');
            link?.close();
            link = null;
            if (attempt >= 3) break;
          }
        }
        lastDone = performance.now();
      }
    } finally {
      link?.close();
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, i) => client(i)));

  const sorted = [...latencies].sort((a, b) => a - b);
  r.seconds = Math.max(0.001, (lastDone - started) / 1000);
  r.perSecond = r.authorisations / r.seconds;
  // No answer at all: NaN, as the fields start (pos-sim-load's percentile says 0 for an empty list).
  r.p50Ms = sorted.length ? percentile(sorted, 50) : NaN;
  r.p99Ms = sorted.length ? percentile(sorted, 99) : NaN;
  r.maxMs = sorted.length ? sorted[sorted.length - 1]! : NaN;
  return r;
}
