import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiError } from '../shared/api';
import { isUnreachable } from './forecourtApi';
import {
  addOfflineSale,
  addReversal,
  applyBatchAnswer,
  batchBody,
  dropReversal,
  emptyJournal,
  nextSeq,
  offlineSpent,
  parseJournal,
  pendingSales,
  prepareBatch,
  type BatchAnswer,
  type JournalState,
  type OfflineSale,
  type PendingReversal,
} from './journal';
import {
  applyHotlist,
  applyWhitelist,
  businessDayOf,
  decideOffline,
  offlineApprovalCode,
  type HotlistAnswer,
  type OfflineDecision,
  type OfflineParams,
  type WhitelistAnswer,
} from './offlineRules';
import { useTerminal } from './session';
import { markStatus, parseShift, recordEntry, type ShiftEntry } from './shiftTotals';
import { pingWithClock, withClockRetry, type TerminalClient } from './terminal';

/** How often an offline POS asks whether the platform is back. */
const PROBE_MS = 5_000;
/** How often an online POS refreshes the hot list, floors and whitelist. */
const PARAMS_REFRESH_MS = 5 * 60_000;

function load(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function save(key: string, value: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or blocked: the state lives on in memory for this page.
  }
}

// --- the shift record -----------------------------------------------------------------------

interface ShiftState {
  entries: ShiftEntry[];
  record: (e: ShiftEntry) => void;
  mark: (saleId: string, status: 'voided' | 'reversed') => void;
  /** After a successful close: the next shift starts empty. */
  reset: () => void;
}
const ShiftContext = createContext<ShiftState | null>(null);

/** This terminal's sales of the open shift, kept in the device's storage so a reload keeps them. */
export function ShiftProvider({ children }: { children: ReactNode }) {
  const { creds } = useTerminal();
  const key = creds ? `fuelcard.pos.shift.${creds.terminalId}` : null;
  const [entries, setEntries] = useState<ShiftEntry[]>(() => (key ? parseShift(load(key)) : []));
  useEffect(() => setEntries(key ? parseShift(load(key)) : []), [key]);
  const update = useCallback(
    (f: (e: ShiftEntry[]) => ShiftEntry[]) =>
      setEntries((prev) => {
        const next = f(prev);
        if (key) save(key, next);
        return next;
      }),
    [key],
  );
  const value = useMemo<ShiftState>(
    () => ({
      entries,
      record: (e) => update((l) => recordEntry(l, e)),
      mark: (saleId, status) => update((l) => markStatus(l, saleId, status)),
      reset: () => update(() => []),
    }),
    [entries, update],
  );
  return <ShiftContext.Provider value={value}>{children}</ShiftContext.Provider>;
}

export function useShift(): ShiftState {
  const v = useContext(ShiftContext);
  if (!v) throw new Error('useShift outside ShiftProvider');
  return v;
}

// --- offline selling ------------------------------------------------------------------------

export interface OfflineDraft {
  cardNo: string;
  grade: string;
  gradeName: string;
  gradeNameEn?: string;
  volumeMl: number;
  unitPrice: number;
  amount: number;
  nozzle: number;
}

interface OfflineState {
  params: OfflineParams | null;
  journal: JournalState;
  pending: number;
  syncing: boolean;
  lastAnswer: BatchAnswer | null;
  lastError: unknown;
  /** Approve a sale by the offline rules; an approved one is in the journal when this returns. */
  approve: (d: OfflineDraft) => { ok: true; sale: OfflineSale } | { ok: false; decision: Extract<OfflineDecision, { ok: false }> };
  /** An online attempt whose answer never came: reverse it when back, as the sale is being taken offline. */
  queueReversal: (r: PendingReversal) => void;
  /** Probe the platform now and, when it answers, upload. */
  syncNow: () => Promise<void>;
  refreshParams: () => Promise<void>;
}
const OfflineContext = createContext<OfflineState | null>(null);

