import { sql } from 'kysely';
import type { Actor, Db, Role, Trx } from '../platform/index.js';
import { audit, hashPassword, platformError, TOTP_ROLES } from '../platform/index.js';
import { getStation } from '../stations/index.js';
import { customerExists, customersError } from '../customers/index.js';
import { staffError } from './staff.errors.js';
import { assertCustomerFits, assertMayManage } from './staff.policy.js';
import { type StaffUser } from './staff.service.js';

export interface StaffChange {
  displayName?: string;
  role?: Role;
  stationId?: number | null;
  customerId?: number | null;
  status?: 'active' | 'disabled';
}

type StaffRow = { id: number; username: string; display_name: string; role: Role; station_id: number | null; customer_id: number | null; status: 'active' | 'disabled'; created_at: Date };
const COLUMNS = sql.raw('id, username, display_name, role, station_id, customer_id, status, created_at');

const toUser = (u: StaffRow): StaffUser => ({
  id: u.id,
  username: u.username,
  displayName: u.display_name,
  role: u.role,
  stationId: u.station_id,
  customerId: u.customer_id,
  status: u.status,
  createdAt: u.created_at.toISOString(),
});

/**
 * Changes of staff users are serialised by one advisory lock: otherwise two administrators
 * disabling (or demoting) each other at the same moment would each see the other as the spare
 * admin and both succeed, leaving nobody who can manage staff.
 */
async function lockStaffChanges(trx: Trx, actor: Actor): Promise<Actor['role']> {
  await sql`select pg_advisory_xact_lock(7301004)`.execute(trx);
  if (actor.staffId === null) return actor.role;
  // The actor was checked when the request arrived; under the lock, check again that a change
  // committed meanwhile has not disabled or demoted them.
  const r = await sql<{ role: Role; status: string }>`select role, status from staff_users where id = ${actor.staffId}`.execute(trx);
  const me = r.rows[0];
  if (!me || me.status !== 'active') throw platformError('UNAUTHENTICATED');
  if (me.role !== 'admin' && me.role !== 'security_officer') throw platformError('FORBIDDEN', { role: me.role });
  return me.role;
}

/**
 * Edit a staff user. Nobody disables themselves or changes their own role (STAFF_SELF_CHANGE),
 * and the last active admin stays one (STAFF_LAST_ADMIN). Who may touch which account, and grant
 * which role, is staff.policy.ts (三员分立: STAFF_ROLE_SEPARATION), checked with the actor's role as
 * it stands under the lock. Disabling ends the user's sessions, so
 * enabling them again does not bring old tokens back; a new role or station applies to open
 * sessions at their next request (sessions read them from the user).
 */
