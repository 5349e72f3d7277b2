import client from 'prom-client';
import type pg from 'pg';

/** One registry per process; modules record through the named instruments below. */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

export const httpDuration = new client.Histogram({
  name: 'fuelcard_http_request_duration_seconds',
  help: 'HTTP request latency by route',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const saleOutcomes = new client.Counter({
  name: 'fuelcard_sale_outcomes_total',
  help: 'Sale authorisations by outcome and decline code',
  labelNames: ['status', 'code'] as const,
  registers: [registry],
});

export function registerPoolMetrics(pool: pg.Pool): void {
  registry.removeSingleMetric('fuelcard_db_pool_connections');
  new client.Gauge({
    name: 'fuelcard_db_pool_connections',
    help: 'Database pool connections by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
}
