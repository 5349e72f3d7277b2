import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * CPU time from /proc, to say which process the 2 cores went to in each cell (Linux only;
 * elsewhere, and for a database on another machine, the columns read "n/a").
 */
let ticks: number | null = null;
function clockTicks(): number {
  if (ticks === null) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticks = Number(r.stdout?.trim()) || 100;
  }
  return ticks;
}

interface Stat {
  pid: number;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

function readStat(pid: number): Stat | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may itself contain spaces or parentheses.
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), utime: Number(f[11]), stime: Number(f[12]), cutime: Number(f[13]), cstime: Number(f[14]) };
  } catch {
    return null;
  }
}

/** CPU seconds a process has used so far (all its threads). */
export function processCpuSeconds(pid: number): number | null {
  const s = readStat(pid);
  return s ? (s.utime + s.stime) / clockTicks() : null;
}

export function parentPid(pid: number): number | null {
  return readStat(pid)?.ppid ?? null;
}

/**
 * CPU seconds of a PostgreSQL server so far: the postmaster, its live children, and the
 * children it has reaped (cutime/cstime) — pgbench's backends exit at the end of each run.
 */
export function postgresCpuSeconds(postmasterPid: number): number | null {
  const pm = readStat(postmasterPid);
  if (!pm) return null;
  let total = pm.utime + pm.stime + pm.cutime + pm.cstime;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (s && s.ppid === postmasterPid) total += s.utime + s.stime;
  }
  return total / clockTicks();
}

/** Samples a CPU counter around a piece of work; the result is the share of one core (1 = 100 %). */
export async function cpuShare<T>(counters: Array<() => number | null>, work: () => Promise<T>): Promise<{ result: T; shares: Array<number | null> }> {
  const before = counters.map((c) => c());
  const t0 = performance.now();
  const result = await work();
  const wall = (performance.now() - t0) / 1000;
  const shares = counters.map((c, i) => {
    const a = before[i];
    const b = c();
    return a === null || a === undefined || b === null ? null : (b - a) / wall;
  });
  return { result, shares };
}
