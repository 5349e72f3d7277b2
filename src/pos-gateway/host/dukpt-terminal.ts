/**
 * DUKPT terminals in the host (docs/pos-dukpt.md): where the KSN travels (DE 53, 10 bytes TDES /
 * 12 bytes AES, told apart from the 2/4-byte key versions of session-key terminals by the
 * terminal's key management, never by guessing), and how a request's KSN is named after the MAC
 * verified: by the terminal's device and the KSN counter, which the pipeline passes on as the
 * request's `macKeyVersion`.
 */
import { ksnDeviceKey, parseKsn, SCHEME_RULES, withCounter } from '../crypto/index.js';
import type { FieldValue } from '../iso8583/index.js';
import type { ReplayKey } from './replay.js';
import type { DukptBinding } from './session-directory.js';

export type KsnField = { ok: true; ksn: Buffer } | { ok: false; detail: string };

/** DE 53 of a DUKPT terminal's message: the KSN of the transaction, of the terminal's own device. */
export function ksnOfDe53(de53: FieldValue | undefined, binding: DukptBinding): KsnField & { foreign?: boolean } {
  const bytes = SCHEME_RULES[binding.scheme].ksnBytes;
  if (!Buffer.isBuffer(de53) || de53.length !== bytes) return { ok: false, detail: `DE 53 must carry the ${bytes}-byte ${binding.scheme} KSN` };
  const k = parseKsn(de53, binding.scheme);
  if (!k.ok) return { ok: false, detail: k.error.detail };
  if (ksnDeviceKey(k.value) !== binding.device) return { ok: false, foreign: true, detail: 'the KSN names another device than this terminal' };
  return { ok: true, ksn: Buffer.from(de53) };
}

/** The KSN of the terminal's device with `counter` (the request's macKeyVersion for a DUKPT terminal). */
export function ksnForCounter(binding: DukptBinding, counter: number): Buffer {
  const hex = binding.device.slice(binding.device.indexOf(':') + 1);
  const initial = binding.scheme === 'tdes' ? Buffer.from(hex, 'hex') : Buffer.concat([Buffer.from(hex, 'hex'), Buffer.alloc(4)]);
  const k = parseKsn(initial, binding.scheme);
  if (!k.ok) throw new RangeError(`terminal device ${binding.device} is not a ${binding.scheme} device`);
  return withCounter(k.value, counter);
}

/**
 * The request a KSN was accepted for: the exactly-once identity. A retransmission of the same
 * request under the same KSN (its first handling failed and was abandoned) is not a replay.
 */
export function ksnRequestId(key: ReplayKey): string {
  return `${key.terminalId}|${key.messageClass}|${key.stan}|${key.localDateTime}`;
}
