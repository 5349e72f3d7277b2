/**
 * DUKPT inside the key store: the BDK never leaves it; the initial key is exported once (as XOR
 * components, checked against the X9.24 vectors), MACs and PIN blocks are handled from a KSN with
 * keys derived and wiped inside, and the KSN replay rule (compare-and-set) refuses what it must.
 * Also the change time every key version now carries (the rollover deadline counts from it).
 */
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hex, generateClearKey, PosCryptoError } from './keys.js';
import { computeMac } from './mac.js';
import { encipherPin } from './pin.js';
import { SoftwareKeyStore } from './keystore.js';
import { TdesDukptOriginator, tdesVariant } from './dukpt-tdes.js';
import { AesDukptOriginator, deriveAesWorkingKeyFromDerivationKey } from './dukpt-aes.js';
import { withCounter, requireKsn } from './dukpt-ksn.js';

const TDES_BDK = hex('0123456789ABCDEFFEDCBA9876543210');
const TDES_IKSN = hex('FFFF9876543210E00000');
const AES_BDK = hex('FEDCBA9876543210F1F1F1F1F1F1F1F1');
const AES_IKID = hex('1234567890123456');
const PAN = '4012345678909';

async function storeWith(algorithm: 'tdes' | 'aes', bdk: Buffer): Promise<SoftwareKeyStore> {
  const ks = new SoftwareKeyStore({ kek: randomBytes(32), pinVerifyKey: Buffer.alloc(32, 7) });
  await ks.importClearKey('bdk', { algorithm, usage: 'bdk' }, bdk);
  return ks;
}

const xor2 = ([a, b]: [Buffer, Buffer]): Buffer => Buffer.from(a.map((x, i) => x ^ b[i]!));

