/**
 * Inbound pipeline of the terminal host (docs/pos-session.md §2): decode → terminal (DE 41) →
 * MAC verified before any other field is trusted → transmission time window (DE 7) → replay guard
 * (exactly-once) → handler by MTI → response with DE 39, MACed under the terminal's session key.
 * `handleInbound` never throws and never hangs on its own: every failure is an outcome code.
 *
 * A DUKPT terminal (docs/pos-dukpt.md) MACs under the key of the KSN in DE 53: the MAC is verified
 * first (a forged message never touches the KSN state), the exactly-once journal answers repeats,
 * and only a request new to the journal goes through the KSN replay check (compare-and-set in the
 * key store) before its handler runs.
 */
import {
  applyMac,
  decodeMessage,
  encodeMessage,
  IFSF_PROFILE,
  macData,
  prepareMac,
  responseMti,
  type FieldValue,
  type IsoMessage,
  type IsoProfile,
} from '../iso8583/index.js';
import { foldRepeatMti, requestFingerprint, type ReplayKey } from './replay.js';
import { ksnOfDe53, ksnRequestId } from './dukpt-terminal.js';
import { decodeDe53, encodeDe53, withKeyManagement } from './session-fields.js';
import { networkManagementHandlers } from './session.js';
import type { DukptBinding, TerminalRecord } from './session-directory.js';
import { ACTION, type InboundContext, type InboundOutcome, type InboundResult } from './inbound-types.js';
import type { KeyInfo } from '../crypto/index.js';

export * from './inbound-types.js';

/**
 * The context plus the rollover deadline: after a key change the previous TAK/TPK version is
 * accepted for `keyRolloverMs` (from the rotation that pushed it out, on the host clock), then
 * refused. Absent: no deadline, the previous version lasts until the new one is first used.
 */
export type HostInboundContext = InboundContext;

/**
 * The previous version of this key is past its rollover deadline. The deadline counts from when
 * that version stopped being current (`previousSupersededAt`), not from the current version's
 * `since`: a sign-on under the previous key keeps it (heldVersion) but must not renew it.
 * A time that was never recorded counts as long past.
 */
export function rolloverExpired(ctx: HostInboundContext, info: KeyInfo, now: Date): boolean {
  if (ctx.keyRolloverMs === undefined || info.previousVersion === null) return false;
  return info.previousSupersededAt === null || now.getTime() - info.previousSupersededAt.getTime() > ctx.keyRolloverMs;
}

/** Fields a response echoes from its request when present (ISO 8583 "ME"/"CE" classes). */
export const ECHOED_FIELDS: readonly number[] = [3, 4, 11, 12, 24, 26, 32, 33, 41, 42, 49, 56];

/** Requests that open something new; advices, reversals and reconciliation are accepted signed off or not. */
const NEEDS_SIGN_ON: ReadonlySet<string> = new Set(['1100', '1200', '1304']);

const DEFAULT_WINDOW_MS = 5 * 60_000;

/** Advices (third MTI digit 2: 1120, 1220/1221, 1420/1421, 1520 …) but not network management: the terminal repeats them until answered. */
function repeatedUntilAnswered(mti: string): boolean {
  return mti[2] === '2' && mti[1] !== '8';
}

/** DE 7 of the host's answers: UTC MMDDhhmmss. */
export function formatTransmissionTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/**
 * DE 7 (UTC MMDDhhmmss, no year) as the instant nearest to `now`: the year is the one of now−1,
 * now, now+1 that puts it closest, so a message sent just before New Year is not a year off.
 */
