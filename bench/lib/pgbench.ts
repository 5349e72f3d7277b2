import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { percentile } from './http-load.js';

export const SCRIPT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../pgbench/sale.sql');

/** pgbench from PATH (or BENCH_PGBENCH), else a Debian/Ubuntu PostgreSQL install; null when there is none. */
export function findPgbench(preferred: string): { path: string; version: string } | null {
  const candidates = [preferred];
  const debian = '/usr/lib/postgresql';
  if (fs.existsSync(debian)) {
    for (const v of fs.readdirSync(debian).sort().reverse()) candidates.push(path.join(debian, v, 'bin', 'pgbench'));
  }
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { path: c, version: r.stdout.trim() };
  }
  return null;
}

export interface PgbenchResult {
  transactions: number;
  failed: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * One pgbench run of the sale script. Latency percentiles come from the per-transaction log
 * (-l): pgbench itself prints only the average.
 */
export async function runPgbench(opts: {
  pgbench: string;
  url: string;
  clients: number;
  seconds: number;
  mode: 'prepared' | 'extended';
  vars: Record<string, string | number>;
  workDir: string;
  label: string;
}): Promise<PgbenchResult & { output: string }> {
  const prefix = path.join(opts.workDir, `pgbench_${opts.label}`);
  const args = [
    '-n',
    '-M', opts.mode,
    '-f', SCRIPT,
    '-c', String(opts.clients),
    '-j', String(Math.min(opts.clients, 2)),
    '-T', String(opts.seconds),
    '--max-tries=10',
    '-l', `--log-prefix=${prefix}`,
    ...Object.entries(opts.vars).flatMap(([k, v]) => ['-D', `${k}=${v}`]),
    opts.url,
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(opts.pgbench, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`pgbench exited with ${code}:\n${out.split('\n').slice(-25).join('\n')}`))));
  });

  const latencies: number[] = [];
  let failedInLog = 0;
  const base = path.basename(prefix);
  for (const f of fs.readdirSync(opts.workDir)) {
    if (!f.startsWith(`${base}.`)) continue;
    const file = path.join(opts.workDir, f);
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      // client_id transaction_no time script_no time_epoch time_us [retries]; time is µs, or "failed"/"skipped"
      const t = line.split(' ')[2];
      const us = Number(t);
      if (Number.isFinite(us)) latencies.push(us / 1000);
      else failedInLog++;
    }
    fs.rmSync(file);
  }
  const sorted = Float64Array.from(latencies).sort();
  const processed = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1] ?? latencies.length);
  const failed = Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? failedInLog);
  const tps = Number(/tps = ([\d.]+)/.exec(output)?.[1] ?? NaN);
  return {
    transactions: processed,
    failed,
    seconds: tps > 0 ? processed / tps : opts.seconds,
    perSecond: tps,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.length ? sorted[sorted.length - 1]! : NaN,
    output,
  };
}
