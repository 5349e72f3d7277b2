import { TerminalClient, type ServerError, type TerminalResponse } from './terminal-client.js';
import type { Journal } from './pos-sim-journal.js';

/**
 * What every pos-sim scenario shares: the signed client, the card, the story it prints
 * (bilingual lines for people, one JSON document with --json) and the forecourt it sells on.
 */

export interface PosSimIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /** The first line of standard input (for --secret-stdin). */
  readStdin(): Promise<string>;
  signal?: AbortSignal;
}

/** A scenario could not run to its end: printed as `[code] zh / en`, exit 1. */
export class SimFailure extends Error {
  constructor(
    readonly code: string,
    readonly zh: string,
    readonly en: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(`${zh} / ${en}`);
    this.name = 'SimFailure';
  }
}

/** The server has no such route yet (404 ROUTE_NOT_FOUND): the feature is not deployed there. */
export class RouteMissing extends SimFailure {
  constructor(readonly route: string) {
    super('CLI_ROUTE_MISSING', `服务器没有接口 ${route}（该功能尚未部署）`, `the server has no route ${route} (the feature is not deployed)`, { route });
  }
}

/** The server refused a request the scenario needed (4xx/5xx with an error body). */
export class ServerRefused extends SimFailure {
  constructor(
    readonly route: string,
    readonly status: number,
    readonly error: ServerError,
  ) {
    const more = error.details ? ` ${JSON.stringify(error.details)}` : '';
    super(error.code, `服务器拒绝 ${route}（HTTP ${status}）`, `the server refused ${route} (HTTP ${status}): ${error.message}${more}`, error.details);
  }
}

export interface Step {
  step: string;
  ok: boolean;
  [key: string]: unknown;
}

export interface Fuel {
  nozzle: number;
  grade: string;
  unitPrice: number;
  volumeMl: number;
  amount: number;
}

export interface NozzleInfo {
  nozzle: number;
  grade: string;
  unitPrice: number | null;
}

export interface SimOptions {
  cardNo: string;
  pin: string;
  nozzle?: number;
  json: boolean;
}

export class Sim {
  readonly steps: Step[] = [];
  private forecourt: { businessDay: string; nozzles: NozzleInfo[] } | null = null;
  private goods: Map<string, { sku: string; nameZh: string; nameEn: string; unitPrice: number }> | null = null;

  constructor(
    readonly io: PosSimIo,
    readonly client: TerminalClient,
    readonly opts: SimOptions,
    readonly journal: Journal,
  ) {}

  /** A line of the story (human output only). */
  say(text: string): void {
    if (!this.opts.json) this.io.stdout(text + '\n');
  }

  heading(zh: string, en: string): void {
    this.say(`\n== ${zh} / ${en} ==`);
  }

  record(step: Step): Step {
    this.steps.push(step);
    return step;
  }

  /** A request whose error answer ends the scenario (ROUTE_NOT_FOUND: the feature is missing). */
  async must(method: 'GET' | 'POST', target: string, body?: unknown, idempotencyKey?: string): Promise<TerminalResponse> {
    const r = method === 'GET' ? await this.client.get(target) : await this.client.post(target, body, idempotencyKey);
    if (r.error) throw refusal(method, target, r);
    return r;
  }

  async has(method: 'GET' | 'POST', target: string): Promise<boolean> {
    // A probe without a body: a missing route answers 404 ROUTE_NOT_FOUND before any signature check.
    const r = method === 'GET' ? await this.client.get(target) : await this.client.post(target, {});
    return r.error?.code !== 'ROUTE_NOT_FOUND';
  }

  async loadForecourt(): Promise<{ businessDay: string; nozzles: NozzleInfo[] }> {
    if (this.forecourt) return this.forecourt;
    const r = await this.must('GET', '/api/v1/pos/forecourt');
    this.forecourt = { businessDay: String(r.body.businessDay), nozzles: (r.body.nozzles as NozzleInfo[]).map((n) => ({ nozzle: n.nozzle, grade: n.grade, unitPrice: n.unitPrice })) };
    return this.forecourt;
  }

