/** Roles from DESIGN.md. Every route names who may call it; a route that names nobody is refused. */
export const ROLES = [
  'admin',
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
  | { readonly kind: 'staff'; readonly roles: readonly Role[] }
  | { readonly kind: 'terminal' }
  /** Self-service (cardholder portal): a cardholder's own bearer session, never a staff token. */
  | { readonly kind: 'cardholder' };

export const access = {
  public: { kind: 'public' } as Access,
  terminal: { kind: 'terminal' } as Access,
  cardholder: { kind: 'cardholder' } as Access,
  roles: (...roles: Role[]): Access => ({ kind: 'staff', roles }),
};

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
};

export interface StaffPrincipal {
  readonly id: number;
  readonly username: string;
  readonly role: Role;
  readonly stationId: number | null;
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
