import { sql } from 'kysely';
import type { Executor } from './db.js';
import type { Role } from './rbac.js';

/** Who is acting, and from where: carried from the request into every use case that changes something. */
export interface Actor {
  readonly staffId: number | null;
  readonly name: string;
  readonly role: Role | 'system' | 'terminal';
  readonly ip: string | null;
  readonly requestId: string | null;
  readonly stationId?: number | null;
}

export const systemActor: Actor = { staffId: null, name: 'system', role: 'system', ip: null, requestId: null };

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId: string | number | null;
  details?: Record<string, unknown>;
}

/** Append one row to the audit log, in the caller's transaction so it commits with the change. */
export async function audit(db: Executor, actor: Actor, entry: AuditEntry): Promise<void> {
  await sql`insert into audit_log (actor_id, actor_name, actor_role, action, target_type, target_id, details, ip, request_id)
    values (${actor.staffId}, ${actor.name}, ${actor.role}, ${entry.action}, ${entry.targetType},
            ${entry.targetId === null ? null : String(entry.targetId)}, ${JSON.stringify(entry.details ?? {})}::jsonb,
            ${actor.ip}, ${actor.requestId})`.execute(db);
}

// The chain that makes these rows tamper-evident (sealer, verify, console status).
export * from './audit-chain.js';
