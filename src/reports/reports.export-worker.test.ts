import { describe, expect, it, vi } from 'vitest';

// Worker threads that cannot start: the Worker constructor throws (as it does when the process
// is out of memory or threads). Only the constructor is replaced, and only while `failing`.
const control = vi.hoisted(() => ({ failing: false, constructed: 0 }));
vi.mock('node:worker_threads', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:worker_threads')>();
  class FlakyWorker extends real.Worker {
    constructor(...args: ConstructorParameters<typeof real.Worker>) {
      if (control.failing) throw new Error('cannot start a worker thread');
      super(...args);
      control.constructed++;
    }
  }
  return { ...real, Worker: FlakyWorker };
});

const { buildXlsx } = await import('./reports.export.js');

const source = {
  count: async () => 1,
  page: async () => ({ rows: [{ n: 1 }], nextCursor: null }),
};
const columns = [{ header: 'n', width: 4, value: (r: { n: number }) => r.n }];

/** A leaked slot shows as a wait that never ends: fail in seconds instead. */
const within = <T>(p: Promise<T>): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the export is waiting for a slot nobody holds')), 5_000))]);

describe('an export whose worker cannot start', () => {
  it('gives its slot back: later exports neither wait nor get REPORT_EXPORTS_BUSY', async () => {
    control.failing = true;
    // More failures than there are running and waiting slots together (2 + 8).
    for (let i = 0; i < 12; i++) {
      await expect(within(buildXlsx('s', columns, source))).rejects.toThrow('cannot start a worker thread');
    }
    control.failing = false;
    // Two at once, the most that may run: neither should queue behind a leaked slot.
    const built = await within(Promise.all([buildXlsx('s', columns, source), buildXlsx('s', columns, source)]));
    expect(built.map((b) => b.rows)).toEqual([1, 1]);
    expect(built[0]!.bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    expect(control.constructed).toBe(2);
  });
});