async function fetchParams(client: TerminalClient, held: OfflineParams | null): Promise<OfflineParams> {
  const p = await withClockRetry(() =>
    client.request<{ floorLimitPerSale: number; floorLimitPerCardPerDay: number; hotlistVersion: number }>('GET', '/api/v1/pos/offline-params'),
  );
  let hotlist = held?.hotlist ?? [];
  let hotlistVersion = held?.hotlistVersion ?? null;
  if (hotlistVersion === null || hotlistVersion !== p.hotlistVersion) {
    const target = hotlistVersion === null ? '/api/v1/pos/hotlist' : `/api/v1/pos/hotlist?since=${hotlistVersion}`;
    const h = await withClockRetry(() => client.request<HotlistAnswer>('GET', target));
    hotlist = applyHotlist(hotlist, h);
    hotlistVersion = h.version;
  }
  let whitelist = held?.whitelist ?? {};
  let whitelistVersion = held?.whitelistVersion ?? null;
  try {
    const target = whitelistVersion === null ? '/api/v1/pos/whitelist' : `/api/v1/pos/whitelist?since=${whitelistVersion}`;
    const w = await withClockRetry(() => client.request<WhitelistAnswer>('GET', target));
    whitelist = applyWhitelist(whitelist, w);
    whitelistVersion = w.version;
  } catch (err) {
    // A platform without a whitelist (404) means none; being unreachable is the caller's business.
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    whitelist = {};
    whitelistVersion = null;
  }
  return { floorSale: p.floorLimitPerSale, floorDay: p.floorLimitPerCardPerDay, hotlistVersion, hotlist, whitelist, whitelistVersion, fetchedAt: new Date().toISOString() };
}

function parseParams(raw: string | null): OfflineParams | null {
  if (!raw) return null;
  try {
    const v = JSON.parse(raw) as OfflineParams;
    return typeof v.floorSale === 'number' && Array.isArray(v.hotlist) ? v : null;
  } catch {
    return null;
  }
}

