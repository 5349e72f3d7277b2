/**
 * The terminal directory on PostgreSQL (pos_terminals joined with terminals). DE 41 is the
 * terminal's iso_terminal_id (8 characters; our terminal ids are 9). A terminal is active only
 * while both the platform terminal and its ISO 8583 profile are enabled.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/index.js';
import type { KeyAlgorithm, MacAlgorithm, PinBlockFormat } from '../crypto/index.js';
import { posKeyRefs } from './db-keystore.js';
import type { TerminalDirectory, TerminalRecord, TerminalSession } from './session-directory.js';

interface Row {
  terminal_id: string;
  station_id: string;
  iso_terminal_id: string;
  framing: string;
  mac_algorithm: string;
  pin_format: number;
  key_algorithm: string;
  enabled: boolean;
  terminal_status: string;
  signed_on: boolean;
  signed_on_at: Date | null;
  signed_off_at: Date | null;
  tak_version: number | null;
  tpk_version: number | null;
  key_management: string;
  dukpt_bdk_ref: string | null;
  dukpt_device: string | null;
}

/**
 * A message asks for the terminal's record (always read: a terminal disabled at the console is
 * refused at once) and then for its session, which reuses the row that read just fetched if it is
 * this young. Changes made through this directory (sign-on, sign-off, key change) drop it at once.
 */
const ROW_TTL_MS = 1_000;

export class DbTerminalDirectory implements TerminalDirectory {
  readonly #rows = new Map<string, { at: number; row: Promise<Row | null> }>();

  constructor(private readonly db: Db) {}

  #row(isoTerminalId: string, reuse: boolean): Promise<Row | null> {
    const now = Date.now();
    const hit = this.#rows.get(isoTerminalId);
    if (reuse && hit && now - hit.at < ROW_TTL_MS) return hit.row;
    if (this.#rows.size > 10_000) this.#rows.clear(); // garbage DE 41s cannot grow it without bound
    const row = this.#read(isoTerminalId);
    this.#rows.set(isoTerminalId, { at: now, row });
    row.catch(() => this.#rows.delete(isoTerminalId));
    return row;
  }

  async #read(isoTerminalId: string): Promise<Row | null> {
    const r = await sql<Row>`select p.terminal_id, t.station_id::text, p.iso_terminal_id, p.framing, p.mac_algorithm, p.pin_format, p.key_algorithm, p.enabled,
        t.status as terminal_status, p.signed_on, p.signed_on_at, p.signed_off_at, p.tak_version, p.tpk_version,
        p.key_management, p.dukpt_bdk_ref, p.dukpt_device
      from pos_terminals p join terminals t on t.id = p.terminal_id where p.iso_terminal_id = ${isoTerminalId}`.execute(this.db);
    return r.rows[0] ?? null;
  }

  async get(terminalId: string): Promise<TerminalRecord | null> {
    const r = await this.#row(terminalId, false);
    if (!r) return null;
    return {
      terminalId: r.iso_terminal_id,
      platform: { id: r.terminal_id, stationId: Number(r.station_id) },
      status: r.enabled && r.terminal_status === 'active' ? 'active' : 'disabled',
      framing: r.framing === 'ascii4' ? 'ascii' : 'binary',
      macAlgorithm: r.mac_algorithm as MacAlgorithm,
      pinFormat: r.pin_format as PinBlockFormat,
      keys: posKeyRefs(r.terminal_id),
      sessionKeys: { algorithm: r.key_algorithm as KeyAlgorithm },
      ...(r.key_management === 'dukpt' && r.dukpt_bdk_ref && r.dukpt_device
        ? {
            keyManagement: 'dukpt' as const,
            dukpt: { scheme: r.key_algorithm === 'aes' ? ('aes' as const) : ('tdes' as const), bdkRef: r.dukpt_bdk_ref, device: r.dukpt_device },
          }
        : { keyManagement: 'session' as const }),
    };
  }

  async session(terminalId: string): Promise<TerminalSession> {
    const r = await this.#row(terminalId, true);
    return {
      signedOn: r?.signed_on ?? false,
      lastSignOnAt: r?.signed_on_at ?? null,
      lastSignOffAt: r?.signed_off_at ?? null,
      keyVersions: r && r.tak_version !== null && r.tpk_version !== null ? { tak: r.tak_version, tpk: r.tpk_version } : null,
    };
  }

  async recordSignOn(terminalId: string, at: Date, v: { tak: number; tpk: number } | null): Promise<void> {
    this.#rows.delete(terminalId);
    await sql`update pos_terminals set signed_on = true, signed_on_at = ${at}, tak_version = ${v?.tak ?? null}, tpk_version = ${v?.tpk ?? null}, updated_at = now()
      where iso_terminal_id = ${terminalId}`.execute(this.db);
    this.#rows.delete(terminalId); // and again: a read that raced the update must not stay cached
  }

  async recordSignOff(terminalId: string, at: Date): Promise<void> {
    this.#rows.delete(terminalId);
    await sql`update pos_terminals set signed_on = false, signed_off_at = ${at}, updated_at = now() where iso_terminal_id = ${terminalId}`.execute(this.db);
    this.#rows.delete(terminalId); // and again: a read that raced the update must not stay cached
  }

  async recordKeyChange(terminalId: string, _at: Date, v: { tak: number; tpk: number }): Promise<void> {
    this.#rows.delete(terminalId);
    await sql`update pos_terminals set tak_version = ${v.tak}, tpk_version = ${v.tpk}, updated_at = now() where iso_terminal_id = ${terminalId}`.execute(this.db);
    this.#rows.delete(terminalId); // and again: a read that raced the update must not stay cached
  }

  /** For operations: the last authenticated message. Not part of the session contract. */
  async touch(terminalId: string, at: Date): Promise<void> {
    await sql`update pos_terminals set last_message_at = ${at} where iso_terminal_id = ${terminalId}`.execute(this.db);
  }
}