describe('SoftwareKeyStore: DUKPT', () => {
  it('exports the initial key only as two components that XOR to the X9.24 IPEK / IK', async () => {
    const t = await storeWith('tdes', TDES_BDK);
    const ti = await t.dukptInitialKey('bdk', TDES_IKSN);
    expect(xor2(ti.components).toString('hex').toUpperCase()).toBe('6AC292FAA1315B4D858AB3A3D7D5933A');
    expect(ti.components[0].equals(hex('6AC292FAA1315B4D858AB3A3D7D5933A'))).toBe(false);
    expect(ti.device).toBe('tdes:FFFF9876543210E00000');
    const a = await storeWith('aes', AES_BDK);
    const ai = await a.dukptInitialKey('bdk', AES_IKID);
    expect(xor2(ai.components).toString('hex').toUpperCase()).toBe('1273671EA26AC29AFA4D1084127652A1');
    expect(ai.device).toBe('aes:1234567890123456');
    // The BDK itself is refused for anything but DUKPT.
    await expect(t.macGenerate('bdk', 'retail-tdes-pad2', Buffer.alloc(8))).rejects.toMatchObject({ code: 'KEY_USAGE' });
  });

  it('refuses BDKs DUKPT cannot use', async () => {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    await expect(ks.importClearKey('b3', { algorithm: 'tdes', usage: 'bdk' }, generateClearKey('tdes', 24))).rejects.toBeInstanceOf(PosCryptoError);
    await expect(ks.importClearKey('bs', { algorithm: 'sm4', usage: 'bdk' }, generateClearKey('sm4'))).rejects.toMatchObject({ code: 'KEY_LENGTH' });
  });

  it('TDES: verifies request MACs and answers under the response key of each KSN; a bad MAC or KSN is an outcome, not a throw', async () => {
    const ks = await storeWith('tdes', TDES_BDK);
    const term = new TdesDukptOriginator(hex('6AC292FAA1315B4D858AB3A3D7D5933A'), TDES_IKSN);
    const data = Buffer.from('1820 echo under DUKPT');
    for (let i = 0; i < 3; i++) {
      const { ksn, counter, transactionKey } = term.next();
      const mac = computeMac('retail-tdes-pad2', tdesVariant(transactionKey, 'mac-request'), data);
      expect(await ks.dukptMacVerify({ bdkRef: 'bdk', ksn, algorithm: 'retail-tdes-pad2', data, mac })).toMatchObject({ ok: true, value: { counter, device: 'tdes:FFFF9876543210E00000' } });
      const answer = await ks.dukptMacGenerate({ bdkRef: 'bdk', ksn, algorithm: 'retail-tdes-pad2', data });
      expect(answer.equals(computeMac('retail-tdes-pad2', tdesVariant(transactionKey, 'mac-response'), data))).toBe(true);
      const other = Buffer.from(mac);
      other[0] = other[0]! ^ 1;
      expect(await ks.dukptMacVerify({ bdkRef: 'bdk', ksn, algorithm: 'retail-tdes-pad2', data, mac: other })).toMatchObject({ ok: false, code: 'MAC_MISMATCH' });
    }
    const mac = Buffer.alloc(8);
    expect(await ks.dukptMacVerify({ bdkRef: 'bdk', ksn: Buffer.alloc(12), algorithm: 'retail-tdes-pad2', data, mac })).toMatchObject({ ok: false, code: 'DUKPT_BAD_KSN' });
    const elevenOnes = withCounter(requireKsn(TDES_IKSN, 'tdes'), 0x7ff);
    expect(await ks.dukptMacVerify({ bdkRef: 'bdk', ksn: elevenOnes, algorithm: 'retail-tdes-pad2', data, mac })).toMatchObject({ ok: false, code: 'DUKPT_KSN_COUNTER_INVALID' });
    expect(await ks.dukptMacVerify({ bdkRef: 'nope', ksn: TDES_IKSN, algorithm: 'retail-tdes-pad2', data, mac })).toMatchObject({ ok: false, code: 'KEY_NOT_FOUND' });
    // A MAC algorithm of another key family is a configuration error.
    await expect(ks.dukptMacVerify({ bdkRef: 'bdk', ksn: TDES_IKSN, algorithm: 'aes-cmac', data, mac })).rejects.toMatchObject({ code: 'MAC_ALGORITHM' });
  });

  it('AES: MAC (mac-gen / mac-verify keys) and a format 4 PIN block verified and translated from the KSN', async () => {
    const ks = await storeWith('aes', AES_BDK);
    await ks.importClearKey('zpk', { algorithm: 'aes', usage: 'zpk' }, generateClearKey('aes'));
    const term = new AesDukptOriginator(hex('1273671EA26AC29AFA4D1084127652A1'), AES_IKID);
    const { ksn, derivationKey } = term.next();
    const w = (u: 'mac-gen' | 'mac-verify' | 'pin'): Buffer => deriveAesWorkingKeyFromDerivationKey(derivationKey, ksn, u, 'aes128');
    const data = Buffer.from('1100 under AES DUKPT');
    expect((await ks.dukptMacVerify({ bdkRef: 'bdk', ksn, algorithm: 'aes-cmac', data, mac: computeMac('aes-cmac', w('mac-gen'), data) })).ok).toBe(true);
    expect((await ks.dukptMacGenerate({ bdkRef: 'bdk', ksn, algorithm: 'aes-cmac', data })).equals(computeMac('aes-cmac', w('mac-verify'), data))).toBe(true);

    const block = encipherPin({ format: 4, algorithm: 'aes', key: w('pin'), pin: '2468', pan: PAN });
    const stored = createHmac('sha256', Buffer.alloc(32, 7)).update(`${PAN}:2468`).digest('hex');
    const ref = { ref: 'bdk', format: 4 as const, ksn };
    expect(await ks.pinVerifyPlatform({ pin: ref, pinBlock: block, pan: PAN, subject: PAN, stored })).toEqual({ ok: true, value: true });
    const translated = await ks.pinTranslate({ from: ref, to: { ref: 'zpk', format: 4 }, pinBlock: block, pan: PAN });
    expect(translated.ok).toBe(true);
    // A DUKPT ref without its KSN is not a TPK: configuration error.
    await expect(ks.pinVerifyPlatform({ pin: { ref: 'bdk', format: 4 }, pinBlock: block, pan: PAN, subject: PAN, stored })).rejects.toMatchObject({ code: 'KEY_USAGE' });
  });

  it('KSN replay rule: increasing counters pass; a used one is refused unless it is the same request again; exhaustion is refused', async () => {
    const ks = await storeWith('tdes', TDES_BDK);
    const base = requireKsn(TDES_IKSN, 'tdes');
    const at = (c: number): Buffer => withCounter(base, c);
    const accept = (c: number, requestId: string) => ks.dukptAcceptKsn({ bdkRef: 'bdk', ksn: at(c), requestId });
    expect(await accept(1, 'a')).toMatchObject({ ok: true, value: { counter: 1 } });
    expect(await accept(5, 'b')).toMatchObject({ ok: true, value: { counter: 5 } }); // gaps are normal
    expect(await accept(5, 'b')).toMatchObject({ ok: true }); // the same request retransmitted
    expect(await accept(5, 'c')).toMatchObject({ ok: false, code: 'DUKPT_KSN_REPLAY' });
    expect(await accept(3, 'd')).toMatchObject({ ok: false, code: 'DUKPT_KSN_REPLAY' });
    expect(await accept(1, 'a')).toMatchObject({ ok: false, code: 'DUKPT_KSN_REPLAY' }); // only the last request is remembered
    // The device's last counter (ten one-bits at the top) is accepted and says so; nothing after it is.
    expect(await accept(0x1ff800, 'e')).toMatchObject({ ok: true, value: { exhausted: true, remaining: 0 } });
    expect(await accept(0x1ff800, 'f')).toMatchObject({ ok: false, code: 'DUKPT_KSN_EXHAUSTED' });
    expect(await ks.dukptAcceptKsn({ bdkRef: 'bdk', ksn: Buffer.from('short'), requestId: 'g' })).toMatchObject({ ok: false, code: 'DUKPT_BAD_KSN' });
  });
});

