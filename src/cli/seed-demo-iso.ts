import { sql } from 'kysely';
import type { Config, Db } from '../platform/index.js';
import { fieldCipherFor, platformError } from '../platform/index.js';
import { getNozzles, pricesInForce, registerTerminal } from '../stations/index.js';
import { isoProductCode, keyCeremony } from '../pos-gateway/index.js';
import { DEMO_CARD_PIN } from './seed-demo.js';

/**
 * The demo's ISO 8583 terminal (`npm start` on a fresh demo database, development keys only): a
 * second terminal at the cashier station, keyed by the same key ceremony the console runs, and the
 * `fuelcard pos-sim --iso8583` line that drives it. A terminal of its own, not the web POS's: the
 * sim's `all` scenario reconciles and closes its terminal's shift, which must hold only its sales.
 */

/** The environment variable the printed command reads the demo card's PIN from (kept out of the argv). */
export const DEMO_ISO_PIN_ENV = 'FUELCARD_SIM_PIN';

const seedIsoActor = { staffId: null, name: 'seed-demo', role: 'system', ip: null, requestId: null } as const;

export interface DemoIsoOptions {
  /** The terminal host's TCP port (what startPosGateway listens on). */
  port: number;
  /** Where the sim connects; default 127.0.0.1. */
  host?: string;
  /** The demo cardholder's card: with it the line runs `all`, without it only `signon`. */
  cardNo: string | null;
}

export interface DemoIso {
  /** The new platform terminal (T + 8 digits) and its DE 41. */
  terminalId: string;
  isoTerminalId: string;
  stationId: number;
  /** 92# at the station now (fen/L) and the nozzle/pump that sells it. */
  unitPrice: number;
  nozzle: number;
  pump: number;
  /** `fuelcard pos-sim …` as printed; the arguments after `fuelcard pos-sim` are `argv`. */
  command: string;
  argv: string[];
  /** What the command reads from the environment (the PIN). */
  env: Record<string, string>;
  /** The whole line to print: the environment assignment, then the command. */
  line: string;
}

/**
 * Registers a second terminal at the station of `posTerminalId` (the demo web POS's terminal),
 * runs the TDES key ceremony for it and returns the simulator command keyed from its answer.
 * The sim defaults to nozzle 1 at 800 fen/L; the command names the station's own 92# nozzle and
 * price instead whenever they differ, or the host would decline PRICE_MISMATCH.
 */
export async function seedDemoIso(deps: { db: Db; config: Config }, posTerminalId: string, opts: DemoIsoOptions): Promise<DemoIso> {
  const { db, config } = deps;
  const station = (await sql<{ station_id: number }>`select station_id from terminals where id = ${posTerminalId}`.execute(db)).rows[0];
  if (!station) throw platformError('NOT_FOUND', { terminalId: posTerminalId });
  const stationId = Number(station.station_id);

  const grade = '92#';
  const product = isoProductCode(grade);
  const nozzle = (await getNozzles(db, stationId)).find((n) => n.grade === grade);
  const price = (await pricesInForce(db, stationId)).find((p) => p.grade === grade);
  if (!nozzle || !price) {
    throw platformError('VALIDATION_FAILED', { stationId }, `演示油站没有 ${grade} 油枪或油价 / the demo station has no ${grade} nozzle or price in force`);
  }

  const terminal = await registerTerminal(db, fieldCipherFor(config), seedIsoActor, stationId);
  const answer = await keyCeremony(deps, seedIsoActor, terminal.terminalId, { algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', pinFormat: 0, framing: 'auto' });
  const tmk = answer.tmk!;
  const tak = answer.initialMacKey!;

  const argv = ['--iso8583', '--host', opts.host ?? '127.0.0.1', '--port', String(opts.port), '--terminal', answer.isoTerminalId];
  argv.push('--tmk', `${tmk.components[0]!.hex}+${tmk.components[1]!.hex}`, '--tak', `${tak.encryptedUnderTmk}:${tak.kcv}`);
  // DE 12 is station local time; the sim's default is this machine's zone.
  if (config.timeZone !== Intl.DateTimeFormat().resolvedOptions().timeZone) argv.push('--time-zone', config.timeZone);
  const env: Record<string, string> = {};
  if (opts.cardNo !== null) {
    argv.push('all', '--card', opts.cardNo, '--pin-env', DEMO_ISO_PIN_ENV);
    env[DEMO_ISO_PIN_ENV] = DEMO_CARD_PIN;
    if (price.unitPrice !== 800) argv.push('--unit-price', String(price.unitPrice));
    if (nozzle.nozzle !== 1) argv.push('--nozzle', String(nozzle.nozzle));
    if (nozzle.pump !== null && nozzle.pump !== 1) argv.push('--pump', String(nozzle.pump));
    if (product !== '92') argv.push('--product', product);
  } else {
    argv.push('signon');
  }
  const command = ['fuelcard', 'pos-sim', ...argv].join(' ');
  const line = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), command].join(' ');
  return { terminalId: terminal.terminalId, isoTerminalId: answer.isoTerminalId, stationId, unitPrice: price.unitPrice, nozzle: nozzle.nozzle, pump: nozzle.pump ?? 1, command, argv, env, line };
}
