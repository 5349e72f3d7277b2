import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DukptError, nextCounter, parseKsn } from './dukpt-ksn.js';
import {
  TdesDukptOriginator,
  decryptTdesDukptPinBlock,
  deriveTdesIpek,
  deriveTdesTransactionKey,
  deriveTdesWorkingKey,
  encryptTdesDukptPinBlock,
  tdesVariant,
} from './dukpt-tdes.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const HEX = (b: Buffer): string => b.toString('hex').toUpperCase();

/*
 * Known-answer vectors: ANSI X9.24-1:2009 Annex A.4 "DUKPT Test Data Examples" (BDK, IKSN,
 * IPEK, clear PIN block for PIN 1234 / PAN 4012345678909 in format 0, A.4.2 initial sequence
 * and A.4.3 rollover sequence), as published in openemv/dukpt test/dukpt_tdes_test.c
 * (https://github.com/openemv/dukpt), the source named in docs/reference pos.md §4.6.
 * Each row: KSN, transaction key (the "current key" register), encrypted PIN block.
 */
const BDK = hex('0123456789ABCDEFFEDCBA9876543210');
const IKSN = 'FFFF9876543210E00000';
const IPEK = '6AC292FAA1315B4D858AB3A3D7D5933A';
const CLEAR_PIN_BLOCK = hex('041274EDCBA9876F');

const INITIAL_SEQUENCE: [string, string, string][] = [
  ['FFFF9876543210E00001', '042666B49184CFA368DE9628D0397BC9', '1B9C1845EB993A7A'],
  ['FFFF9876543210E00002', 'C46551CEF9FD24B0AA9AD834130D3BC7', '10A01C8D02C69107'],
  ['FFFF9876543210E00003', '0DF3D9422ACA56E547676D07AD6BADFA', '18DC07B94797B466'],
  ['FFFF9876543210E00004', '279C0F6AEED0BE652B2C733E1383AE91', '0BC79509D5645DF7'],
  ['FFFF9876543210E00005', '5F8DC6D2C845C125508DDC048093B83F', '5BC0AF22AD87B327'],
  ['FFFF9876543210E00006', '5E415CB0BAF9F03CD0C14B63FB62FF43', 'A16DF70AE36158D8'],
  ['FFFF9876543210E00007', '0C8F780B7C8B49D0AE84A9EB2A6CE660', '27711C16CB257F8E'],
  ['FFFF9876543210E00008', '27F66D5244FF62E1AA6F6120EDEB4280', '50E55547A5027551'],
  ['FFFF9876543210E00009', '27E31064FDC565698900E2057F658E7E', '536CF7F678ACFC8D'],
  ['FFFF9876543210E0000A', '6CF2500A22507C7CC776CEADC1E33014', 'EDABBA23221833FE'],
  ['FFFF9876543210E0000B', '3E8260BA04B2D620C01482B3819A18B7', '2328981C57B4BDBA'],
  ['FFFF9876543210E0000C', 'B716E1E11CF53D80726CAEE75C3A624F', '038D03CC926CF286'],
  ['FFFF9876543210E0000D', 'E072EDF95340535FB6C581C58FBF2533', '6C8AA97088B62C68'],
  ['FFFF9876543210E0000E', 'A80046087F5B8F245AAD95E18429084F', 'F17C9E1D72CD4950'],
  ['FFFF9876543210E0000F', '93DD5B956C4878472E453AAEFD32A5AA', 'B170F6E7F7F2F64A'],
  ['FFFF9876543210E00010', '59598DCBD9BD94C094165CE453585F57', 'D5D9638559EF53D6'],
  ['FFFF9876543210E00011', '2B5F01F4F0CC05EA639D523231BF1BA2', 'D544F8CDD292C863'],
  ['FFFF9876543210E00012', '9CF640F279C2AEE615F725EEEAC2CBAF', '7A21BD10F36DC41D'],
  ['FFFF9876543210E00013', 'C3DF489FDF1153B4F03DE97C27DC4C2F', '78649BD17D0DFA60'],
  ['FFFF9876543210E00014', '658488507721B3F14737FA93F923CBD2', '7E7E16EA0C31AD56'],
  ['FFFF9876543210E00015', 'E161D1956A61F6D2F37AFD7F9CC3699A', '72105C22EBC791E6'],
];

