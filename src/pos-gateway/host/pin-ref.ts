/**
 * Which key a request's PIN block (DE 52) is under. Session keys rotate together at sign-on and key
 * change (TAK and TPK, docs/pos-session.md), so a request whose MAC verified under the previous TAK
 * carries its PIN under the previous TPK.
 *
 * A DUKPT terminal (docs/pos-dukpt.md) enciphers the PIN under the PIN key of the transaction's KSN:
 * the one in DE 53 whose MAC the pipeline verified, named here by the terminal's device and the KSN
 * counter (the request's `macKeyVersion`). A PIN KSN in DE 61 (PayEx profile) must be that very
 * KSN, same device and same counter: freshness is checked for DE 53 only, so a DE 61 naming an
 * earlier counter would let a PIN block captured from an earlier transaction be used again under
 * a fresh MAC KSN. Any other DE 61 gives an empty KSN, which the store refuses (DUKPT_BAD_KSN, a
 * PIN block the sale cannot use: 919, no PIN try counted) without opening the block.
 */
import { parseKsn, ksnDeviceKey, type KeyStore, type PinBlockRef } from '../crypto/index.js';
import type { TerminalRecord } from './session-directory.js';
import type { PinData } from './mapping.js';
import { ksnForCounter } from './dukpt-terminal.js';

export async function pinRefFor(keyStore: KeyStore, terminal: TerminalRecord, macKeyVersion: number, pin: PinData): Promise<PinBlockRef> {
  if (terminal.keyManagement === 'dukpt' && terminal.dukpt) {
    const binding = terminal.dukpt;
    let ksn = ksnForCounter(binding, macKeyVersion);
    if (pin.ksn) {
      const k = parseKsn(pin.ksn, binding.scheme);
      // Another device's KSN, another counter of this device, or none must not open the PIN.
      ksn = k.ok && ksnDeviceKey(k.value) === binding.device && k.value.counter === macKeyVersion ? ksn : Buffer.alloc(0);
    }
    return { ref: binding.bdkRef, format: terminal.pinFormat, ksn };
  }
  const [tak, tpk] = await Promise.all([keyStore.describe(terminal.keys.tak), keyStore.describe(terminal.keys.tpk)]);
  const ref: PinBlockRef = { ref: terminal.keys.tpk, format: terminal.pinFormat };
  if (tak && tpk && macKeyVersion !== tak.version && tpk.previousVersion !== null) return { ...ref, version: tpk.previousVersion };
  return ref;
}
