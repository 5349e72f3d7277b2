import type { Config } from '../platform/index.js';

/** Cardholder session lifetime (FUELCARD_PORTAL_SESSION_TTL_MIN, validated by platform config). */
export function portalSessionTtlMs(config: Config): number {
  return config.portalSessionTtlMs;
}