const ROLLOVER_SEQUENCE: [string, string, string][] = [
  ['FFFF9876543210EFF800', 'F9CDFEBF4F5B1D9EB3EC12454527E176', '33365F5CC6F23C35'],
  ['FFFF9876543210EFF801', '5BEE92627E97825C911BF619DF72CA3B', '3A86BF003F835C9D'],
  ['FFFF9876543210EFF802', '64CA2F8AB93F61B01620B00BF77C7301', '3DB977D05C36DF3F'],
  ['FFFF9876543210EFF804', '35A168695B3BA83307E871C42021DD37', 'BA83243305712099'],
  ['FFFF9876543210EFF808', '12C380FCB72ED3C26FC6079AF63F4787', 'B0DA04AC90A36D85'],
  ['FFFF9876543210EFF810', 'D8007C833A1E3C49C6889B97A68C54FF', '2CF02BD9C309EEDA'],
  ['FFFF9876543210EFF820', 'A9C9FF9B735FDD49591F296B0BF0FD70', '9D1E2F77AEEE81C6'],
  ['FFFF9876543210EFF840', '0E3E221062CB5E03A384602783A004FA', '40870B0F8BA2011C'],
  ['FFFF9876543210EFF880', 'CA8225C587124DFBB87F279C0BE29727', '22E340D6ABB40981'],
  ['FFFF9876543210EFF900', '906AAC1751D4971A144D52C76C6E1F97', '1A4C10AFBA03A430'],
  ['FFFF9876543210EFFA00', '2B9E2CE7C2750337E10B54D2989EA6AF', '849763B43E5F9CFF'],
  ['FFFF9876543210EFFC00', 'F9430DF975082491C77BE4EF4FDB91EE', 'DEFC6F09F8927B71'],
  ['FFFF9876543210F00000', 'AA4D58DB653EC74A48C75F2F047DD2B5', '73EC88AD0AC5830E'],
];

describe('TDES DUKPT (X9.24-1:2009) known answers', () => {
  it('derives the IPEK from the BDK and the initial KSN (A.4)', () => {
    expect(HEX(deriveTdesIpek(BDK, IKSN))).toBe(IPEK);
    // Any KSN of the device gives the same IPEK: the counter bits are masked off.
    expect(HEX(deriveTdesIpek(BDK, 'FFFF9876543210E00015'))).toBe(IPEK);
  });

  for (const [name, table] of [
    ['A.4.2 initial sequence', INITIAL_SEQUENCE],
    ['A.4.3 rollover sequence', ROLLOVER_SEQUENCE],
  ] as const) {
    it(`derives the transaction keys and encrypted PIN blocks of the ${name}`, () => {
      const ipek = hex(IPEK);
      for (const [ksn, key, epb] of table) {
        expect(HEX(deriveTdesTransactionKey(ipek, ksn)), ksn).toBe(key);
        expect(HEX(encryptTdesDukptPinBlock({ bdk: BDK }, ksn, CLEAR_PIN_BLOCK)), ksn).toBe(epb);
        expect(HEX(decryptTdesDukptPinBlock({ ipek }, ksn, hex(epb))), ksn).toBe(HEX(CLEAR_PIN_BLOCK));
      }
    });

    it(`steps the counter exactly as the ${name} does`, () => {
      for (let i = 0; i + 1 < table.length; i++) {
        const a = parseKsn(table[i]![0]);
        const b = parseKsn(table[i + 1]![0]);
        if (!a.ok || !b.ok) throw new Error('vector KSN must parse');
        expect(nextCounter('tdes', a.value.counter)).toBe(b.value.counter);
      }
    });
  }

  /*
   * Variant keys for counter 1: PIN, MAC request, MAC response and data request keys for KSN
   * FFFF9876543210E00001 as listed in X9.24-1:2009 A.4 and reproduced in public suites
   * (a Node.js DUKPT library's test cases and the CyberChef DUKPT tests agree). The PIN,
   * MAC-request and data rows for counters 2–5 are from that Node.js library's tests.
   */
  it('derives the PIN, MAC and data variants (A.4, A.6)', () => {
    const rows: [string, string, string, string][] = [
      ['FFFF9876543210E00001', '042666B49184CF5C68DE9628D0397B36', '042666B4918430A368DE9628D03984C9', '448D3F076D8304036A55A3D7E0055A78'],
      ['FFFF9876543210E00002', 'C46551CEF9FD244FAA9AD834130D3B38', 'C46551CEF9FDDBB0AA9AD834130DC4C7', 'F1BE73B36135C5C26CF937D50ABBE5AF'],
      ['FFFF9876543210E00003', '0DF3D9422ACA561A47676D07AD6BAD05', '0DF3D9422ACAA9E547676D07AD6B52FA', 'EEEEF522C67239E4A2A65FEBF4C511F4'],
      ['FFFF9876543210E00004', '279C0F6AEED0BE9A2B2C733E1383AE6E', '279C0F6AEED041652B2C733E13835191', 'BCF2610997C3AC3C5F13AE965A1B773B'],
      ['FFFF9876543210E00005', '5F8DC6D2C845C1DA508DDC048093B8C0', '5F8DC6D2C8453E25508DDC048093473F', 'F3054D8B7471284BDB4EE18AFC3B091B'],
    ];
    for (const [ksn, pin, macReq, dataReq] of rows) {
      expect(HEX(deriveTdesWorkingKey({ bdk: BDK }, ksn, 'pin')), ksn).toBe(pin);
      expect(HEX(deriveTdesWorkingKey({ bdk: BDK }, ksn, 'mac-request')), ksn).toBe(macReq);
      expect(HEX(deriveTdesWorkingKey({ ipek: hex(IPEK) }, ksn, 'data-request')), ksn).toBe(dataReq);
    }
    expect(HEX(deriveTdesWorkingKey({ bdk: BDK }, 'FFFF9876543210E00001', 'mac-response'))).toBe(
      '042666B46E84CFA368DE96282F397BC9',
    );
  });

  it('derives the data-response key by the A.6 variant and the 2009 one-way step (cross-check)', () => {
    // No published vector for the data-response key; cross-checked with an independent
    // computation: v = key XOR 000000FF00000000 000000FF00000000, then TDES-ECB(v, v).
    const tk = hex('042666B49184CFA368DE9628D0397BC9');
    const v = Buffer.from(tk.map((b, i) => (i % 8 === 3 ? b ^ 0xff : b)));
    const c = createCipheriv('des-ede3-ecb', Buffer.concat([v, v.subarray(0, 8)]), null).setAutoPadding(false);
    const expected = Buffer.concat([c.update(v), c.final()]);
    expect(HEX(tdesVariant(tk, 'data-response'))).toBe(HEX(expected));
    const keys = (['pin', 'mac-request', 'mac-response', 'data-request', 'data-response'] as const).map((u) =>
      HEX(tdesVariant(tk, u)),
    );
    expect(new Set(keys).size).toBe(5);
  });
});

