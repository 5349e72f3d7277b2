import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PosCryptoError, generateClearKey, hex, keyCheckValue, unwrapKeyChecked, type KeyAlgorithm } from './keys.js';
import { computeMac, type MacAlgorithm } from './mac.js';
import { decryptPinBlock, encipherPin } from './pin.js';
import { SoftwareKeyStore, type SessionKeyDelivery } from './keystore.js';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await expect(p).rejects.toBeInstanceOf(PosCryptoError);
  await expect(p).rejects.toMatchObject({ code });
}

/** A terminal that was given its TMK at installation and receives session keys at sign-on. */
function terminalKeys(tmkAlg: KeyAlgorithm, tmk: Buffer, deliveries: SessionKeyDelivery[]): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const d of deliveries) out[d.usage] = unwrapKeyChecked(tmkAlg, tmk, d.algorithm, d.encrypted, d.kcv, d.wrapMethod);
  return out;
}

const PAN = '6228480402564890018';

describe('SoftwareKeyStore: installation and sign-on key exchange', () => {
  it('needs a 32-byte KEK', () => {
    expect(() => new SoftwareKeyStore({ kek: Buffer.alloc(16) })).toThrow(PosCryptoError);
  });

  it('loads a TMK with its KCV and refuses a mistyped one', async () => {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    const tmk = hex('0123456789ABCDEFFEDCBA9876543210');
    const info = await ks.importClearKey('term:T1:tmk', { algorithm: 'tdes', usage: 'tmk' }, tmk, hex('08D7B4'));
    expect(info).toMatchObject({ ref: 'term:T1:tmk', version: 1, kcv: '08D7B4', length: 16, previousVersion: null });
    await rejectsWith(ks.importClearKey('term:T2:tmk', { algorithm: 'tdes', usage: 'tmk' }, tmk, hex('000000')), 'KCV_MISMATCH');
    await rejectsWith(ks.importClearKey('term:T2:tmk', { algorithm: 'aes', usage: 'tmk' }, Buffer.alloc(15)), 'KEY_LENGTH');
    expect(await ks.describe('term:T2:tmk')).toBeNull();
  });

  for (const [tmkAlg, sessAlg, macAlg, format, wrapMethod] of [
    ['tdes', 'tdes', 'retail-tdes-pad2', 0, 'ecb'],
    ['aes', 'aes', 'aes-cmac', 4, 'ecb'],
    ['aes', 'aes', 'aes-cmac', 4, 'aes-kw'],
    ['sm4', 'sm4', 'sm4-cmac', 4, 'ecb'],
    ['sm4', 'sm4', 'sm4-cbcmac-pad2', 4, 'ecb'],
  ] as const) {
    it(`${tmkAlg} TMK → ${sessAlg} TPK/TAK (${wrapMethod}); terminal MACs with ${macAlg} and PINs in format ${format}`, async () => {
      const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
      const tmk = generateClearKey(tmkAlg);
      await ks.importClearKey('t:tmk', { algorithm: tmkAlg, usage: 'tmk' }, tmk);
      const deliveries = await ks.generateSessionKeys(
        't:tmk',
        [
          { ref: 't:tpk', usage: 'tpk', algorithm: sessAlg },
          { ref: 't:tak', usage: 'tak', algorithm: sessAlg },
          { ref: 't:tdk', usage: 'tdk', algorithm: sessAlg },
        ],
        { wrapMethod },
      );
      expect(deliveries.map((d) => [d.usage, d.version, d.kcv.length])).toEqual([
        ['tpk', 1, 3],
        ['tak', 1, 3],
        ['tdk', 1, 3],
      ]);
      const term = terminalKeys(tmkAlg, tmk, deliveries);
      expect((await ks.describe('t:tak'))!.kcv).toBe(keyCheckValue(sessAlg, term.tak!).toString('hex').toUpperCase());

      // Terminal → host: MAC verified by reference.
      const msg = Buffer.from('1100 pre-auth for pump 3');
      const mac = computeMac(macAlg, term.tak!, msg);
      expect(await ks.macVerify('t:tak', macAlg, msg, mac)).toEqual({ ok: true, value: true });
      // Host → terminal: the terminal verifies the host's MAC.
      expect((await ks.macGenerate('t:tak', macAlg, msg)).equals(mac)).toBe(true);

      // PIN: terminal enciphers under the TPK; host translates to the issuer ZPK.
      const zpkClear = generateClearKey('aes');
      await ks.importClearKey('issuer:zpk', { algorithm: 'aes', usage: 'zpk' }, zpkClear);
      const block = encipherPin({ format, algorithm: sessAlg, key: term.tpk!, pin: '864213', pan: PAN });
      const tr = await ks.pinTranslate({ from: { ref: 't:tpk', format }, to: { ref: 'issuer:zpk', format: 4 }, pinBlock: block, pan: PAN });
      if (!tr.ok) throw new Error(tr.code);
      expect([...decryptPinBlock(4, 'aes', zpkClear, tr.value, PAN)].join('')).toBe('864213');
    });
  }

  it('rotation keeps the previous version until retired (DE 53 key version rollover)', async () => {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    const tmk = generateClearKey('tdes');
    await ks.importClearKey('t:tmk', { algorithm: 'tdes', usage: 'tmk' }, tmk);
    const req = [{ ref: 't:tak', usage: 'tak' as const, algorithm: 'tdes' as const }];
    const v1 = terminalKeys('tdes', tmk, await ks.generateSessionKeys('t:tmk', req)).tak!;
    const d2 = await ks.generateSessionKeys('t:tmk', req);
    expect(d2[0]!.version).toBe(2);
    const v2 = terminalKeys('tdes', tmk, d2).tak!;
    const msg = Buffer.from('echo 1820');
    const alg: MacAlgorithm = 'retail-tdes-pad2';
    expect((await ks.macVerify('t:tak', alg, msg, computeMac(alg, v2, msg))).ok).toBe(true);
    expect(await ks.macVerify('t:tak', alg, msg, computeMac(alg, v1, msg))).toMatchObject({ ok: false, code: 'MAC_MISMATCH' });
    expect((await ks.macVerify('t:tak', alg, msg, computeMac(alg, v1, msg), 1)).ok).toBe(true);
    expect(await ks.describe('t:tak')).toMatchObject({ version: 2, previousVersion: 1 });
    await ks.retirePrevious('t:tak');
    expect(await ks.macVerify('t:tak', alg, msg, computeMac(alg, v1, msg), 1)).toMatchObject({ ok: false, code: 'KEY_NOT_FOUND' });
    expect(await ks.macVerify('t:tak', alg, msg, computeMac(alg, v2, msg), 7)).toMatchObject({ ok: false, code: 'KEY_NOT_FOUND' });
  });

  it('imports a key wrapped under a TMK/KEK, checking its KCV', async () => {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    const zmk = generateClearKey('tdes');
    await ks.importClearKey('zmk', { algorithm: 'tdes', usage: 'kek' }, zmk);
    const tmk = generateClearKey('tdes');
    const { wrapKey } = await import('./keys.js');
    const encrypted = wrapKey('tdes', zmk, tmk);
    const info = await ks.importWrappedKey('t9:tmk', { algorithm: 'tdes', usage: 'tmk' }, { kekRef: 'zmk', encrypted, kcv: keyCheckValue('tdes', tmk) });
    expect(info.kcv).toBe(keyCheckValue('tdes', tmk).toString('hex').toUpperCase());
    await rejectsWith(
      ks.importWrappedKey('t10:tmk', { algorithm: 'tdes', usage: 'tmk' }, { kekRef: 'zmk', encrypted, kcv: hex('ABCDEF') }),
      'KCV_MISMATCH',
    );
    await rejectsWith(
      ks.importWrappedKey('t10:tmk', { algorithm: 'tdes', usage: 'tmk' }, { kekRef: 't9:tmk', encrypted: Buffer.alloc(5), kcv: hex('ABCDEF') }),
      'WRAPPED_KEY_INVALID',
    );
  });

  it('a failed session-key request leaves existing keys untouched', async () => {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    await ks.importClearKey('t:tmk', { algorithm: 'aes', usage: 'tmk' }, generateClearKey('aes'));
    await ks.generateSessionKeys('t:tmk', [{ ref: 't:tak', usage: 'tak', algorithm: 'aes' }]);
    // A 24-byte TDES key cannot be ECB-wrapped in 16-byte AES blocks: the whole request fails.
    await rejectsWith(
      ks.generateSessionKeys('t:tmk', [
        { ref: 't:tak', usage: 'tak', algorithm: 'aes' },
        { ref: 't:tpk', usage: 'tpk', algorithm: 'tdes', length: 24 },
      ]),
      'DATA_LENGTH',
    );
    expect(await ks.describe('t:tak')).toMatchObject({ version: 1 });
    expect(await ks.describe('t:tpk')).toBeNull();
    await rejectsWith(ks.generateSessionKeys('t:tmk', [{ ref: 'x', usage: 'tmk' as never, algorithm: 'aes' }]), 'KEY_USAGE');
    await rejectsWith(ks.generateSessionKeys('t:tak', [{ ref: 'x', usage: 'tak', algorithm: 'aes' }]), 'KEY_USAGE');
    await rejectsWith(ks.generateKey('t:tak', { algorithm: 'aes', usage: 'tak' }), 'KEY_EXISTS');
    // Changing a key's algorithm on rotation is refused before anything is replaced.
    await rejectsWith(
      ks.generateSessionKeys('t:tmk', [
        { ref: 't:tpk', usage: 'tpk', algorithm: 'aes' },
        { ref: 't:tak', usage: 'tak', algorithm: 'sm4' },
      ]),
      'KEY_USAGE',
    );
    expect(await ks.describe('t:tpk')).toBeNull();
    await rejectsWith(
      ks.generateSessionKeys('t:tmk', [
        { ref: 't:tak', usage: 'tak', algorithm: 'aes' },
        { ref: 't:tak', usage: 'tak', algorithm: 'aes' },
      ]),
      'KEY_EXISTS',
    );
    expect(await ks.describe('t:tak')).toMatchObject({ version: 1 });
  });
});