  /** The store catalogue (sku → item); empty when the server sells no goods. */
  async catalogue(): Promise<Map<string, { sku: string; nameZh: string; nameEn: string; unitPrice: number }>> {
    if (this.goods) return this.goods;
    const r = await this.client.get('/api/v1/pos/goods');
    if (r.error && r.error.code !== 'ROUTE_NOT_FOUND') throw refusal('GET', '/api/v1/pos/goods', r);
    const items = (r.error ? [] : (r.body?.items ?? [])) as Array<{ sku: string; nameZh: string; nameEn: string; unitPrice: number }>;
    this.goods = new Map(items.map((i) => [i.sku, i]));
    return this.goods;
  }

  /** What the goods come to at the catalogue's prices: the terminal sends the whole amount, fuel plus goods. */
  async goodsTotal(items: ReadonlyArray<{ sku: string; quantity: number }>): Promise<number> {
    if (items.length === 0) return 0;
    const cat = await this.catalogue();
    let total = 0;
    for (const i of items) {
      const g = cat.get(i.sku);
      if (!g) throw new SimFailure('CLI_GOODS_UNKNOWN', `商品目录中没有 ${i.sku}`, `the store catalogue has no ${i.sku}`, { sku: i.sku });
      total += g.unitPrice * i.quantity;
    }
    return total;
  }

  /** The nozzle to sell on: --nozzle, else the first one with a price. */
  async nozzle(): Promise<NozzleInfo & { unitPrice: number }> {
    const fc = await this.loadForecourt();
    const wanted = this.opts.nozzle;
    const n = wanted !== undefined ? fc.nozzles.find((x) => x.nozzle === wanted) : fc.nozzles.find((x) => x.unitPrice !== null);
    if (!n) {
      throw wanted !== undefined
        ? new SimFailure('CLI_NOZZLE_UNKNOWN', `本站没有 ${wanted} 号油枪`, `this station has no nozzle ${wanted}`)
        : new SimFailure('CLI_NO_PRICED_NOZZLE', '本站没有已定价的油枪（请先配置油枪和油价）', 'this station has no nozzle with a price (set up nozzles and prices first)');
    }
    if (n.unitPrice === null) throw new SimFailure('CLI_NOZZLE_UNPRICED', `${n.nozzle} 号油枪的油品 ${n.grade} 没有油价`, `nozzle ${n.nozzle} (${n.grade}) has no price`);
    return { ...n, unitPrice: n.unitPrice };
  }

  /** Fuel for about `amount` fen on the chosen nozzle: the volume the pump would deliver, and its exact price. */
  async fuelFor(amount: number): Promise<Fuel> {
    const n = await this.nozzle();
    return fuelAt(n, amount);
  }
}

export function fuelAt(n: { nozzle: number; grade: string; unitPrice: number }, amount: number): Fuel {
  const volumeMl = Math.max(1, Math.floor((amount * 1000) / n.unitPrice));
  return { nozzle: n.nozzle, grade: n.grade, unitPrice: n.unitPrice, volumeMl, amount: Math.round((volumeMl * n.unitPrice) / 1000) };
}

export function refusal(method: string, target: string, r: TerminalResponse): SimFailure {
  const route = `${method} ${target.split('?')[0]}`;
  if (r.error?.code === 'ROUTE_NOT_FOUND') return new RouteMissing(route);
  return new ServerRefused(route, r.status, r.error!);
}

export const yuan = (fen: number | null | undefined): string =>
  fen === null || fen === undefined ? '—' : `¥${(fen / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export const litres = (ml: number): string => `${(ml / 1000).toFixed(2)} L`;

export const ms = (x: number): string => `${Math.round(x)} ms`;

/** How a sale/authorisation answer reads on the terminal's display. */
export function answerLine(a: { status: string; approvalCode?: string; declineCode?: string; actionCode?: string; message?: string; balance?: number | null }): string {
  if (a.status === 'approved') return `✓ 批准 / approved  授权码 approval ${a.approvalCode}  余额 balance ${yuan(a.balance)}`;
  return `✗ 拒绝 / declined  [${a.declineCode}] ${a.message ?? ''} (action ${a.actionCode})`;
}
