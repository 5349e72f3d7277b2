import { newTerminalRef } from './terminal-client.js';
import { yuan, type Sim } from './pos-sim-core.js';
import type { JournalEntry } from './pos-sim-journal.js';

/**
 * Shift close (交班): the terminal declares its own totals, counted from its journal since the
 * last close, and the platform answers with its record and the differences.
 */

export const SHIFT_KINDS = ['online', 'completion', 'postpay', 'offline', 'voided', 'reversed', 'goods'] as const;
export type ShiftKind = (typeof SHIFT_KINDS)[number];
export interface Total {
  kind: ShiftKind;
  count: number;
  amount: number;
}

/**
 * Totals by kind: approved sales by flow, voided and reversed by what became of them, goods
 * as the store part inside the approved ones. Offline sales count in the shift that uploaded
 * them (the platform records them then), and only those it posted.
 */
export function declaredTotals(entries: JournalEntry[]): Total[] {
  const sales = new Map<string, { kind: ShiftKind; amount: number; goods: number }>();
  for (const e of entries) {
    if (e.type === 'sale') sales.set(e.saleId, { kind: e.flow, amount: e.amount, goods: e.goodsAmount });
    else if (e.type === 'offline-uploaded' && e.status === 'posted' && e.saleId) sales.set(e.saleId, { kind: 'offline', amount: e.amount, goods: 0 });
    else if (e.type === 'void') {
      const s = sales.get(e.saleId);
      if (s) s.kind = 'voided';
    } else if (e.type === 'reversal' && e.saleId) {
      const s = sales.get(e.saleId);
      if (s) s.kind = 'reversed';
    }
  }
  const totals = new Map<ShiftKind, Total>(SHIFT_KINDS.map((k) => [k, { kind: k, count: 0, amount: 0 }]));
  for (const s of sales.values()) {
    const t = totals.get(s.kind)!;
    t.count++;
    t.amount += s.amount;
    if (s.goods > 0 && s.kind !== 'voided' && s.kind !== 'reversed') {
      const g = totals.get('goods')!;
      g.count++;
      g.amount += s.goods;
    }
  }
  return [...totals.values()];
}

interface CloseAnswer {
  shiftId: number;
  shiftNo: number;
  openedAt: string;
  closedAt: string;
  businessDay: string;
  declared: Total[];
  computed: Total[];
  differences: Array<{ kind: string; declaredCount: number; computedCount: number; declaredAmount: number; computedAmount: number }>;
  balanced: boolean;
  openAuthorisations: number;
  unpaidPumpSales: number;
}

export async function shiftCloseScenario(sim: Sim, o: { cashier?: string; endOfDay?: boolean; miscount?: boolean }): Promise<void> {
  sim.heading('交班：申报本机合计并与平台核对', 'shift close: declare the local totals, compare with the platform');
  const declared = declaredTotals(sim.journal.sinceShiftClose());
  if (o.miscount) {
    // Deliberately one sale short, to show what a difference looks like.
    const t = declared.find((x) => x.count > 0 && x.kind !== 'goods');
    if (t) {
      t.count -= 1;
      t.amount = Math.max(0, t.amount - 1_000);
    }
  }
  sim.say(`  本机流水 / journal: ${sim.journal.file}`);
  for (const t of declared) if (t.count > 0 || t.amount > 0) sim.say(`  申报 declared ${t.kind.padEnd(10)} ${String(t.count).padStart(4)} 笔  ${yuan(t.amount)}`);
  const r = await sim.must('POST', '/api/v1/pos/shifts/close', { cashier: o.cashier ?? 'pos-sim', endOfDay: o.endOfDay ?? false, declared }, newTerminalRef());
  const a = r.body as CloseAnswer;
  sim.say(`  班次 shift ${a.shiftNo} (#${a.shiftId}) ${a.openedAt} → ${a.closedAt}，营业日 business day ${a.businessDay}`);
  sim.say(`  ${'kind'.padEnd(10)} ${'declared'.padStart(16)} ${'platform'.padStart(16)}`);
  for (const k of SHIFT_KINDS) {
    const d = a.declared.find((x) => x.kind === k) ?? { count: 0, amount: 0 };
    const c = a.computed.find((x) => x.kind === k) ?? { count: 0, amount: 0 };
    if (d.count === 0 && c.count === 0 && d.amount === 0 && c.amount === 0) continue;
    const mark = d.count === c.count && d.amount === c.amount ? ' ' : '≠';
    sim.say(`  ${k.padEnd(10)} ${`${d.count} ${yuan(d.amount)}`.padStart(16)} ${`${c.count} ${yuan(c.amount)}`.padStart(16)} ${mark}`);
  }
  sim.say(
    a.balanced
      ? '  ✓ 账实相符 / balanced: the terminal and the platform agree'
      : `  ✗ 存在差异 / differences: ${a.differences.map((x) => `${x.kind} ${x.declaredCount}/${x.computedCount} ${yuan(x.declaredAmount)}/${yuan(x.computedAmount)}`).join('; ')}`,
  );
  if (a.openAuthorisations > 0 || a.unpaidPumpSales > 0) sim.say(`  注意 / note: 未完成预授权 open authorisations ${a.openAuthorisations}，未付款加油 unpaid pump sales ${a.unpaidPumpSales}`);
  sim.journal.append({ type: 'shift-closed', shiftId: a.shiftId, shiftNo: a.shiftNo, balanced: a.balanced });
  // With --miscount a difference is the expected outcome.
  sim.record({ step: 'shift-close', ok: o.miscount ? !a.balanced : a.balanced, ...a, latencyMs: Math.round(r.ms) });
}