describe('SoftwareKeyStore: MAC and PIN operations refuse bad input with codes', () => {
  async function setup() {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    const tmk = generateClearKey('aes');
    await ks.importClearKey('t:tmk', { algorithm: 'aes', usage: 'tmk' }, tmk);
    const d = await ks.generateSessionKeys('t:tmk', [
      { ref: 't:tpk', usage: 'tpk', algorithm: 'aes' },
      { ref: 't:tak', usage: 'tak', algorithm: 'aes' },
    ]);
    await ks.generateKey('pvk', { algorithm: 'aes', usage: 'pvk' });
    return { ks, term: terminalKeys('aes', tmk, d) };
  }

  it('macVerify: mismatch, wrong length and unknown key are results; misuse throws', async () => {
    const { ks, term } = await setup();
    const msg = Buffer.from('x');
    const mac = computeMac('aes-cmac', term.tak!, msg);
    expect(await ks.macVerify('t:tak', 'aes-cmac', Buffer.from('y'), mac)).toMatchObject({ ok: false, code: 'MAC_MISMATCH' });
    expect(await ks.macVerify('t:tak', 'aes-cmac', msg, mac.subarray(0, 4))).toMatchObject({ ok: false, code: 'MAC_LENGTH' });
    expect(await ks.macVerify('nope', 'aes-cmac', msg, mac)).toMatchObject({ ok: false, code: 'KEY_NOT_FOUND' });
    await rejectsWith(ks.macVerify('t:tpk', 'aes-cmac', msg, mac), 'KEY_USAGE');
    await rejectsWith(ks.macVerify('t:tak', 'retail-tdes-pad1', msg, mac), 'MAC_ALGORITHM');
    await rejectsWith(ks.macGenerate('t:tmk', 'aes-cmac', msg), 'KEY_USAGE');
  });

  it('pinVerify against a PVV enrolled from a PIN block', async () => {
    const { ks, term } = await setup();
    const enrol = encipherPin({ format: 4, algorithm: 'aes', key: term.tpk!, pin: '2468', pan: PAN });
    const pvv = await ks.derivePvv({ pin: { ref: 't:tpk', format: 4 }, pinBlock: enrol, pan: PAN, pvkRef: 'pvk' });
    if (!pvv.ok) throw new Error(pvv.code);
    const stored = pvv.value;
    const verify = (pin: string, lookup: Buffer | null = stored, pan = PAN) =>
      ks.pinVerify({
        pin: { ref: 't:tpk', format: 4 },
        pinBlock: encipherPin({ format: 4, algorithm: 'aes', key: term.tpk!, pin, pan }),
        pan,
        pvkRef: 'pvk',
        lookupPvv: async () => lookup,
      });
    expect(await verify('2468')).toEqual({ ok: true, value: true });
    expect(await verify('2469')).toMatchObject({ ok: false, code: 'PIN_MISMATCH' });
    expect(await verify('2468', null)).toMatchObject({ ok: false, code: 'PVV_UNAVAILABLE' });
    // The PVV is bound to the card: the same PIN on another PAN does not verify.
    expect(await verify('2468', stored, '6228480402564890026')).toMatchObject({ ok: false, code: 'PIN_MISMATCH' });
    const garbage = await ks.pinVerify({ pin: { ref: 't:tpk', format: 4 }, pinBlock: randomBytes(16), pan: PAN, pvkRef: 'pvk', lookupPvv: async () => stored });
    expect(garbage).toMatchObject({ ok: false, code: 'PIN_BLOCK_INVALID' });
    const short = await ks.pinVerify({ pin: { ref: 't:tpk', format: 4 }, pinBlock: randomBytes(8), pan: PAN, pvkRef: 'pvk', lookupPvv: async () => stored });
    expect(short).toMatchObject({ ok: false, code: 'PIN_BLOCK_LENGTH' });
    const badPan = await ks.pinVerify({ pin: { ref: 't:tpk', format: 4 }, pinBlock: randomBytes(16), pan: '12x', pvkRef: 'pvk', lookupPvv: async () => stored });
    expect(badPan).toMatchObject({ ok: false, code: 'PAN_INVALID' });
    await rejectsWith(
      ks.pinVerify({ pin: { ref: 't:tpk', format: 0 }, pinBlock: randomBytes(8), pan: PAN, pvkRef: 'pvk', lookupPvv: async () => stored }),
      'PIN_BLOCK_FORMAT',
    );
    await rejectsWith(
      ks.pinVerify({ pin: { ref: 't:tpk', format: 4 }, pinBlock: enrol, pan: PAN, pvkRef: 't:tak', lookupPvv: async () => stored }),
      'KEY_USAGE',
    );
  });

  it('pinTranslate: unknown source key and malformed blocks are results; a MAC key as PIN key throws', async () => {
    const { ks, term } = await setup();
    await ks.generateKey('zpk', { algorithm: 'aes', usage: 'zpk' });
    const block = encipherPin({ format: 4, algorithm: 'aes', key: term.tpk!, pin: '1357', pan: PAN });
    const to = { ref: 'zpk', format: 4 as const };
    expect((await ks.pinTranslate({ from: { ref: 't:tpk', format: 4 }, to, pinBlock: block, pan: PAN })).ok).toBe(true);
    expect(await ks.pinTranslate({ from: { ref: 'none', format: 4 }, to, pinBlock: block, pan: PAN })).toMatchObject({ ok: false, code: 'KEY_NOT_FOUND' });
    expect(await ks.pinTranslate({ from: { ref: 't:tpk', format: 4 }, to, pinBlock: randomBytes(16), pan: PAN })).toMatchObject({
      ok: false,
      code: 'PIN_BLOCK_INVALID',
    });
    await rejectsWith(ks.pinTranslate({ from: { ref: 't:tak', format: 4 }, to, pinBlock: block, pan: PAN }), 'KEY_USAGE');
  });
});

