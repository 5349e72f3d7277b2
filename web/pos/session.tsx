import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { ApiError } from '../shared/api';
import { isUnreachable } from './forecourtApi';
import {
  createTerminalClient,
  forgetCredentials,
  loadCredentials,
  pingWithClock,
  REPAIR_CODES,
  saveCredentials,
  type PingAnswer,
  type TerminalClient,
  type TerminalCredentials,
} from './terminal';

interface TerminalState {
  creds: TerminalCredentials | null;
  client: TerminalClient | null;
  /** The station as the forecourt call named it (ping only knows its id). */
  station: { id: number; name: string } | null;
  setStation: (s: { id: number; name: string } | null) => void;
  /** Set when the server refused the stored pairing (unknown terminal, wrong secret). */
  needsRepair: boolean;
  /** Every signed call's failure goes through here, so a refused pairing is noticed wherever it happens. */
  noteError: (err: unknown) => void;
  /** False once a call could not reach the platform (network error, 5xx, timeout): the POS sells offline until a probe succeeds. */
  reachable: boolean;
  setReachable: (v: boolean) => void;
  /** Checks the credentials with GET /api/v1/pos/ping and keeps them on this device when they work. */
  pair: (terminalId: string, secret: string) => Promise<{ ping: PingAnswer; offset: number }>;
  unpair: () => void;
}

const TerminalContext = createContext<TerminalState | null>(null);

export function TerminalProvider({ children }: { children: ReactNode }) {
  const [creds, setCreds] = useState<TerminalCredentials | null>(loadCredentials);
  const [station, setStation] = useState<{ id: number; name: string } | null>(null);
  const [needsRepair, setNeedsRepair] = useState(false);
  const [reachable, setReachable] = useState(true);
  const client = useMemo(() => (creds ? createTerminalClient(creds) : null), [creds]);

  const noteError = useCallback((err: unknown) => {
    if (err instanceof ApiError && REPAIR_CODES.has(err.code)) setNeedsRepair(true);
    if (isUnreachable(err)) setReachable(false);
  }, []);

  const pair = useCallback(async (terminalId: string, secret: string) => {
    const candidate = createTerminalClient({ terminalId, secret });
    const result = await pingWithClock(candidate);
    const saved: TerminalCredentials = { terminalId, secret, pairedAt: new Date().toISOString() };
    saveCredentials(saved);
    setCreds(saved);
    setStation(null);
    setNeedsRepair(false);
    return result;
  }, []);

  const unpair = useCallback(() => {
    forgetCredentials();
    setCreds(null);
    setStation(null);
    setNeedsRepair(false);
  }, []);

  const value = useMemo(
    () => ({ creds, client, station, setStation, needsRepair, noteError, reachable, setReachable, pair, unpair }),
    [creds, client, station, needsRepair, noteError, reachable, pair, unpair],
  );
  return <TerminalContext.Provider value={value}>{children}</TerminalContext.Provider>;
}

export function useTerminal(): TerminalState {
  const v = useContext(TerminalContext);
  if (!v) throw new Error('useTerminal outside TerminalProvider');
  return v;
}

/** One sale attempted on this device, for the "today" list. */
export interface SaleLogEntry {
  /** Local id: the Idempotency-Key of the sale. */
  key: string;
  at: string;
  terminalId: string;
  stationName: string;
  nozzle: number;
  grade: string;
  gradeName: string;
  gradeNameEn?: string;
  unitPrice: number;
  volumeMl: number;
  amount: number;
  cardNo: string;
  outcome: 'sending' | 'approved' | 'declined' | 'no_answer' | 'error';
  saleId?: string;
  approvalCode?: string;
  declineCode?: string;
  actionCode?: string;
  message?: string;
  /** Why a sale got no business answer: an error code, NETWORK or TIMEOUT. */
  errorCode?: string;
  /** Approved by the terminal alone (offline): its sequence number in the offline journal. */
  offlineSeq?: number;
  balance?: number | null;
  /** When the answer arrived (the receipt's time). */
  answeredAt?: string;
}

interface SalesLogState {
  entries: SaleLogEntry[];
  upsert: (entry: SaleLogEntry) => void;
}

const SalesLogContext = createContext<SalesLogState | null>(null);

/** Kept in memory only: a reload starts an empty list (the console has the full sales record). */
export function SalesLogProvider({ children }: { children: ReactNode }) {
  const [entries, setEntries] = useState<SaleLogEntry[]>([]);
  const upsert = useCallback((entry: SaleLogEntry) => {
    setEntries((list) => {
      const i = list.findIndex((e) => e.key === entry.key);
      if (i < 0) return [entry, ...list];
      const next = list.slice();
      next[i] = entry;
      return next;
    });
  }, []);
  const value = useMemo(() => ({ entries, upsert }), [entries, upsert]);
  return <SalesLogContext.Provider value={value}>{children}</SalesLogContext.Provider>;
}

export function useSalesLog(): SalesLogState {
  const v = useContext(SalesLogContext);
  if (!v) throw new Error('useSalesLog outside SalesLogProvider');
  return v;
}

/** What the cashier has entered for the sale being prepared. */
export interface SaleForm {
  nozzle: number | null;
  cardNo: string;
  pin: string;
  mode: 'volume' | 'amount';
  litres: string;
  amount: string;
}

export const EMPTY_FORM: SaleForm = { nozzle: null, cardNo: '', pin: '', mode: 'volume', litres: '', amount: '' };

/** A confirmed sale as it will be sent: fixed, so a retry sends the same request. */
export interface SaleDraft {
  nozzle: number;
  grade: string;
  gradeName: string;
  gradeNameEn?: string;
  unitPrice: number;
  stationName: string;
  cardNo: string;
  pin: string;
  volumeMl: number;
  amount: number;
}

export interface PendingSale {
  /** The Idempotency-Key, made when the cashier confirmed; every retry of this sale reuses it. */
  key: string;
  /** The exact JSON bytes signed and sent; a retry resends these. */
  bodyBytes: Uint8Array<ArrayBuffer>;
  draft: SaleDraft;
  at: string;
  attempts: number;
  /** Some attempt got no answer, so the sale may have been committed: only a retry with the key can tell. */
  uncertain: boolean;
}

export type SalePhase =
  | { kind: 'edit' }
  | { kind: 'review'; draft: SaleDraft; key: string }
  | { kind: 'sending'; pending: PendingSale }
  | { kind: 'failed'; pending: PendingSale; error: unknown; retryable: boolean }
  | { kind: 'approved'; entry: SaleLogEntry }
  | { kind: 'declined'; entry: SaleLogEntry };

interface SaleFlowState {
  form: SaleForm;
  setForm: (f: SaleForm | ((f: SaleForm) => SaleForm)) => void;
  phase: SalePhase;
  setPhase: (p: SalePhase) => void;
}

const SaleFlowContext = createContext<SaleFlowState | null>(null);

/**
 * The sale in progress lives above the routes, so looking at the today list while a sale is being
 * sent (or waits for a retry) does not lose it or its Idempotency-Key.
 */
export function SaleFlowProvider({ children }: { children: ReactNode }) {
  const [form, setForm] = useState<SaleForm>(EMPTY_FORM);
  const [phase, setPhase] = useState<SalePhase>({ kind: 'edit' });
  const value = useMemo(() => ({ form, setForm, phase, setPhase }), [form, phase]);
  return <SaleFlowContext.Provider value={value}>{children}</SaleFlowContext.Provider>;
}

export function useSaleFlow(): SaleFlowState {
  const v = useContext(SaleFlowContext);
  if (!v) throw new Error('useSaleFlow outside SaleFlowProvider');
  return v;
}