describe('SoftwareKeyStore: key change time', () => {
  it('records when a version became current, sealed with the key, from the caller\'s clock', async () => {
    const kek = randomBytes(32);
    const ks = new SoftwareKeyStore({ kek });
    await ks.importClearKey('tmk', { algorithm: 'tdes', usage: 'tmk' }, generateClearKey('tdes'));
    const at = new Date('2026-11-28T08:00:00.000Z');
    await ks.generateSessionKeys('tmk', [{ ref: 'tak', usage: 'tak', algorithm: 'tdes' }]);
    await ks.generateSessionKeys('tmk', [{ ref: 'tak', usage: 'tak', algorithm: 'tdes' }], { at });
    expect(await ks.describe('tak')).toMatchObject({ version: 2, previousVersion: 1, since: at });
    const state = ks.exportState();
    expect((await new SoftwareKeyStore({ kek, state }).describe('tak'))!.since).toEqual(at);
    // Moving the change time at rest (to stretch a rollover) breaks the seal.
    const moved = JSON.parse(JSON.stringify(state));
    moved.entries.find((e: { ref: string }) => e.ref === 'tak').current.since = '2030-01-01T00:00:00.000Z';
    expect(() => new SoftwareKeyStore({ kek, state: moved })).toThrow(expect.objectContaining({ code: 'KEYSTORE_STATE_INVALID' }));
    // Dropping the change time does not open either (it is in the AAD)…
    const dropped = JSON.parse(JSON.stringify(state));
    delete dropped.entries.find((e: { ref: string }) => e.ref === 'tmk').current.since;
    expect(() => new SoftwareKeyStore({ kek, state: dropped })).toThrow(expect.objectContaining({ code: 'KEYSTORE_STATE_INVALID' }));
    // …while a seal made before change times were recorded (the old AAD) still opens, with since: null.
    const clear = generateClearKey('tdes');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, iv);
    c.setAAD(Buffer.from(JSON.stringify(['old', 'tdes', 'tak', 1])));
    const ct = Buffer.concat([c.update(clear), c.final()]);
    const sealed = { version: 1, length: 16, kcv: '000000', iv: iv.toString('hex'), tag: c.getAuthTag().toString('hex'), ct: ct.toString('hex') };
    const old = new SoftwareKeyStore({ kek, state: { format: 'fuelcard-keystore-v1', entries: [{ ref: 'old', algorithm: 'tdes', usage: 'tak', current: sealed, previous: null }] } });
    expect(await old.describe('old')).toMatchObject({ version: 1, since: null });
    expect((await old.macGenerate('old', 'retail-tdes-pad2', Buffer.alloc(8))).equals(computeMac('retail-tdes-pad2', clear, Buffer.alloc(8)))).toBe(true);
  });
});
