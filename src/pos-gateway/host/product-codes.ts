/**
 * Fuel grades ↔ DE 62 / DE 63 product codes. Our grade codes carry '#' and '-' (92#, -10#), which a
 * product code (an 1..8) cannot, so the wire code is derived from the grade: '#' and '_' dropped,
 * '-' → 'M' (minus), '+' → 'P': 92# → 92, 0# → 0, -10# → M10. The host resolves an incoming code
 * against the grades table; a code two grades would share is refused rather than guessed
 * (docs/pos-mapping.md "Product codes").
 */
import { sql } from 'kysely';
import type { Executor } from '../../platform/index.js';

export function isoProductCode(grade: string): string {
  return grade.replace(/[#_]/g, '').replace(/-/g, 'M').replace(/\+/g, 'P');
}

export type GradeLookup = { ok: true; grade: string } | { ok: false; reason: 'unknown' | 'ambiguous' };

const CACHE_MS = 30_000;
const caches = new WeakMap<object, { at: number; byCode: Map<string, string[]> }>();

/** The grade a product code names (grades change rarely: read at most every 30 s per database). */
export async function gradeForProductCode(db: Executor, code: string, now = Date.now()): Promise<GradeLookup> {
  let c = caches.get(db);
  if (!c || now - c.at > CACHE_MS) {
    const rows = (await sql<{ code: string }>`select code from fuel_grades`.execute(db)).rows;
    const byCode = new Map<string, string[]>();
    for (const r of rows) {
      const k = isoProductCode(r.code).toUpperCase();
      byCode.set(k, [...(byCode.get(k) ?? []), r.code]);
    }
    c = { at: now, byCode };
    caches.set(db, c);
  }
  const grades = c.byCode.get(code.toUpperCase()) ?? [];
  if (grades.length === 1) return { ok: true, grade: grades[0]! };
  // A grade added a moment ago is not in the cache yet: one fresh read before refusing.
  if (grades.length === 0 && c.at !== now) {
    caches.delete(db);
    return gradeForProductCode(db, code, now);
  }
  return { ok: false, reason: grades.length === 0 ? 'unknown' : 'ambiguous' };
}
