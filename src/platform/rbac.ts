/** Roles from DESIGN.md. Every route names who may call it; a route that names nobody is refused. */
export const ROLES = [
  // 等保 2.0 level 3 three-role split (三员分立): system administrator (系统管理员) runs the system,
  // security officer (安全管理员) manages staff accounts, roles and second factors, auditor
  // (审计管理员) reads the audit log and nothing else. docs/access.md.
  'admin',
  'security_officer',
  'auditor',
  'operator',
  'finance',
  'risk',
  'station_staff',
  'enterprise_admin',
  'department_admin',
  'cardholder',
] as const;
export type Role = (typeof ROLES)[number];

export type Access =
  | { readonly kind: 'public' }
  /**
   * duringTotpEnrolment: the route also serves a session restricted to enrolling a second factor
   * (an administrator who must have TOTP and has none yet); every other route refuses such a session.
   */
  | { readonly kind: 'staff'; readonly roles: readonly Role[]; readonly duringTotpEnrolment?: boolean }
  | { readonly kind: 'terminal' }
  /** Self-service (cardholder portal): a cardholder's own bearer session, never a staff token. */
  | { readonly kind: 'cardholder' };

export const access = {
  public: { kind: 'public' } as Access,
  terminal: { kind: 'terminal' } as Access,
  cardholder: { kind: 'cardholder' } as Access,
  roles: (...roles: Role[]): Access => ({ kind: 'staff', roles }),
  /** Every staff role, including a session that may only enrol TOTP (sign-out, who am I, enrolment). */
  anyStaffDuringEnrolment: (): Access => ({ kind: 'staff', roles: ROLES, duringTotpEnrolment: true }),
};

/** The administrator roles that must sign in with a second factor (TOTP). */
export const TOTP_ROLES: readonly Role[] = ['admin', 'security_officer', 'auditor'];

/** Common groups, so routes say who in the business's words. */
export const StaffGroups = {
  /** Counter work: open cards, take cash, card services. */
  counter: ['admin', 'operator', 'station_staff'] as Role[],
  /** Read-only access to customer and card data. */
  readers: ['admin', 'operator', 'finance', 'risk', 'station_staff'] as Role[],
  money: ['admin', 'finance'] as Role[],
  /**
   * Service-desk work (营业厅) that moves a card's value or gets round its PIN: replacement, closing
   * with a cash refund, PIN reset, fleet allocations. Not for forecourt cashiers (station_staff),
   * who could otherwise take any customer's money.
   */
  serviceDesk: ['admin', 'operator'] as Role[],
  /** Who manages staff accounts (within the limits of staff.policy.ts). */
  staffManagers: ['admin', 'security_officer'] as Role[],
  /** Readers of the audit log and its hash chain: never the administrator they audit. */
  auditReaders: ['auditor', 'security_officer'] as Role[],
};

export interface StaffPrincipal {
  readonly id: number;
  readonly username: string;
  readonly role: Role;
  readonly stationId: number | null;
  /** The enterprise customer an enterprise or department administrator acts for (their data only). */
  readonly customerId?: number | null;
  /** 'totp_enrolment': signed in with the password only, and may do nothing but enrol TOTP. */
  readonly sessionScope?: 'full' | 'totp_enrolment';
}

/** A signed-in cardholder: a customer who may act on their own cards only. */
export interface CardholderPrincipal {
  readonly customerId: number;
}

export interface TerminalPrincipal {
  readonly id: string;
  readonly stationId: number;
  /**
   * Set on routes that spend the request's nonce inside their own transaction
   * (config.spendNonceInTransaction): saves the sale path a separate commit.
   */
  readonly unspentNonce?: string;
}

/** Roles that may see personal data and full card numbers unmasked. */
export function maySeePersonalData(role: Role | undefined): boolean {
  return role === 'admin' || role === 'operator' || role === 'risk';
}

/**
 * The enterprise customer whose data a principal is confined to: undefined when its role is not
 * confined to one (staff of the operator), the customer id for an enterprise or department
 * administrator, null for one bound to no customer (who then owns nothing). Routes answer an
 * object outside the scope with the same 404 as a missing one, so ids cannot be probed.
 */
export function customerScopeOf(staff: StaffPrincipal | undefined): number | null | undefined {
  if (!staff) return undefined;
  if (staff.role === 'enterprise_admin' || staff.role === 'department_admin') return staff.customerId ?? null;
  return undefined;
}

/** Whether a customer id lies inside a scope from customerScopeOf. */
export function inCustomerScope(scope: number | null | undefined, customerId: number | null | undefined): boolean {
  if (scope === undefined) return true;
  return scope !== null && customerId !== null && customerId !== undefined && Number(customerId) === scope;
}