describe('SoftwareKeyStore: PIN translation policy (review finding)', () => {
  async function setup() {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    const tmk = generateClearKey('aes');
    await ks.importClearKey('t:tmk', { algorithm: 'aes', usage: 'tmk' }, tmk);
    const d = await ks.generateSessionKeys('t:tmk', [
      { ref: 't:tpk', usage: 'tpk', algorithm: 'aes' },
    ]);
    await ks.generateKey('t2:tpk', { algorithm: 'aes', usage: 'tpk' });
    await ks.generateKey('zpk', { algorithm: 'aes', usage: 'zpk' });
    await ks.generateKey('zpk0', { algorithm: 'tdes', usage: 'zpk' });
    const term = terminalKeys('aes', tmk, d);
    const block = encipherPin({ format: 4, algorithm: 'aes', key: term.tpk!, pin: '1357', pan: PAN });
    return { ks, block };
  }

  it('translates only towards a zpk: another terminal PIN key is refused', async () => {
    const { ks, block } = await setup();
    await rejectsWith(ks.pinTranslate({ from: { ref: 't:tpk', format: 4 }, to: { ref: 't2:tpk', format: 4 }, pinBlock: block, pan: PAN }), 'KEY_USAGE');
    expect((await ks.pinTranslate({ from: { ref: 't:tpk', format: 4 }, to: { ref: 'zpk', format: 4 }, pinBlock: block, pan: PAN })).ok).toBe(true);
  });

  it('never moves a PIN block to another PAN', async () => {
    const { ks, block } = await setup();
    const r = await ks.pinTranslate({ from: { ref: 't:tpk', format: 4 }, to: { ref: 'zpk', format: 4 }, pinBlock: block, pan: PAN, toPan: '6228480402564890026' });
    expect(r).toMatchObject({ ok: false, code: 'PAN_INVALID' });
    expect((await ks.pinTranslate({ from: { ref: 't:tpk', format: 4 }, to: { ref: 'zpk', format: 4 }, pinBlock: block, pan: PAN, toPan: PAN })).ok).toBe(true);
  });

  it('never translates format 4 down to format 0', async () => {
    const { ks, block } = await setup();
    await rejectsWith(ks.pinTranslate({ from: { ref: 't:tpk', format: 4 }, to: { ref: 'zpk0', format: 0 }, pinBlock: block, pan: PAN }), 'PIN_BLOCK_FORMAT');
  });
});