export function OfflineProvider({ children }: { children: ReactNode }) {
  const { creds, client, reachable, setReachable, noteError } = useTerminal();
  const shift = useShift();
  const tid = creds?.terminalId ?? '';
  const journalKey = `fuelcard.pos.journal.${tid}`;
  const paramsKey = `fuelcard.pos.offline.${tid}`;

  const journalRef = useRef<JournalState>(parseJournal(load(journalKey), tid));
  const [journal, setJournal] = useState<JournalState>(journalRef.current);
  const [params, setParams] = useState<OfflineParams | null>(() => parseParams(load(paramsKey)));
  const paramsRef = useRef(params);
  const [syncing, setSyncing] = useState(false);
  const [lastAnswer, setLastAnswer] = useState<BatchAnswer | null>(null);
  const [lastError, setLastError] = useState<unknown>(undefined);
  const busy = useRef(false);

  const commit = useCallback(
    (next: JournalState) => {
      journalRef.current = next;
      save(journalKey, next);
      setJournal(next);
    },
    [journalKey],
  );

  // Another terminal paired on this device: its own journal and parameters.
  useEffect(() => {
    const j = parseJournal(load(journalKey), tid);
    journalRef.current = j;
    setJournal(j);
    const p = parseParams(load(paramsKey));
    paramsRef.current = p;
    setParams(p);
  }, [journalKey, paramsKey, tid]);

  const refreshParams = useCallback(async () => {
    if (!client) return;
    try {
      const p = await fetchParams(client, paramsRef.current);
      paramsRef.current = p;
      save(paramsKey, p);
      setParams(p);
    } catch (err) {
      noteError(err);
    }
  }, [client, paramsKey, noteError]);

  /** Reversals owed first (so a late original cannot be posted), then the offline sales, batch by batch. */
  const upload = useCallback(async () => {
    if (!client || busy.current) return;
    busy.current = true;
    setSyncing(true);
    try {
      for (const r of journalRef.current.reversals) {
        await withClockRetry(() => client.request('POST', '/api/v1/pos/reversals', { body: { originalRef: r.originalRef, reason: r.reason } }));
        commit(dropReversal(journalRef.current, r.originalRef));
      }
      for (;;) {
        const prepared = prepareBatch(journalRef.current, paramsRef.current?.hotlistVersion ?? null);
        if (!prepared) break;
        // Saved before sending: a reload while the batch is out resends the same batch.
        commit(prepared.state);
        const body = batchBody(prepared.state, prepared.batch);
        const answer = await withClockRetry(() => client.request<BatchAnswer>('POST', '/api/v1/pos/offline-batches', { body }));
        const next = applyBatchAnswer(journalRef.current, answer);
        commit(next);
        setLastAnswer(answer);
        for (const res of answer.results) {
          if (res.status === 'rejected' || !res.saleId) continue;
          const s = next.sales.find((x) => x.seq === res.seq);
          if (s) shift.record({ ref: `offline:${s.seq}`, saleId: res.saleId, flow: 'offline', status: 'approved', amount: s.amount, goodsAmount: 0, cardNo: s.cardNo, at: s.occurredAt, label: s.grade });
        }
      }
      setLastError(undefined);
    } catch (err) {
      setLastError(err);
      noteError(err);
    } finally {
      busy.current = false;
      setSyncing(false);
    }
  }, [client, commit, noteError, shift]);

  const syncNow = useCallback(async () => {
    if (!client) return;
    try {
      await pingWithClock(client);
    } catch (err) {
      noteError(err);
      setLastError(err);
      return;
    }
    setReachable(true);
    await upload();
    await refreshParams();
  }, [client, noteError, setReachable, upload, refreshParams]);

  // Online: parameters now and every few minutes. Offline: a probe every few seconds.
  useEffect(() => {
    if (!client) return;
    if (reachable) {
      void refreshParams();
      const id = setInterval(() => void refreshParams(), PARAMS_REFRESH_MS);
      return () => clearInterval(id);
    }
    const id = setInterval(() => {
      void pingWithClock(client).then(
        () => setReachable(true),
        () => undefined,
      );
    }, PROBE_MS);
    return () => clearInterval(id);
  }, [client, reachable, refreshParams, setReachable]);

  // Back online with something owed: upload it.
  const owed = pendingSales(journal).length + journal.reversals.length;
  useEffect(() => {
    if (reachable && client && owed > 0) void upload();
  }, [reachable, client, owed > 0, upload]);

  const approve = useCallback<OfflineState['approve']>(
    (d) => {
      const now = Date.now();
      const j = journalRef.current.terminalId === tid ? journalRef.current : emptyJournal(tid);
      const spent = offlineSpent(j, d.cardNo, businessDayOf(now));
      const decision = decideOffline(paramsRef.current, { cardNo: d.cardNo, amount: d.amount }, spent, now);
      if (!decision.ok) return { ok: false, decision };
      const seq = nextSeq(j, now);
      const next = addOfflineSale(j, { ...d, seq, occurredAt: new Date(now).toISOString(), approvalCode: offlineApprovalCode() });
      commit(next);
      return { ok: true, sale: next.sales[next.sales.length - 1]! };
    },
    [commit, tid],
  );

  const queueReversal = useCallback((r: PendingReversal) => commit(addReversal(journalRef.current, r)), [commit]);

  const value = useMemo<OfflineState>(
    () => ({ params, journal, pending: pendingSales(journal).length, syncing, lastAnswer, lastError, approve, queueReversal, syncNow, refreshParams }),
    [params, journal, syncing, lastAnswer, lastError, approve, queueReversal, syncNow, refreshParams],
  );
  return <OfflineContext.Provider value={value}>{children}</OfflineContext.Provider>;
}

export function useOffline(): OfflineState {
  const v = useContext(OfflineContext);
  if (!v) throw new Error('useOffline outside OfflineProvider');
  return v;
}

export { isUnreachable };
