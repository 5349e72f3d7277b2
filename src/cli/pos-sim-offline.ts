import { randomInt } from 'node:crypto';
import { fuelAt, RouteMissing, yuan, type Sim } from './pos-sim-core.js';
import type { JournalEntry } from './pos-sim-journal.js';

/**
 * The terminal without a network (脱机): it approves alone, by the parameters it downloaded
 * while online, keeps each sale in its journal, and uploads them in batches when the host is back.
 */

export interface OfflineParams {
  floorSale: number;
  floorDay: number;
  hotlistVersion: number;
  hotlist: Set<string>;
  /** Cards with their own floors (白名单). */
  whitelist: Map<string, { floorSale: number; floorDay: number }>;
  /** The business day the terminal sells in (from the forecourt answer). */
  businessDay: string;
}

export type OfflineDecision =
  | { approved: true; floorSale: number; floorDay: number; whitelisted: boolean }
  | { approved: false; reason: 'CARD_NUMBER_INVALID' | 'HOT_CARD' | 'OVER_SALE_FLOOR' | 'OVER_DAY_FLOOR'; limit?: number };

export const OFFLINE_REASONS: Record<string, { zh: string; en: string }> = {
  CARD_NUMBER_INVALID: { zh: '卡号无效', en: 'card number not valid' },
  HOT_CARD: { zh: '黑名单卡', en: 'card on the hot list' },
  OVER_SALE_FLOOR: { zh: '超过单笔脱机限额', en: 'over the per-sale offline floor' },
  OVER_DAY_FLOOR: { zh: '超过单卡当日脱机限额', en: 'over the per-card daily offline floor' },
};

