/**
 * The terminal calls of the forecourt flows (issue 4 contract; docs/pump-flows.md,
 * docs/reversals-shifts.md, docs/offline.md). Every call is signed by the TerminalClient.
 */
import { ApiError, NetworkError } from '../shared/api';
import { withClockRetry, type Forecourt, type TerminalClient } from './terminal';

export interface SaleAnswer {
  saleId: string;
  status: 'approved' | 'declined';
  approvalCode?: string;
  declineCode?: string;
  actionCode?: string;
  message?: string;
  amount: number;
  balance: number | null;
}

export interface AuthorisationAnswer {
  authorisationId: string;
  status: 'approved' | 'declined';
  approvalCode?: string;
  declineCode?: string;
  actionCode: string;
  message?: string;
  mode: 'preauth' | 'prepay';
  nozzle: number;
  grade: string;
  requestedAmount: number;
  heldAmount: number;
  expiresAt: string;
  balance: number | null;
}

export interface OpenAuthorisation {
  authorisationId: string;
  terminalId: string;
  nozzle: number;
  pump: number | null;
  grade: string;
  cardNo: string;
  mode: 'preauth' | 'prepay';
  heldAmount: number;
  approvalCode: string;
  createdAt: string;
  expiresAt: string;
}

export interface PumpSale {
  pumpSaleId: string;
  stationId: number;
  nozzle: number;
  pump: number | null;
  grade: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  status: string;
  createdAt: string;
}

export interface Goods {
  sku: string;
  nameZh: string;
  nameEn: string;
  unitPrice: number;
  categoryId?: number;
}

export interface ReversalAnswer {
  reversalId: string;
  originalRef: string;
  target: 'sale' | 'authorisation' | 'none';
  saleId?: string;
  authorisationId?: string;
  amount: number;
  status: 'reversed' | 'recorded';
}

export interface VoidAnswer {
  saleId: string;
  status: 'voided';
  amount: number;
  reversalId: string;
}

export interface Totals {
  kind: string;
  count: number;
  amount: number;
}

export interface ShiftCloseAnswer {
  shiftId: number;
  shiftNo: number;
  terminalId: string;
  stationId: number;
  openedAt: string;
  closedAt: string;
  businessDay: string;
  cashier: string | null;
  declared: Totals[];
  computed: Totals[];
  differences: Array<{ kind: string; declaredCount: number; computedCount: number; declaredAmount: number; computedAmount: number }>;
  balanced: boolean;
  openAuthorisations: number;
  unpaidPumpSales: number;
}

export interface CurrentShift {
  shiftId: number;
  shiftNo: number;
  openedAt: string;
  [k: string]: unknown;
}

/** True when the platform could not be reached or failed before committing: the offline rules apply. */
export function isUnreachable(err: unknown): boolean {
  return err instanceof NetworkError || (err instanceof ApiError && (err.status >= 500 || err.status === 0)) || (err as Error)?.name === 'AbortError';
}

const call = <T>(client: TerminalClient, method: string, target: string, o?: Parameters<TerminalClient['request']>[2]) => withClockRetry(() => client.request<T>(method, target, o));

export const posApi = {
  authorise: (c: TerminalClient, key: string, body: { cardNo: string; pin: string; nozzle: number; mode: 'preauth' | 'prepay'; amount?: number }) =>
    call<AuthorisationAnswer>(c, 'POST', '/api/v1/pos/authorisations', { body, idempotencyKey: key }),
  complete: (c: TerminalClient, id: string, key: string, body: { volumeMl: number; unitPrice: number; amount: number }) =>
    call<SaleAnswer>(c, 'POST', `/api/v1/pos/authorisations/${encodeURIComponent(id)}/completion`, { body, idempotencyKey: key }),
  openAuthorisations: (c: TerminalClient) => call<{ items: OpenAuthorisation[] }>(c, 'GET', '/api/v1/pos/authorisations?status=held'),
  reverse: (c: TerminalClient, body: { originalRef: string; reason: 'timeout' | 'customer_cancel' | 'pump_failure' | 'bad_response' | 'other' }) =>
    call<ReversalAnswer>(c, 'POST', '/api/v1/pos/reversals', { body }),
  voidSale: (c: TerminalClient, saleId: string, body: { cashier?: string; reason?: string }) =>
    call<VoidAnswer>(c, 'POST', `/api/v1/pos/sales/${encodeURIComponent(saleId)}/void`, { body }),
  unpaidPumpSales: (c: TerminalClient) => call<{ items: PumpSale[] }>(c, 'GET', '/api/v1/pos/pump-sales?status=unpaid'),
  settlePumpSale: (c: TerminalClient, id: string, body: { tender: 'cash' | 'other' | 'abandoned'; cashier?: string }) =>
    call<PumpSale>(c, 'POST', `/api/v1/pos/pump-sales/${encodeURIComponent(id)}/settle`, { body }),
  goods: (c: TerminalClient) => call<{ items: Goods[] }>(c, 'GET', '/api/v1/pos/goods'),
  sale: (c: TerminalClient, key: string, body: unknown) => call<SaleAnswer>(c, 'POST', '/api/v1/pos/sales', { body, idempotencyKey: key }),
  currentShift: (c: TerminalClient) => call<CurrentShift>(c, 'GET', '/api/v1/pos/shifts/current'),
  closeShift: (c: TerminalClient, key: string, body: { cashier?: string; endOfDay?: boolean; declared: Totals[] }) =>
    call<ShiftCloseAnswer>(c, 'POST', '/api/v1/pos/shifts/close', { body, idempotencyKey: key }),
};

const FORECOURT_KEY = 'fuelcard.pos.forecourt';

/**
 * The forecourt (nozzles and prices), remembered on the device: when the platform cannot be
 * reached the last one is shown (marked stale), so the cashier can still sell offline.
 */
export async function loadForecourtCached(client: TerminalClient): Promise<Forecourt & { stale?: boolean }> {
  try {
    const fc = await withClockRetry(() => client.request<Forecourt>('GET', '/api/v1/pos/forecourt'));
    try {
      localStorage.setItem(`${FORECOURT_KEY}.${client.terminalId}`, JSON.stringify(fc));
    } catch {
      // Not remembered: offline selling then needs the page to stay open.
    }
    return fc;
  } catch (err) {
    if (!isUnreachable(err)) throw err;
    try {
      const raw = localStorage.getItem(`${FORECOURT_KEY}.${client.terminalId}`);
      if (raw) return { ...(JSON.parse(raw) as Forecourt), stale: true };
    } catch {
      // Fall through to the error.
    }
    throw err;
  }
}
