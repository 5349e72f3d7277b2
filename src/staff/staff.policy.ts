import type { Actor, Role } from '../platform/index.js';
import { platformError, TOTP_ROLES } from '../platform/index.js';
import { staffError } from './staff.errors.js';

/**
 * Who may manage whose staff account, the three-role split (三员分立) of 等保 2.0 level 3. The
 * system administrator (系统管理员) and the security officer (安全管理员) each manage operational
 * accounts and their own kind, and neither touches the other's: the administrator may not create,
 * change, reset or grant a security officer or auditor, so the people who watch the administrator
 * are not chosen by them; the security officer may not create, change, reset (password or second
 * factor) or grant an administrator, so resetting an administrator's password and factor cannot
 * become signing in as one. Administrators are managed by other administrators, the first one by
 * the CLI (`create-admin`). The auditor manages nothing. Nobody changes their own role
 * (staff.manage.ts). The system actor (CLI, first start, demo seed) is trusted.
 */
const GUARDED_FROM: Partial<Record<Actor['role'], readonly Role[]>> = {
  admin: ['security_officer', 'auditor'],
  security_officer: ['admin'],
};

export function mayManageRole(actorRole: Actor['role'], target: Role): boolean {
  if (actorRole === 'system') return true;
  if (actorRole === 'security_officer' || actorRole === 'admin') return !(GUARDED_FROM[actorRole] ?? []).includes(target);
  return false;
}

/** Refuses a staff actor who may not manage an account of this role. */
export function assertMayManage(actor: Actor, ...roles: Role[]): void {
  if (actor.role !== 'system' && actor.role !== 'admin' && actor.role !== 'security_officer') throw platformError('FORBIDDEN', { role: actor.role });
  for (const role of roles) {
    if (!mayManageRole(actor.role, role)) throw staffError('STAFF_ROLE_SEPARATION', { role });
  }
}

/** Enterprise and department administrators act for one enterprise customer; nobody else does. */
export const CUSTOMER_ROLES: readonly Role[] = ['enterprise_admin', 'department_admin'];

export function assertCustomerFits(actor: Actor, role: Role, customerId: number | null): void {
  const needs = CUSTOMER_ROLES.includes(role);
  if (!needs && customerId !== null) throw staffError('STAFF_CUSTOMER_NOT_ALLOWED', { field: 'customerId' });
  // Only asked of staff actors: the system actor may create one unbound (it then sees nothing).
  if (needs && customerId === null && actor.role !== 'system') throw staffError('STAFF_CUSTOMER_REQUIRED', { field: 'customerId' });
}

/**
 * Whether administrators must sign in with TOTP: config.adminTotp (FUELCARD_ADMIN_TOTP=required|optional).
 * The default is required, except on a development or demo system running on generated keys, where
 * `npm start`'s printed admin password must keep working; src/platform/config.ts decides.
 */
export type AdminTotpPolicy = 'required' | 'optional';

export function adminTotpPolicy(config: { readonly adminTotp: AdminTotpPolicy }): AdminTotpPolicy {
  return config.adminTotp;
}

export function totpRequiredFor(role: Role, policy: AdminTotpPolicy): boolean {
  return policy === 'required' && TOTP_ROLES.includes(role);
}