export function parseTransmissionTime(de7: string, now: Date): Date | null {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(de7);
  if (!m) return null;
  const [mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  let best: Date | null = null;
  for (const y of [now.getUTCFullYear() - 1, now.getUTCFullYear(), now.getUTCFullYear() + 1]) {
    const t = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
    if (t.getUTCMonth() !== mo - 1) continue; // 31 April and 29 February outside leap years
    if (!best || Math.abs(t.getTime() - now.getTime()) < Math.abs(best.getTime() - now.getTime())) best = t;
  }
  return best;
}

function str(msg: IsoMessage, n: number): string | undefined {
  const v = msg.fields.get(n);
  return typeof v === 'string' ? v : undefined;
}

/** An answer that carries no MAC: for messages that could not be authenticated (docs §2). */
function unmacedAnswer(mti: string, actionCode: string, from: IsoMessage | null, profile: IsoProfile): Buffer | null {
  const rmti = responseMti(mti);
  if (!rmti) return null;
  const fields = new Map<number, FieldValue>();
  // Only what lets the terminal match the answer to its request; nothing else of an unauthenticated message.
  for (const n of [11, 12, 41]) {
    const v = from?.fields.get(n);
    if (v !== undefined) fields.set(n, v);
  }
  fields.set(39, actionCode);
  return encodeMessage({ mti: rmti, fields }, profile);
}

async function macedAnswer(
  ctx: InboundContext,
  req: IsoMessage,
  terminal: TerminalRecord,
  profile: IsoProfile,
  actionCode: string,
  extra: ReadonlyMap<number, FieldValue> | undefined,
  macKeyVersion: number,
  now: Date,
  ksn: Buffer | null,
): Promise<Buffer | null> {
  const rmti = responseMti(req.mti);
  if (!rmti) return null;
  const fields = new Map<number, FieldValue>();
  for (const n of ECHOED_FIELDS) {
    const v = req.fields.get(n);
    if (v !== undefined) fields.set(n, v);
  }
  fields.set(7, formatTransmissionTime(now));
  for (const [n, v] of extra ?? []) fields.set(n, v);
  fields.set(39, actionCode);
  if (ksn !== null && terminal.dukpt) {
    // DUKPT: DE 53 names the KSN whose response MAC key the answer is MACed under.
    fields.set(53, ksn);
    const prepared = prepareMac({ mti: rmti, fields }, profile);
    const mac = await ctx.keyStore.dukptMacGenerate({ bdkRef: terminal.dukpt.bdkRef, ksn, algorithm: terminal.macAlgorithm, data: prepared.data });
    return applyMac(prepared.bytes, mac);
  }
  fields.set(53, encodeDe53({ mac: macKeyVersion }));
  const prepared = prepareMac({ mti: rmti, fields }, profile);
  const mac = await ctx.keyStore.macGenerate(terminal.keys.tak, terminal.macAlgorithm, prepared.data, macKeyVersion);
  return applyMac(prepared.bytes, mac);
}

type MacCheck = { ok: true; version: number; ksn: Buffer | null } | { ok: false; outcome: InboundOutcome; actionCode: string; detail: string };

/**
 * Any failure before a MAC verified: the same unMACed 916 an unknown terminal gets (docs/pos-session.md
 * §2), whatever the reason, so a prober learns neither that the terminal exists nor how it is keyed.
 * The reason stays in the outcome and detail (metrics, message log).
 */
function unauthenticated(outcome: InboundOutcome, detail: string): MacCheck {
  return { ok: false, outcome, actionCode: ACTION.macIncorrect, detail };
}

/**
 * DUKPT: DE 53 must carry a KSN of the terminal's own device, and DE 64/128 must verify under that
 * KSN's request MAC key. `version` is the KSN counter. Freshness is checked later (after the journal).
 */
async function verifyDukptMac(ctx: InboundContext, terminal: TerminalRecord, binding: DukptBinding, bytes: Buffer, msg: IsoMessage, profile: IsoProfile): Promise<MacCheck> {
  const md = macData(bytes, profile);
  if (!md.ok || md.mac === null) return unauthenticated('MAC_MISSING', 'no DE 64/128');
  const k = ksnOfDe53(msg.fields.get(53), binding);
  if (!k.ok) return unauthenticated(k.foreign ? 'MAC_INVALID' : 'MAC_KEY_SYNC', k.detail);
  const r = await ctx.keyStore.dukptMacVerify({ bdkRef: binding.bdkRef, ksn: k.ksn, algorithm: terminal.macAlgorithm, data: md.data, mac: md.mac });
  if (r.ok) return { ok: true, version: r.value.counter, ksn: k.ksn };
  return r.code === 'KEY_NOT_FOUND'
    ? unauthenticated('MAC_KEY_SYNC', 'the terminal\'s BDK is not in the key store')
    : unauthenticated('MAC_INVALID', `${r.code}: MAC does not verify under the KSN's key`);
}

/**
 * Verifies DE 64/128 under the version DE 53 names, else the current TAK, then the previous one.
 * The previous version past its rollover deadline is still tried while the store holds it, but a
 * MAC that verifies under it is refused with 917: the only 917 the host sends, and only to a sender
 * that proved it holds one of the terminal's keys (unMACed all the same: the host MACs nothing
 * under a key it no longer accepts).
 */
async function verifyMac(ctx: HostInboundContext, terminal: TerminalRecord, bytes: Buffer, msg: IsoMessage, profile: IsoProfile, now: Date): Promise<MacCheck> {
  const md = macData(bytes, profile);
  if (!md.ok || md.mac === null) return unauthenticated('MAC_MISSING', 'no DE 64/128');
  const info = await ctx.keyStore.describe(terminal.keys.tak);
  if (!info) return unauthenticated('MAC_KEY_SYNC', 'terminal has no MAC key');
  let versions: number[];
  const de53 = msg.fields.get(53);
  if (Buffer.isBuffer(de53)) {
    const v = decodeDe53(de53);
    // DE 53 only selects the key; a forged value just makes verification fail.
    if (!v.ok) return unauthenticated('MAC_KEY_SYNC', `DE 53: ${v.detail}`);
    if (v.value.mac !== info.version && v.value.mac !== info.previousVersion) {
      return unauthenticated('MAC_KEY_SYNC', `DE 53 names TAK version ${v.value.mac}, which is not held`);
    }
    versions = [v.value.mac];
  } else {
    versions = info.previousVersion !== null ? [info.version, info.previousVersion] : [info.version];
  }
  let lastCode = 'MAC_MISMATCH';
  for (const version of versions) {
    const r = await ctx.keyStore.macVerify(terminal.keys.tak, terminal.macAlgorithm, md.data, md.mac, version);
    if (!r.ok) {
      lastCode = r.code;
      continue;
    }
    if (version !== info.version && rolloverExpired(ctx, info, now)) {
      return { ok: false, outcome: 'MAC_KEY_SYNC', actionCode: ACTION.macKeySync, detail: `MAC verified under TAK version ${version}, past its rollover deadline` };
    }
    return { ok: true, version, ksn: null };
  }
  return lastCode === 'KEY_NOT_FOUND' ? unauthenticated('MAC_KEY_SYNC', 'the named key version is not held') : unauthenticated('MAC_INVALID', 'MAC does not verify');
}

/**
 * The terminal proved it holds the current TAK, or the previous one is past its deadline: the
 * rollover is over, retire the previous session keys (the key material goes, not just its use).
 */
async function retireOnFirstUse(ctx: HostInboundContext, terminal: TerminalRecord, version: number, now: Date): Promise<void> {
  const tak = await ctx.keyStore.describe(terminal.keys.tak);
  if (!tak || tak.previousVersion === null || (tak.version !== version && !rolloverExpired(ctx, tak, now))) return;
  for (const ref of [terminal.keys.tak, terminal.keys.tpk, terminal.keys.tdk]) {
    if (ref && (await ctx.keyStore.describe(ref))?.previousVersion != null) await ctx.keyStore.retirePrevious(ref);
  }
}

export async function handleInbound(bytes: Buffer, ctx: HostInboundContext): Promise<InboundResult> {
  try {
    return await pipeline(bytes, ctx);
  } catch (e) {
    // A key store or directory failure costs this message only; no answer (the terminal repeats or reverses).
    return { response: null, outcome: 'INTERNAL', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

async function pipeline(bytes: Buffer, ctx: HostInboundContext): Promise<InboundResult> {
  const now = (ctx.now ?? (() => new Date()))();
  const profile = withKeyManagement(ctx.profile ?? IFSF_PROFILE);
  const decoded = decodeMessage(bytes, profile);
  if (!decoded.ok) {
    const mti = decoded.error.mti;
    const response = mti ? unmacedAnswer(mti, ACTION.formatError, null, profile) : null;
    return { response, outcome: 'FORMAT_ERROR', ...(response ? { actionCode: ACTION.formatError } : {}), ...(mti ? { mti } : {}), detail: `${decoded.error.code}: ${decoded.error.detail}` };
  }
  const msg = decoded.message;
  if (!responseMti(msg.mti)) return { response: null, outcome: 'UNKNOWN_MTI', mti: msg.mti, detail: 'not a request or advice this host answers' };
  const terminalId = str(msg, 41);
  if (!terminalId) {
    return { response: unmacedAnswer(msg.mti, ACTION.formatError, msg, profile), outcome: 'FORMAT_ERROR', actionCode: ACTION.formatError, mti: msg.mti, detail: 'DE 41 missing' };
  }
  // Taken before the first await, so in the order the transport handed the frames over (docs/pos-dukpt.md).
  const turn = takeTurn(ctx.keyStore, terminalId);
  try {
    await turn.ready;
    return await forTerminal(bytes, ctx, now, profile, msg, terminalId, turn.release);
  } finally {
    turn.release();
  }
}

/**
 * Requests of one terminal (DE 41) pass the steps up to the DUKPT KSN check one at a time, in
 * arrival order. A DUKPT terminal pipelines requests with rising KSNs (up to the transport's
 * in-flight limit); the KSN check is a compare-and-set of the last counter, so a request overtaken
 * on the way (its directory lookup or journal insert took longer) would be refused as a replay.
 * In-process only: a terminal's connection is served by one process; a KSN presented to two
 * processes at once is still decided by the store's row lock (one wins), it just is not ordered.
 */
const turns = new WeakMap<object, Map<string, Promise<void>>>();

function takeTurn(scope: object, terminalId: string): { ready: Promise<void>; release: () => void } {
  let queue = turns.get(scope);
  if (!queue) {
    queue = new Map();
    turns.set(scope, queue);
  }
  const before = queue.get(terminalId) ?? Promise.resolve();
  let open!: () => void;
  const done = new Promise<void>((resolve) => {
    open = resolve;
  });
  const tail = before.then(() => done);
  queue.set(terminalId, tail);
  let released = false;
  return {
    ready: before,
    release: () => {
      if (released) return;
      released = true;
      open();
      // The last in line leaves no entry behind, so probing DE 41 values costs no memory.
      if (queue.get(terminalId) === tail) queue.delete(terminalId);
    },
  };
}

async function forTerminal(
  bytes: Buffer,
  ctx: HostInboundContext,
  now: Date,
  listenerProfile: IsoProfile,
  firstDecode: IsoMessage,
  terminalId: string,
  endTurn: () => void,
): Promise<InboundResult> {
  let profile = listenerProfile;
  let msg = firstDecode;
  const terminal = await ctx.directory.get(terminalId);
  // Unknown or disabled: the same unMACed 916 a bad MAC gets, so a prober cannot tell which terminal IDs
  // exist (no answer here but 916 for a bad MAC would be that oracle). The outcome tells the operator.
  if (!terminal || terminal.status !== 'active') {
    return {
      response: unmacedAnswer(msg.mti, ACTION.macIncorrect, msg, profile),
      outcome: terminal ? 'TERMINAL_DISABLED' : 'UNKNOWN_TERMINAL',
      actionCode: ACTION.macIncorrect,
      terminalId,
      mti: msg.mti,
    };
  }
  if (terminal.profile && terminal.profile.name !== profile.name && withKeyManagement(terminal.profile).name !== profile.name) {
    profile = withKeyManagement(terminal.profile);
    const decoded = decodeMessage(bytes, profile);
    if (!decoded.ok) {
      // Whether the bytes fit this terminal's profile depends on the terminal: answered like a bad MAC (916), not 904.
      return { response: unmacedAnswer(msg.mti, ACTION.macIncorrect, msg, listenerProfile), outcome: 'FORMAT_ERROR', actionCode: ACTION.macIncorrect, terminalId, mti: msg.mti, detail: decoded.error.detail };
    }
    msg = decoded.message;
  }
  const base = { terminalId, mti: msg.mti };

  const signOn = msg.mti === '1804' && str(msg, 24) === '801';
  const dukpt = terminal.keyManagement === 'dukpt' ? (terminal.dukpt ?? null) : null;
  // Only a DUKPT terminal's KSN check needs the arrival order; session-key terminals go on in parallel.
  if (terminal.keyManagement !== 'dukpt') endTurn();
  if (terminal.keyManagement === 'dukpt' && !dukpt) {
    return { ...base, response: unmacedAnswer(msg.mti, ACTION.macIncorrect, msg, profile), outcome: 'MAC_KEY_SYNC', actionCode: ACTION.macIncorrect, detail: 'DUKPT terminal without a device binding' };
  }
  const mac = dukpt ? await verifyDukptMac(ctx, terminal, dukpt, bytes, msg, profile) : await verifyMac(ctx, terminal, bytes, msg, profile, now);
  let macVersion: number;
  // The KSN of a DUKPT request: the answer is MACed under its response key.
  let ksn: Buffer | null = null;
  if (mac.ok) {
    macVersion = mac.version;
    ksn = mac.ksn;
  } else if (signOn && terminal.signOnWithoutMac && !dukpt) {
    const info = await ctx.keyStore.describe(terminal.keys.tak);
    if (!info) return { ...base, response: unmacedAnswer(msg.mti, ACTION.macIncorrect, msg, profile), outcome: 'MAC_KEY_SYNC', actionCode: ACTION.macIncorrect, detail: 'terminal has no MAC key' };
    macVersion = info.version;
  } else {
    // Unauthenticated: answer without a MAC (our MAC would let a prober collect MACed answers), echo only DE 11/12/41.
    return { ...base, response: unmacedAnswer(msg.mti, mac.actionCode, msg, profile), outcome: mac.outcome, actionCode: mac.actionCode, detail: mac.detail };
  }
  if (mac.ok && !dukpt) await retireOnFirstUse(ctx, terminal, macVersion, now);

  const answer = async (actionCode: string, outcome: InboundOutcome, detail?: string): Promise<InboundResult> => ({
    ...base,
    response: await macedAnswer(ctx, msg, terminal, profile, actionCode, undefined, macVersion, now, ksn),
    outcome,
    actionCode,
    ...(detail ? { detail } : {}),
  });

  const stan = str(msg, 11);
  const local = str(msg, 12);
  const de7 = str(msg, 7);
  if (!stan || !local || !de7) return answer(ACTION.formatError, 'FORMAT_ERROR', 'DE 7, 11 and 12 are mandatory');
  const sent = parseTransmissionTime(de7, now);
  if (!sent) return answer(ACTION.formatError, 'FORMAT_ERROR', 'DE 7 is not a date');
  if (Math.abs(sent.getTime() - now.getTime()) > (ctx.transmissionWindowMs ?? DEFAULT_WINDOW_MS)) {
    return answer(ACTION.outOfSequence, 'STALE_TRANSMISSION', `DE 7 ${de7} is outside the window`);
  }

  const key: ReplayKey = { terminalId, messageClass: foldRepeatMti(msg.mti), stan, localDateTime: local };
  const fingerprint = requestFingerprint(msg, profile);
  const seen = await ctx.replay.begin(key, fingerprint, now);
  if (seen.kind === 'duplicate') return { ...base, response: seen.response, outcome: 'DUPLICATE' };
  if (seen.kind === 'in-progress') return { ...base, response: null, outcome: 'IN_PROGRESS' };
  if (seen.kind === 'conflict') return answer(ACTION.duplicateTransmission, 'REPLAY_CONFLICT', 'same STAN and local time, different content');
  if (seen.kind === 'refused') {
    // The journal cannot record it without forgetting an entry a replay could still use: not processed,
    // nothing stored. An advice is repeated by the terminal until answered, so it gets no answer and
    // comes back later; a request gets a MACed 909 (not 907/912, which send a terminal into stand-in).
    const detail = `replay journal: ${seen.reason}`;
    if (repeatedUntilAnswered(msg.mti)) return { ...base, response: null, outcome: 'CAPACITY', detail };
    return answer(ACTION.systemMalfunction, 'CAPACITY', detail);
  }
  seen.kind satisfies 'new';

  if (dukpt && ksn) {
    // New to the journal, so not a repeat of an answered request: now the KSN must be fresh. Refused like a
    // bad MAC (unMACed 916) and not remembered, so nothing about it is kept but the device's last KSN.
    let fresh;
    try {
      fresh = await ctx.keyStore.dukptAcceptKsn({ bdkRef: dukpt.bdkRef, ksn, requestId: ksnRequestId(key) });
    } catch (e) {
      await ctx.replay.abandon(key).catch(() => undefined);
      throw e;
    }
    if (!fresh.ok) {
      await ctx.replay.abandon(key);
      return { ...base, response: unmacedAnswer(msg.mti, ACTION.macIncorrect, msg, profile), outcome: 'MAC_INVALID', actionCode: ACTION.macIncorrect, detail: `${fresh.code}: ${fresh.detail}` };
    }
  }
  endTurn();

  // Set once a handler has returned: from then on its effects may exist, so a repeat must not run it
  // again; whatever goes wrong afterwards is answered with a 909 stored under this same entry.
  let handled = false;
  try {
    const table = { ...networkManagementHandlers, ...ctx.handlers };
    const handler = table[msg.mti] ?? table[foldRepeatMti(msg.mti)];
    let result: InboundResult;
    if (!handler) {
      result = await answer(ACTION.invalidTransaction, 'UNSUPPORTED', `no handler for ${msg.mti}`);
    } else if ((ctx.requireSignOn ?? true) && NEEDS_SIGN_ON.has(msg.mti) && !(await ctx.directory.session(terminalId)).signedOn) {
      result = await answer(ACTION.invalidTransaction, 'NOT_SIGNED_ON', 'sign on first (1804/801)');
    } else {
      const r = await handler({ message: msg, terminal, profile, macKeyVersion: macVersion, receivedAt: now, repeat: msg.mti !== key.messageClass }, ctx);
      handled = true;
      result = {
        ...base,
        response: await macedAnswer(ctx, msg, terminal, profile, r.actionCode, r.fields, dukpt ? macVersion : (r.macKeyVersion ?? macVersion), now, ksn),
        outcome: 'OK',
        actionCode: r.actionCode,
      };
    }
    // Stored before it is written: a repeat after a lost answer gets these very bytes.
    if (result.response) await ctx.replay.complete(key, fingerprint, result.response, now);
    else if (!handled) await ctx.replay.abandon(key);
    return result;
  } catch (e) {
    const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    if (!handled) {
      // The handler itself failed: nothing to keep, a repeat runs it afresh (handlers are idempotent on the request key).
      await ctx.replay.abandon(key);
      try {
        return { ...(await answer(ACTION.systemMalfunction, 'HANDLER_FAILED', detail)) };
      } catch {
        return { ...base, response: null, outcome: 'HANDLER_FAILED', detail };
      }
    }
    return answerAfterHandled(ctx, key, fingerprint, now, base, detail, () => answer(ACTION.systemMalfunction, 'HANDLER_FAILED', detail), () =>
      unmacedAnswer(msg.mti, ACTION.systemMalfunction, msg, profile),
    );
  }
}

/**
 * The handler returned but its answer could not be built or stored. A 909 is stored under the same
 * replay entry, MACed if the key store still answers, else without a MAC, so every repeat gets the 909
 * and the terminal reverses instead of the handler running twice. If even that cannot be stored the
 * entry stays in progress (never abandoned): the DB guard hands it over only after its claim timeout.
 */
async function answerAfterHandled(
  ctx: InboundContext,
  key: ReplayKey,
  fingerprint: string,
  now: Date,
  base: { terminalId: string; mti: string },
  detail: string,
  maced: () => Promise<InboundResult>,
  unmaced: () => Buffer | null,
): Promise<InboundResult> {
  let response: Buffer | null;
  try {
    response = (await maced()).response;
  } catch {
    response = unmaced();
  }
  if (!response) return { ...base, response: null, outcome: 'HANDLER_FAILED', detail };
  try {
    await ctx.replay.complete(key, fingerprint, response, now);
  } catch (e) {
    const why = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return { ...base, response: null, outcome: 'HANDLER_FAILED', detail: `${detail}; 909 not stored: ${why}` };
  }
  return { ...base, response, outcome: 'HANDLER_FAILED', actionCode: ACTION.systemMalfunction, detail };
}

/** Adapter for the transport's `startIsoServer({ handler })`; `observe` gets every result (metrics, log). */
export function inboundFrameHandler(ctx: HostInboundContext, observe?: (r: InboundResult) => void): (frame: Buffer) => Promise<Buffer | null> {
  return async (frame) => {
    const r = await handleInbound(frame, ctx);
    observe?.(r);
    return r.response;
  };
}
