import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The terminal's own record (本机流水), one JSON object per line, appended as things happen:
 * a crash loses at most the line being written, and what the terminal approved offline is
 * on disk before the customer drives away. The shift close declares its totals from it.
 */

export type JournalEntry =
  /** An online answer that moved money (approved sale, completion, post-pay). */
  | { type: 'sale'; at: string; flow: 'online' | 'completion' | 'postpay'; saleId: string; ref: string; amount: number; goodsAmount: number }
  | { type: 'void'; at: string; saleId: string; amount: number }
  | { type: 'reversal'; at: string; originalRef: string; target: string; saleId?: string; amount: number }
  /** A sale the terminal approved alone, waiting for upload. */
  | {
      type: 'offline-sale';
      at: string;
      seq: number;
      cardNo: string;
      grade: string;
      volumeMl: number;
      unitPrice: number;
      amount: number;
      nozzle: number;
      occurredAt: string;
      approvalCode: string;
      businessDay: string;
      hotlistVersion: number;
    }
  | { type: 'offline-refused'; at: string; cardNo: string; amount: number; reason: string }
  | { type: 'offline-uploaded'; at: string; seq: number; batchNo: string; status: string; saleId?: string; amount: number; code?: string }
  | { type: 'shift-closed'; at: string; shiftId: number; shiftNo: number; balanced: boolean };

type Without<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;

export class Journal {
  readonly file: string;

  constructor(
    readonly dir: string,
    terminalId: string,
  ) {
    mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `journal-${terminalId}.jsonl`);
  }

  /** The default place: one directory per terminal under the system temp dir, kept between runs. */
  static defaultDir(terminalId: string): string {
    return path.join(tmpdir(), `fuelcard-pos-sim-${terminalId}`);
  }

  append(entry: Without<JournalEntry, 'at'>): void {
    appendFileSync(this.file, JSON.stringify({ ...entry, at: new Date().toISOString() }) + '\n');
  }

  entries(): JournalEntry[] {
    if (!existsSync(this.file)) return [];
    const out: JournalEntry[] = [];
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as JournalEntry);
      } catch {
        // A torn last line (a crash mid-write) is skipped: the entries before it are whole.
      }
    }
    return out;
  }

  /** Entries since the last shift close: the open shift, as the terminal saw it. */
  sinceShiftClose(): JournalEntry[] {
    const all = this.entries();
    let last = -1;
    all.forEach((e, i) => {
      if (e.type === 'shift-closed') last = i;
    });
    return all.slice(last + 1);
  }

  /** Offline sales not yet acknowledged by the server as posted, duplicate or rejected. */
  pendingOffline(): Extract<JournalEntry, { type: 'offline-sale' }>[] {
    const all = this.entries();
    const done = new Set(all.filter((e) => e.type === 'offline-uploaded').map((e) => (e as { seq: number }).seq));
    return all.filter((e): e is Extract<JournalEntry, { type: 'offline-sale' }> => e.type === 'offline-sale' && !done.has(e.seq));
  }

  /**
   * The next sequence number. The server knows a sale by (terminal, seq) forever, so a fresh
   * journal must not start again at 1: it starts at the clock in milliseconds, above anything an
   * earlier run with a lost journal could have used at a sale a millisecond.
   */
  nextSeq(): number {
    const seqs = this.entries().filter((e) => e.type === 'offline-sale').map((e) => (e as { seq: number }).seq);
    return Math.max(Date.now(), ...seqs.map((s) => s + 1));
  }

  writeJson(name: string, value: unknown): string {
    const file = path.join(this.dir, name);
    writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
    return file;
  }
}