describe('SoftwareKeyStore: rotation keeps the version the terminal holds (review finding)', () => {
  it('heldVersion = previous: a re-rotation keeps that version instead of the never-received current one', async () => {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    const tmk = generateClearKey('tdes');
    await ks.importClearKey('t:tmk', { algorithm: 'tdes', usage: 'tmk' }, tmk);
    const req = [{ ref: 't:tak', usage: 'tak' as const, algorithm: 'tdes' as const }];
    const v1 = terminalKeys('tdes', tmk, await ks.generateSessionKeys('t:tmk', req)).tak!;
    await ks.generateSessionKeys('t:tmk', req); // v2: its answer was lost, the terminal still holds v1
    const d3 = await ks.generateSessionKeys('t:tmk', [{ ...req[0]!, heldVersion: 1 }]);
    expect(d3[0]!.version).toBe(3);
    expect(await ks.describe('t:tak')).toMatchObject({ version: 3, previousVersion: 1 });
    const msg = Buffer.from('1804 801');
    const alg: MacAlgorithm = 'retail-tdes-pad2';
    expect((await ks.macVerify('t:tak', alg, msg, computeMac(alg, v1, msg), 1)).ok).toBe(true);
    // Default (no heldVersion) keeps the current version as previous.
    await ks.generateSessionKeys('t:tmk', req);
    expect(await ks.describe('t:tak')).toMatchObject({ version: 4, previousVersion: 3 });
    // A version the store does not hold is refused before anything rotates.
    await rejectsWith(ks.generateSessionKeys('t:tmk', [{ ...req[0]!, heldVersion: 1 }]), 'KEY_NOT_FOUND');
    expect(await ks.describe('t:tak')).toMatchObject({ version: 4, previousVersion: 3 });
  });

  it('a held previous version keeps the time it was superseded (its rollover deadline), sealed so it cannot be moved at rest', async () => {
    const kek = randomBytes(32);
    const ks = new SoftwareKeyStore({ kek });
    const tmk = generateClearKey('tdes');
    await ks.importClearKey('t:tmk', { algorithm: 'tdes', usage: 'tmk' }, tmk);
    const req = [{ ref: 't:tak', usage: 'tak' as const, algorithm: 'tdes' as const }];
    const t = (s: number): Date => new Date(Date.UTC(2026, 10, 28, 8, 0, s));
    const v1 = terminalKeys('tdes', tmk, await ks.generateSessionKeys('t:tmk', req, { at: t(0) })).tak!;
    expect(await ks.describe('t:tak')).toMatchObject({ version: 1, previousVersion: null, previousSupersededAt: null });
    await ks.generateSessionKeys('t:tmk', req, { at: t(10) });
    expect(await ks.describe('t:tak')).toMatchObject({ version: 2, previousVersion: 1, since: t(10), previousSupersededAt: t(10) });
    // Kept twice more under heldVersion: the current version's time moves, the previous one's does not.
    for (const [s, version] of [[20, 3], [30, 4]] as const) {
      await ks.generateSessionKeys('t:tmk', [{ ...req[0]!, heldVersion: 1 }], { at: t(s) });
      expect(await ks.describe('t:tak')).toMatchObject({ version, previousVersion: 1, since: t(s), previousSupersededAt: t(10) });
    }
    // Re-sealing kept the key itself: v1 still MACs.
    const msg = Buffer.from('1820 831');
    expect((await ks.macVerify('t:tak', 'retail-tdes-pad2', msg, computeMac('retail-tdes-pad2', v1, msg), 1)).ok).toBe(true);
    const state = ks.exportState();
    expect((await new SoftwareKeyStore({ kek, state }).describe('t:tak'))!.previousSupersededAt).toEqual(t(10));
    // Moving the time (to stretch the deadline) or dropping it breaks the seal.
    for (const change of [(p: Record<string, unknown>) => (p.supersededAt = t(40).toISOString()), (p: Record<string, unknown>) => delete p.supersededAt]) {
      const edited = JSON.parse(JSON.stringify(state));
      change(edited.entries.find((e: { ref: string }) => e.ref === 't:tak').previous);
      expect(() => new SoftwareKeyStore({ kek, state: edited })).toThrow(expect.objectContaining({ code: 'KEYSTORE_STATE_INVALID' }));
    }
    // A plain rotation supersedes the current version now.
    await ks.generateSessionKeys('t:tmk', req, { at: t(50) });
    expect(await ks.describe('t:tak')).toMatchObject({ version: 5, previousVersion: 4, previousSupersededAt: t(50) });
  });
});