export function luhnValid(cardNo: string): boolean {
  if (!/^\d{19}$/.test(cardNo)) return false;
  let sum = 0;
  for (let i = 0; i < cardNo.length; i++) {
    let d = cardNo.charCodeAt(cardNo.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * The offline rules, in the order a terminal applies them. The hot list comes before the
 * whitelist: a lost card is refused whatever floors it was given.
 */
export function decideOffline(p: OfflineParams, cardNo: string, amount: number, spentToday: number): OfflineDecision {
  if (!luhnValid(cardNo)) return { approved: false, reason: 'CARD_NUMBER_INVALID' };
  if (p.hotlist.has(cardNo)) return { approved: false, reason: 'HOT_CARD' };
  const own = p.whitelist.get(cardNo);
  const floorSale = own?.floorSale ?? p.floorSale;
  const floorDay = own?.floorDay ?? p.floorDay;
  if (amount > floorSale) return { approved: false, reason: 'OVER_SALE_FLOOR', limit: floorSale };
  if (spentToday + amount > floorDay) return { approved: false, reason: 'OVER_DAY_FLOOR', limit: floorDay };
  return { approved: true, floorSale, floorDay, whitelisted: own !== undefined };
}

/** What this card already spent offline at this terminal on the business day, by the journal. */
export function spentOffline(entries: JournalEntry[], cardNo: string, businessDay: string): number {
  let sum = 0;
  for (const e of entries) if (e.type === 'offline-sale' && e.cardNo === cardNo && e.businessDay === businessDay) sum += e.amount;
  return sum;
}

async function downloadParams(sim: Sim): Promise<OfflineParams> {
  const fc = await sim.loadForecourt();
  const params = await sim.must('GET', '/api/v1/pos/offline-params');
  const hot = await sim.must('GET', '/api/v1/pos/hotlist');
  const whitelist = new Map<string, { floorSale: number; floorDay: number }>();
  let whitelistNote: string;
  try {
    const wl = await sim.must('GET', '/api/v1/pos/whitelist');
    for (const i of wl.body.items as Array<{ cardNo: string; floorSale: number; floorDay: number; listed?: boolean }>) {
      if (i.listed !== false) whitelist.set(i.cardNo, { floorSale: i.floorSale, floorDay: i.floorDay });
    }
    whitelistNote = `白名单 whitelist ${whitelist.size} 张 cards (version ${wl.body.version})`;
  } catch (err) {
    if (!(err instanceof RouteMissing)) throw err;
    whitelistNote = '白名单：服务器未提供 / whitelist: not offered by this server';
  }
  const p: OfflineParams = {
    floorSale: params.body.floorLimitPerSale,
    floorDay: params.body.floorLimitPerCardPerDay,
    hotlistVersion: Number(hot.body.version),
    hotlist: new Set(hot.body.cards as string[]),
    whitelist,
    businessDay: fc.businessDay,
  };
  sim.say(`  单笔限额 per-sale floor ${yuan(p.floorSale)}，单卡日限额 per-card-day floor ${yuan(p.floorDay)}，营业日 business day ${p.businessDay}`);
  sim.say(`  黑名单 hot list ${p.hotlist.size} 张 cards (version ${p.hotlistVersion})；${whitelistNote}`);
  const file = sim.journal.writeJson('offline-params.json', { ...p, hotlist: [...p.hotlist], whitelist: Object.fromEntries(p.whitelist), downloadedAt: new Date().toISOString() });
  sim.say(`  已保存 / saved to ${file}`);
  sim.record({ step: 'download', ok: true, floorSale: p.floorSale, floorDay: p.floorDay, hotlistVersion: p.hotlistVersion, hotlistSize: p.hotlist.size, whitelistSize: p.whitelist.size });
  return p;
}

interface Attempt {
  cardNo: string;
  amount: number;
  why: string;
}

export interface OfflineOptions {
  count?: number;
  amount?: number;
  hotCard?: string;
  batchSize?: number;
}

export async function offlineScenario(sim: Sim, o: OfflineOptions): Promise<void> {
  sim.heading('脱机交易：下载参数', 'offline: download the parameters while online');
  const p = await downloadParams(sim);
  const nozzle = await sim.nozzle();
  const card = sim.opts.cardNo;
  const count = o.count ?? 3;
  const cardFloor = decideOffline(p, card, 0, 0);
  const floorSale = cardFloor.approved ? cardFloor.floorSale : p.floorSale;
  const floorDay = cardFloor.approved ? cardFloor.floorDay : p.floorDay;
  // Unless told, spend enough that the next sale reaches the daily floor, to show that rule too.
  const amount = o.amount ?? Math.max(100, Math.min(floorSale, Math.floor(floorDay / (count + 1))));

  sim.heading('网络中断，终端脱机受理', 'network lost: the terminal approves alone');
  const attempts: Attempt[] = [];
  for (let i = 0; i < count; i++) attempts.push({ cardNo: card, amount, why: `sale ${i + 1}/${count}` });
  attempts.push({ cardNo: card, amount: floorSale + 100, why: 'over the per-sale floor' });
  if (o.hotCard) attempts.push({ cardNo: o.hotCard, amount: Math.min(amount, floorSale), why: 'the hot card' });

  let approved = 0;
  for (const [i, a] of attempts.entries()) {
    // The daily-floor probe: what is left today plus a fen, when one sale could still reach it.
    if (a.why === 'over the per-sale floor' && i > 0) {
      const left = floorDay - spentOffline(sim.journal.entries(), card, p.businessDay);
      if (left >= 0 && left + 1 <= floorSale) attempts.splice(i + 1, 0, { cardNo: card, amount: left + 1, why: 'over the daily floor' });
    }
    const fuel = fuelAt(nozzle, a.amount);
    const spent = spentOffline(sim.journal.entries(), a.cardNo, p.businessDay);
    const d = decideOffline(p, a.cardNo, fuel.amount, spent);
    const label = `${mask(a.cardNo)} ${yuan(fuel.amount)} (${a.why})`;
    if (!d.approved) {
      const r = OFFLINE_REASONS[d.reason]!;
      sim.say(`  ✗ 脱机拒绝 / refused offline: ${label} — [${d.reason}] ${r.zh} / ${r.en}${d.limit !== undefined ? ` (${yuan(d.limit)})` : ''}`);
      sim.journal.append({ type: 'offline-refused', cardNo: a.cardNo, amount: fuel.amount, reason: d.reason });
      sim.record({ step: 'offline-refused', ok: true, cardNo: a.cardNo, amount: fuel.amount, reason: d.reason });
      continue;
    }
    const seq = sim.journal.nextSeq();
    const approvalCode = String(randomInt(0, 1_000_000)).padStart(6, '0');
    sim.journal.append({
      type: 'offline-sale',
      seq,
      cardNo: a.cardNo,
      grade: fuel.grade,
      volumeMl: fuel.volumeMl,
      unitPrice: fuel.unitPrice,
      amount: fuel.amount,
      nozzle: fuel.nozzle,
      occurredAt: new Date(Date.now() + sim.client.clockOffsetS * 1000).toISOString(),
      approvalCode,
      businessDay: p.businessDay,
      hotlistVersion: p.hotlistVersion,
    });
    approved++;
    sim.say(`  ✓ 脱机批准 / approved offline: ${label} 流水号 seq ${seq} 授权码 approval ${approvalCode}${d.whitelisted ? '（白名单限额 / whitelist floors）' : ''}`);
    sim.record({ step: 'offline-approved', ok: true, seq, cardNo: a.cardNo, amount: fuel.amount, approvalCode });
  }
  sim.say(`  本机流水 / journal: ${sim.journal.file} (${sim.journal.pendingOffline().length} 笔待上送 / waiting for upload)`);
  if (approved === 0) sim.record({ step: 'offline-approved', ok: false, reason: 'nothing approved offline' });

  await uploadScenario(sim, o.batchSize ?? 50);
}

interface BatchAnswer {
  batchId: string;
  batchNo: string;
  replayed: boolean;
  summary: { received: number; posted: number; duplicates: number; rejected: number; forced: number; stationLiability: number };
  results: Array<{ seq: number; status: string; saleId?: string; forced?: boolean; liability?: string; flags?: string[]; code?: string }>;
}

/** Upload every pending offline sale, batch by batch, then the first batch once more. */
async function uploadScenario(sim: Sim, batchSize: number): Promise<void> {
  sim.heading('网络恢复，批量上送', 'back online: upload in batches');
  const pending = sim.journal.pendingOffline();
  if (pending.length === 0) {
    sim.say('  没有待上送的脱机交易 / nothing waiting for upload');
    return;
  }
  // One batch per hot-list version: the batch tells the host which list the terminal held.
  const batches: Array<{ batchNo: string; body: unknown; sales: typeof pending }> = [];
  const byVersion = new Map<number, typeof pending>();
  for (const s of pending) byVersion.set(s.hotlistVersion, [...(byVersion.get(s.hotlistVersion) ?? []), s]);
  for (const [version, sales] of byVersion) {
    for (let i = 0; i < sales.length; i += batchSize) {
      const chunk = sales.slice(i, i + batchSize);
      const batchNo = `${sim.client.terminalId}-${chunk[0]!.seq}`;
      const body = {
        batchNo,
        hotlistVersion: version,
        sales: chunk.map((s) => ({ seq: s.seq, cardNo: s.cardNo, grade: s.grade, volumeMl: s.volumeMl, unitPrice: s.unitPrice, amount: s.amount, nozzle: s.nozzle, occurredAt: s.occurredAt, approvalCode: s.approvalCode })),
      };
      batches.push({ batchNo, body, sales: chunk });
    }
  }
  const answers: BatchAnswer[] = [];
  for (const b of batches) {
    const r = await sim.must('POST', '/api/v1/pos/offline-batches', b.body);
    const a = r.body as BatchAnswer;
    answers.push(a);
    printBatch(sim, a);
    for (const res of a.results) {
      const sale = b.sales.find((s) => s.seq === res.seq);
      sim.journal.append({ type: 'offline-uploaded', seq: res.seq, batchNo: a.batchNo, status: res.status, ...(res.saleId ? { saleId: res.saleId } : {}), amount: sale?.amount ?? 0, ...(res.code ? { code: res.code } : {}) });
    }
    const ok = a.results.length === b.sales.length && a.results.every((x) => x.status === 'posted' || x.status === 'duplicate');
    sim.record({ step: 'upload', ok, batchNo: a.batchNo, replayed: a.replayed, summary: a.summary, results: a.results });
  }
  const first = batches[0]!;
  const firstAnswer = answers[0]!;
  const saleIds = (a: BatchAnswer) => a.results.map((x) => x.saleId ?? null).join(',');
  sim.say(`→ 同一批次再次上送（如应答丢失后重试）/ the same batch again (a retry after a lost answer): ${first.batchNo}`);
  const again = (await sim.must('POST', '/api/v1/pos/offline-batches', first.body)).body as BatchAnswer;
  printBatch(sim, again);
  // The first answer again, word for word: nothing new was posted.
  const sameAnswer = again.replayed && again.batchId === firstAnswer.batchId && saleIds(again) === saleIds(firstAnswer);
  sim.say(sameAnswer ? '  ✓ 幂等：返回首次应答，未重复入账 / idempotent: the first answer again, nothing posted twice' : '  ✗ 批次重放未返回首次应答 / the replay did not answer the first answer');
  sim.record({ step: 'upload-again', ok: sameAnswer, batchNo: again.batchNo, replayed: again.replayed, summary: again.summary });

  const renamed = `${first.batchNo}-R`.slice(0, 40);
  sim.say(`→ 同样的交易放进新批次 / the same sales in a new batch: ${renamed}`);
  const moved = (await sim.must('POST', '/api/v1/pos/offline-batches', { ...(first.body as object), batchNo: renamed })).body as BatchAnswer;
  printBatch(sim, moved);
  // Known by (terminal, seq): each is a duplicate of the sale already posted.
  const posted = firstAnswer.results.filter((x) => x.status === 'posted' || x.status === 'duplicate');
  const allDuplicates = moved.summary.posted === 0 && posted.every((p) => moved.results.some((m) => m.seq === p.seq && m.status === 'duplicate' && m.saleId === p.saleId));
  sim.say(allDuplicates ? '  ✓ 按流水号去重，未重复入账 / duplicates by sequence number: nothing posted twice' : `  ✗ 重复入账 / posted twice: ${moved.summary.posted}`);
  sim.record({ step: 'upload-other-batch', ok: allDuplicates, batchNo: moved.batchNo, replayed: moved.replayed, summary: moved.summary });
}

function printBatch(sim: Sim, a: BatchAnswer): void {
  const s = a.summary;
  sim.say(
    `  批次 batch ${a.batchNo}${a.replayed ? '（重放 / replayed）' : ''}: 收到 received ${s.received}，入账 posted ${s.posted}，重复 duplicates ${s.duplicates}，拒绝 rejected ${s.rejected}，透支 forced ${s.forced}，油站承担 station liability ${s.stationLiability}`,
  );
  for (const r of a.results) {
    const extra = [r.forced ? 'forced' : '', r.liability === 'station' ? 'station liability' : '', ...(r.flags ?? []), r.code ?? ''].filter(Boolean).join(', ');
    sim.say(`    seq ${r.seq}: ${r.status}${extra ? ` (${extra})` : ''}`);
  }
}

const mask = (cardNo: string): string => (cardNo.length > 8 ? `${cardNo.slice(0, 4)}…${cardNo.slice(-4)}` : cardNo);