describe('TDES DUKPT terminal side (future-key registers)', () => {
  it('produces the same KSNs and keys as the host derivation for the first 1500 transactions', () => {
    const ipek = hex(IPEK);
    const terminal = new TdesDukptOriginator(ipek, IKSN);
    for (let i = 0; i < 1500; i++) {
      const t = terminal.next();
      if (i < INITIAL_SEQUENCE.length) {
        expect(HEX(t.ksn)).toBe(INITIAL_SEQUENCE[i]![0]);
        expect(HEX(t.transactionKey)).toBe(INITIAL_SEQUENCE[i]![1]);
      }
      expect(HEX(t.transactionKey), HEX(t.ksn)).toBe(HEX(deriveTdesTransactionKey(ipek, t.ksn)));
    }
    terminal.destroy();
    expect(terminal.exhausted).toBe(true);
    expect(() => terminal.next()).toThrow(DukptError);
  });
});

describe('TDES DUKPT bad input', () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof DukptError) return e.code;
      throw e;
    }
    return 'none';
  };

  it('refuses keys, KSNs, counters and blocks of the wrong shape with typed codes', () => {
    expect(code(() => deriveTdesIpek(hex('0123'), IKSN))).toBe('DUKPT_BAD_KEY');
    expect(code(() => deriveTdesIpek(BDK, '1234567890123456000000001'))).toBe('DUKPT_BAD_KSN');
    expect(code(() => deriveTdesIpek(BDK, '123456789012345600000001'))).toBe('DUKPT_BAD_KSN');
    expect(code(() => deriveTdesTransactionKey(hex(IPEK), IKSN))).toBe('DUKPT_KSN_COUNTER_INVALID');
    // 0x1FFC00 has 11 one-bits: never produced by a conforming device.
    expect(code(() => deriveTdesTransactionKey(hex(IPEK), 'FFFF9876543210FFFC00'))).toBe('DUKPT_KSN_COUNTER_INVALID');
    expect(code(() => encryptTdesDukptPinBlock({ bdk: BDK }, 'FFFF9876543210E00001', hex('0412')))).toBe('DUKPT_BAD_BLOCK');
    expect(code(() => deriveTdesWorkingKey({ bdk: BDK }, 'FFFF9876543210E00001', 'nope' as never))).toBe('DUKPT_BAD_USAGE');
  });

  it('never throws anything but a DukptError for arbitrary KSN bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 14 }), (bytes) => {
        try {
          const k = deriveTdesWorkingKey({ bdk: BDK }, Buffer.from(bytes), 'pin');
          return k.length === 16;
        } catch (e) {
          return e instanceof DukptError && e.message.length > 0;
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps key material out of error messages', () => {
    try {
      deriveTdesIpek(hex('0123456789ABCDEFFEDCBA98765432'), IKSN);
    } catch (e) {
      expect(String((e as Error).message)).not.toMatch(/0123456789/i);
    }
  });
});