describe('SoftwareKeyStore: keys at rest', () => {
  it('exported state holds no clear key and restores only under the same KEK', async () => {
    const kek = randomBytes(32);
    const ks = new SoftwareKeyStore({ kek });
    const clear = hex('0123456789ABCDEFFEDCBA9876543210');
    await ks.importClearKey('t:tak', { algorithm: 'tdes', usage: 'tak' }, clear);
    const state = ks.exportState();
    const json = JSON.stringify(state);
    expect(json.toLowerCase()).not.toContain('0123456789abcdef');
    expect(JSON.stringify(await ks.describe('t:tak')).toLowerCase()).not.toContain('0123456789abcdef');

    const again = new SoftwareKeyStore({ kek, state: JSON.parse(json) });
    const msg = Buffer.from('1804 sign-on');
    expect((await again.macGenerate('t:tak', 'retail-tdes-pad1', msg)).equals(computeMac('retail-tdes-pad1', clear, msg))).toBe(true);

    expect(() => new SoftwareKeyStore({ kek: randomBytes(32), state })).toThrow(expect.objectContaining({ code: 'KEYSTORE_STATE_INVALID' }));
    // Sealed keys are bound to their reference and usage: a renamed entry no longer opens.
    const moved = JSON.parse(json);
    moved.entries[0].usage = 'tpk';
    expect(() => new SoftwareKeyStore({ kek, state: moved })).toThrow(expect.objectContaining({ code: 'KEYSTORE_STATE_INVALID' }));
    expect(() => new SoftwareKeyStore({ kek, state: { format: 'x' } as never })).toThrow(
      expect.objectContaining({ code: 'KEYSTORE_STATE_INVALID' }),
    );
  });

  it('deleteKey removes a key', async () => {
    const ks = new SoftwareKeyStore({ kek: randomBytes(32) });
    await ks.generateKey('k', { algorithm: 'sm4', usage: 'tak' });
    expect(await ks.deleteKey('k')).toBe(true);
    expect(await ks.describe('k')).toBeNull();
    await rejectsWith(ks.retirePrevious('k'), 'KEY_NOT_FOUND');
  });
});
