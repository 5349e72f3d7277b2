/**
 * Network management (docs/pos-session.md §3): 1804 sign-on (801), sign-off (802), key change
 * (811), echo (831) on 1804 or 1820. Sign-on and key change generate new PIN and MAC session keys
 * (and a data key when the terminal has one) in the key store and send them encrypted under the
 * terminal master key, with KCVs, in DE 96 of the 1814. The 1814 is MACed under the NEW MAC key:
 * a terminal that unwrapped the keys and checked the KCVs then proves with the MAC that the whole
 * exchange arrived intact, and the host never needs a key version it may already have replaced.
 *
 * A DUKPT terminal (docs/pos-dukpt.md) has no session keys: every transaction has its own key.
 * Its sign-on opens the session (800, no DE 96) and its key change (811) is refused with 902,
 * because answering 800 would tell it keys changed when none did.
 */
import type { SessionKeyRequest } from '../crypto/index.js';
import { ACTION, type HandlerResult, type HandlerTable, type InboundContext, type InboundRequest } from './inbound-types.js';
import { encodeDe96, KEY_MANAGEMENT_FIELD } from './session-fields.js';

export const NETWORK_FUNCTION = { signOn: '801', signOff: '802', keyChange: '811', echo: '831' } as const;

async function deliverSessionKeys(req: InboundRequest, ctx: InboundContext, kind: 'sign-on' | 'key-change'): Promise<HandlerResult> {
  const t = req.terminal;
  if (t.keyManagement === 'dukpt') {
    if (kind === 'key-change') return { actionCode: ACTION.invalidTransaction };
    await ctx.directory.recordSignOn(t.terminalId, req.receivedAt, null);
    return { actionCode: ACTION.networkAccepted };
  }
  const spec = t.sessionKeys;
  // A request verified under the previous TAK means the terminal never got (or never installed) the
  // current set, e.g. a lost 1814. Rotating would otherwise push out the only set it holds; keep
  // that generation as `previous` so the new 1814 can be lost again without a lock-out. The store
  // keeps its superseded time too, so this never extends its rollover deadline (the pipeline refuses
  // it past that deadline before we get here): an old key cannot be kept alive by signing on under it.
  const tak = await ctx.keyStore.describe(t.keys.tak);
  const holdsPrevious = tak !== null && tak.version !== req.macKeyVersion && tak.previousVersion === req.macKeyVersion;
  const request = async (ref: string, usage: SessionKeyRequest['usage']): Promise<SessionKeyRequest> => {
    const held = holdsPrevious ? (await ctx.keyStore.describe(ref))?.previousVersion : null;
    return { ref, usage, algorithm: spec.algorithm, ...(spec.length ? { length: spec.length } : {}), ...(held != null ? { heldVersion: held } : {}) };
  };
  const requests: SessionKeyRequest[] = [await request(t.keys.tpk, 'tpk'), await request(t.keys.tak, 'tak')];
  if (t.keys.tdk) requests.push(await request(t.keys.tdk, 'tdk'));
  // The host's clock stamps the rotation: the rollover deadline of the previous keys counts from it.
  const delivered = await ctx.keyStore.generateSessionKeys(t.keys.tmk, requests, { wrapMethod: spec.wrapMethod ?? 'ecb', at: req.receivedAt });
  const versions = {
    tak: delivered.find((d) => d.usage === 'tak')!.version,
    tpk: delivered.find((d) => d.usage === 'tpk')!.version,
  };
  if (kind === 'sign-on') await ctx.directory.recordSignOn(t.terminalId, req.receivedAt, versions);
  else await ctx.directory.recordKeyChange(t.terminalId, req.receivedAt, versions);
  return {
    actionCode: ACTION.networkAccepted,
    fields: new Map([[KEY_MANAGEMENT_FIELD, encodeDe96(delivered)]]),
    macKeyVersion: versions.tak,
  };
}

async function networkManagement(req: InboundRequest, ctx: InboundContext): Promise<HandlerResult> {
  const fc = req.message.fields.get(24);
  if (typeof fc !== 'string') return { actionCode: ACTION.formatError };
  switch (fc) {
    case NETWORK_FUNCTION.echo:
      return { actionCode: ACTION.networkAccepted };
    case NETWORK_FUNCTION.signOn:
      return req.message.mti === '1804' ? deliverSessionKeys(req, ctx, 'sign-on') : { actionCode: ACTION.invalidTransaction };
    case NETWORK_FUNCTION.keyChange:
      return req.message.mti === '1804' ? deliverSessionKeys(req, ctx, 'key-change') : { actionCode: ACTION.invalidTransaction };
    case NETWORK_FUNCTION.signOff:
      if (req.message.mti !== '1804') return { actionCode: ACTION.invalidTransaction };
      await ctx.directory.recordSignOff(req.terminal.terminalId, req.receivedAt);
      return { actionCode: ACTION.networkAccepted };
    default:
      return { actionCode: ACTION.invalidTransaction };
  }
}

/** Built into the inbound pipeline; a handler table entry for the same MTI overrides it. */
export const networkManagementHandlers: HandlerTable = { '1804': networkManagement, '1820': networkManagement };