export async function updateStaff(db: Db, actor: Actor, id: number, input: StaffChange): Promise<StaffUser> {
  return db.transaction().execute(async (trx) => {
    const role = await lockStaffChanges(trx, actor);
    const r = await sql<StaffRow>`select ${COLUMNS} from staff_users where id = ${id} for update`.execute(trx);
    const cur = r.rows[0];
    if (!cur) throw staffError('STAFF_NOT_FOUND', { staffId: id });
    const next = {
      displayName: input.displayName?.trim() ?? cur.display_name,
      role: input.role ?? cur.role,
      stationId: input.stationId === undefined ? cur.station_id : input.stationId,
      // A role that acts for no customer drops the link; one that needs it keeps it unless changed.
      customerId: input.customerId === undefined ? (input.role !== undefined && input.role !== cur.role && !['enterprise_admin', 'department_admin'].includes(input.role) ? null : cur.customer_id) : input.customerId,
      status: input.status ?? cur.status,
    };
    if (actor.staffId === id) {
      if (next.status !== 'active') throw staffError('STAFF_SELF_CHANGE', { field: 'status' });
      if (next.role !== cur.role) throw staffError('STAFF_SELF_CHANGE', { field: 'role' });
    }
    assertMayManage({ ...actor, role }, cur.role, next.role);
    assertCustomerFits({ ...actor, role }, next.role, next.customerId);
    if (next.customerId !== null && next.customerId !== cur.customer_id && !(await customerExists(trx, next.customerId))) {
      throw customersError('CUSTOMER_NOT_FOUND', { customerId: next.customerId });
    }
    const wasActiveAdmin = cur.role === 'admin' && cur.status === 'active';
    if (wasActiveAdmin && (next.role !== 'admin' || next.status !== 'active')) {
      const others = await sql<{ n: number }>`select count(*)::int n from staff_users where role = 'admin' and status = 'active' and id <> ${id}`.execute(trx);
      if ((others.rows[0]?.n ?? 0) === 0) throw staffError('STAFF_LAST_ADMIN', { staffId: id });
    }
    // Checked here for a clear 404 (the column has no foreign key).
    if (next.stationId !== null && next.stationId !== cur.station_id) await getStation(trx, next.stationId);

    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (next.displayName !== cur.display_name) changes.displayName = { from: cur.display_name, to: next.displayName };
    if (next.role !== cur.role) changes.role = { from: cur.role, to: next.role };
    if (next.stationId !== cur.station_id) changes.stationId = { from: cur.station_id, to: next.stationId };
    if (next.customerId !== cur.customer_id) changes.customerId = { from: cur.customer_id, to: next.customerId };
    if (next.status !== cur.status) changes.status = { from: cur.status, to: next.status };
    if (Object.keys(changes).length === 0) return toUser(cur);

    const u = await sql<StaffRow>`update staff_users set display_name = ${next.displayName}, role = ${next.role}, station_id = ${next.stationId},
      customer_id = ${next.customerId}, status = ${next.status}
      where id = ${id} returning ${COLUMNS}`.execute(trx);
    let sessionsEnded = 0;
    // Becoming an administrator ends the sessions too: one opened without a second factor must not
    // turn into an administrator's session that skipped it. Other role changes apply at once.
    const toAdministrator = changes.role !== undefined && TOTP_ROLES.includes(next.role);
    if ((changes.status && next.status === 'disabled') || toAdministrator) {
      const s = await sql`update staff_sessions set revoked_at = now() where user_id = ${id} and revoked_at is null`.execute(trx);
      sessionsEnded = Number(s.numAffectedRows ?? 0);
    }
    const action = changes.status ? (next.status === 'disabled' ? 'staff.disable' : 'staff.enable') : 'staff.update';
    await audit(trx, actor, { action, targetType: 'staff', targetId: id, details: { username: cur.username, changes, ...(changes.status || toAdministrator ? { sessionsEnded } : {}) } });
    return toUser(u.rows[0]!);
  });
}

/**
 * A staff manager sets a staff user's password (a forgotten one, a handover), within the
 * three-role split (an administrator's only by another administrator). The user's sessions and
 * pending sign-in challenges end, and the login lockout counts afresh (it starts after the last staff.set_password).
 */
export async function resetStaffPassword(db: Db, actor: Actor, id: number, password: string): Promise<void> {
  if (password.length < 10) throw staffError('STAFF_PASSWORD_WEAK', { field: 'password' });
  const hash = await hashPassword(password);
  await db.transaction().execute(async (trx) => {
    const role = await lockStaffChanges(trx, actor);
    const target = await sql<{ role: Role }>`select role from staff_users where id = ${id} for update`.execute(trx);
    if (!target.rows[0]) throw staffError('STAFF_NOT_FOUND', { staffId: id });
    assertMayManage({ ...actor, role }, target.rows[0].role);
    const r = await sql<{ username: string }>`update staff_users set password_hash = ${hash} where id = ${id} returning username`.execute(trx);
    const user = r.rows[0]!;
    const s = await sql`update staff_sessions set revoked_at = now() where user_id = ${id} and revoked_at is null`.execute(trx);
    // A challenge earned with the old password must not outlive it.
    await sql`delete from staff_login_challenges where staff_id = ${id}`.execute(trx);
    await audit(trx, actor, { action: 'staff.set_password', targetType: 'staff', targetId: id, details: { username: user.username, sessionsEnded: Number(s.numAffectedRows ?? 0) } });
  });
}
