/**
 * The terminal's own record of its shift (班次), kept on the device, and the totals it declares at
 * shift close. The platform computes the same kinds from its sales (docs/reversals-shifts.md):
 * approved sales by flow, voided and reversed sales by their status, and goods = the store part
 * inside approved sales.
 */

export type SaleFlow = 'online' | 'completion' | 'postpay' | 'offline';
export type ShiftKind = SaleFlow | 'voided' | 'reversed' | 'goods';
export const SHIFT_KINDS: ShiftKind[] = ['online', 'completion', 'postpay', 'offline', 'voided', 'reversed', 'goods'];

/** One sale this terminal made in the open shift, as it knows it. */
export interface ShiftEntry {
  /** The terminal's reference: the Idempotency-Key, or offline:<seq>. */
  ref: string;
  saleId?: string;
  flow: SaleFlow;
  status: 'approved' | 'voided' | 'reversed';
  amount: number;
  goodsAmount: number;
  cardNo: string;
  at: string;
  /** e.g. "92# 30.000 L" for the list. */
  label: string;
}

export interface Declared {
  kind: ShiftKind;
  count: number;
  amount: number;
}

export function declaredTotals(entries: ShiftEntry[]): Declared[] {
  const out = new Map<ShiftKind, Declared>(SHIFT_KINDS.map((k) => [k, { kind: k, count: 0, amount: 0 }]));
  const add = (k: ShiftKind, amount: number) => {
    const d = out.get(k)!;
    d.count += 1;
    d.amount += amount;
  };
  for (const e of entries) {
    if (e.status === 'approved') {
      add(e.flow, e.amount);
      if (e.goodsAmount > 0) add('goods', e.goodsAmount);
    } else add(e.status, e.amount);
  }
  return SHIFT_KINDS.map((k) => out.get(k)!);
}

/** Adds a sale, or replaces the entry with the same ref (a retry's answer is the same sale). */
export function recordEntry(entries: ShiftEntry[], e: ShiftEntry): ShiftEntry[] {
  const i = entries.findIndex((x) => x.ref === e.ref);
  if (i < 0) return [...entries, e];
  const next = entries.slice();
  next[i] = e;
  return next;
}

export function markStatus(entries: ShiftEntry[], saleId: string, status: 'voided' | 'reversed'): ShiftEntry[] {
  return entries.map((e) => (e.saleId === saleId ? { ...e, status } : e));
}

/** The cashier may void an approved sale of this shift that the platform knows by id (offline ones are reversed by the back office). */
export function voidable(e: ShiftEntry): boolean {
  return e.status === 'approved' && !!e.saleId && e.flow !== 'offline';
}

/** A difference row of the shift-close answer. */
export interface Difference {
  kind: ShiftKind;
  declaredCount: number;
  computedCount: number;
  declaredAmount: number;
  computedAmount: number;
}

/** Rows to show side by side: every kind either side has, with whether it agrees. */
export function compareRows(declared: Declared[], computed: Declared[]): Array<Difference & { agrees: boolean }> {
  const kinds = new Set<ShiftKind>([...declared.map((d) => d.kind), ...computed.map((d) => d.kind)]);
  const ordered = SHIFT_KINDS.filter((k) => kinds.has(k));
  return ordered.map((kind) => {
    const d = declared.find((x) => x.kind === kind) ?? { count: 0, amount: 0 };
    const c = computed.find((x) => x.kind === kind) ?? { count: 0, amount: 0 };
    return { kind, declaredCount: d.count, computedCount: c.count, declaredAmount: d.amount, computedAmount: c.amount, agrees: d.count === c.count && d.amount === c.amount };
  });
}

/** Parses the saved shift record; anything unreadable is an empty shift. */
export function parseShift(raw: string | null): ShiftEntry[] {
  if (!raw) return [];
  try {
    const v = JSON.parse(raw);
    return Array.isArray(v) ? (v as ShiftEntry[]) : [];
  } catch {
    return [];
  }
}
