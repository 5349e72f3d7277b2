import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AesDukptOriginator,
  deriveAesDerivationKey,
  deriveAesInitialKey,
  deriveAesWorkingKey,
  type AesDukptKeyType,
  type AesDukptUsage,
} from './dukpt-aes.js';
import { DukptError, nextCounter } from './dukpt-ksn.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const HEX = (b: Buffer): string => b.toString('hex').toUpperCase();
const ksnOf = (counter: number): string => `1234567890123456${counter.toString(16).toUpperCase().padStart(8, '0')}`;

/*
 * Known-answer vectors: ANSI X9.24-3:2017 Annex B sample and the X9 "X9.24-3-2017 Test
 * Vectors" supplement (https://x9.org/standards/x9-24-part-3-test-vectors/, PDF
 * X9.24-3-2017-Test-Vectors-20180129-1.pdf), as published in openemv/dukpt
 * test/dukpt_aes128_test.c, dukpt_aes256_test.c and dukpt_aes_test.c
 * (https://github.com/openemv/dukpt), the source named in pos.md §4.6. Keys per counter are the
 * intermediate derivation keys ("transaction/derivation keys" in the supplement).
 */
const BDK128 = hex('FEDCBA9876543210F1F1F1F1F1F1F1F1');
const BDK256 = hex('FEDCBA9876543210F1F1F1F1F1F1F1F1FEDCBA9876543210F1F1F1F1F1F1F1F1');
const IK_ID = '1234567890123456';
const IK128 = '1273671EA26AC29AFA4D1084127652A1';
const IK256 = 'CE9CE0C101D1138F97FB6CAD4DF045A7083D4EAE2D35A31789D01CCF0949550F';

const DERIVATION_128: [number, string][] = [
  [1, '4F21B565BAD9835E112B6465635EAE44'],
  [2, '2F34D68DE10F68D38091A73B9E7C437C'],
  [3, '031504E530365CF81264238540518318'],
  [4, '0EEFC7ADA628BA68878DA9165A8A1887'],
  [5, 'C2A7AC328A5DA2D6002D62465BFC028B'],
  [6, 'D30F7D9351DA58448A2F5E92B4EE3B7D'],
  [7, 'A8253CEED9AC042C54F75D35C8352278'],
  [8, '718EE6CF0B27E53D5F7AF99C4D8146A2'],
  [0x1fffe, 'E21E8C8D347F8561A2BE752DAA85A111'],
  [0x20000, 'F7AE9025468A25D37B7249CFFED224C8'],
  [0x20001, '692C8EA4013645135B36497131DF9D2C'],
  [0xfffe2000, '48E585B694EB0B18D5C35443E163C0BA'],
  [0xfffe4000, '396C2C7CA1EA701C03B86B7D41F0C562'],
  [0xfffe8000, '0387625F189B58AE03EF0E8CCA41105E'],
  [0xffff0000, 'F6BA59389BD14A9855BE9727E7C52E3C'],
];

const DERIVATION_256: [number, string][] = [
  [1, '54AC2B32B145EA4A554CB8BC44B17467063A799856B1CCC2A138D36E8DBF78B3'],
  [2, '5DD5A0253842BBBE1D7C0DA27021412C6F1FAB53FB928DEAE56DA06090A9DE97'],
  [3, '8EEEF7C464AE415BB1D73FAED21993CD669F7999092A579EC6DD3CC680C65171'],
  [4, 'C18CBED570B3B89ECADA7CEC9C224CD5A86ECF3DE377D3EFAB720F8C4D76B9D0'],
  [5, '6B3C3C93307151C25DC2309456F01C5C3108DAD571C321899A9B7E0C009FD2EB'],
  [6, 'B8BB61AE3E2D5CD8C699E0C578FB2C7B89B0C0CF02DBAB60864D8049C986C844'],
  [7, '88D0ACA287B3066F5DE0C93396337D4C2DA8D92C1F720A576D62CEB4C979E01E'],
  [8, '20A796D5077D51B8E7613893A4F095B134E02917DC84BD391F3661D0873FF308'],
  [0x1fffe, 'A289508CBF1228452CD86AB77B15CB35577AC828C18BB66681E5A16D6C9CCED3'],
  [0x20000, 'D62DDA94A47D7DA5D763443B4ECB15EA8DD62E0E4F915958BA459591F8312E37'],
  [0x20001, '44110A1102748D4A3AC326F53D8CAC650212590CA7126D54546DDE0F20E89CEE'],
  [0xfffe2000, '4625EB06E4886D4AFCC9AE37ED4F4E4E1653C9E60E3F24742A87A26AA96AB7A6'],
  [0xfffe4000, 'FF20E1BB575539ACCB44E3111BE8757F83AE8549A2DD71B441A4A424F7FFD4B1'],
  [0xfffe8000, '630535C9C53E1EC6524016930B56F6728909C45403536B419AEBCB25B7351C07'],
  [0xffff0000, '6D6DB7AAAE8B3EA90E57A39E4BBA71E173B21B446B30A78D64BFC6A8806C55EE'],
];

/*
 * Working keys from the same X9 supplement, as transcribed in public test suites that agree
 * with each other (e.g. the CyberChef DUKPT tests and the paysec-dukpt Rust crate's tests): AES-128 BDK,
 * counter 1 for every key usage; counters 2 and 8; 8675309 (a mid-range counter with many
 * bits set); the 2- and 3-key TDEA PIN keys from the AES-128 BDK; and AES-256.
 */
const WORKING: [Buffer, number, AesDukptUsage, AesDukptKeyType, string][] = [
  [BDK128, 1, 'pin', 'aes128', 'AF8CB133A78F8DC2D1359F18527593FB'],
  [BDK128, 1, 'mac-gen', 'aes128', 'A2DC23DE6FDE0824A2BC321E08E4B8B7'],
  [BDK128, 1, 'mac-verify', 'aes128', 'DBB463945B286C07CD3AD82EE96FD9C9'],
  [BDK128, 1, 'mac-both', 'aes128', '85675439D18D7F1158BD8E3EAA3D502B'],
  [BDK128, 1, 'data-encrypt', 'aes128', 'A35C412EFD41FDB98B69797C02DCD08F'],
  [BDK128, 1, 'data-decrypt', 'aes128', '16292C6EA8F64C5420A0584BFBC577BE'],
  [BDK128, 1, 'data-both', 'aes128', 'A308E080DD15A1B741F1721BF67DE11C'],
  [BDK128, 1, 'kek', 'aes128', '36A724B7BEFA5A25F5E7B5782A4554A2'],
  [BDK128, 2, 'pin', 'aes128', 'D30BDC73EC9714B000BEC66BDB7B6D09'],
  [BDK128, 2, 'mac-gen', 'aes128', '484C3B06E8562704528CD5B46FB12FB6'],
  [BDK128, 2, 'data-encrypt', 'aes128', 'D639514AA33AC43AD9229E433D6D4E5B'],
  [BDK128, 8, 'pin', 'aes128', '4D9DF3FBEE3448FC3E676D04320A90F5'],
  [BDK128, 8, 'mac-gen', 'aes128', '6FD572E5D59E618875F193484F9178FB'],
  [BDK128, 8, 'data-encrypt', 'aes128', '650F34204ABD4E57764D61AC3D266FB1'],
  [BDK128, 8675309, 'pin', 'aes128', 'D1DDA386AA4A556AF0119FDCB5D132C6'],
  [BDK128, 1, 'pin', 'tdes2', '630C706D9546E47D4449313F61C4D4AB'],
  [BDK128, 1, 'mac-gen', 'tdes2', '5D8FD787E8A796D07035FFCA9B5800BB'],
  [BDK128, 1, 'pin', 'tdes3', 'EA8B3F37EB9B15831167EF2977FD8762D9B5913F35766F6A'],
  [BDK256, 1, 'pin', 'aes256', '8C1AB7BEE973829E30242E0BBBDD4946D540C98FC1B5BDCF94790001A23FD502'],
  [BDK256, 1, 'mac-gen', 'aes256', '61DABDF4B340CF461EE860B1D1AB55357142BD2D6977306859CF49AEFE8F1549'],
  [BDK256, 1, 'data-encrypt', 'aes256', '71EB36C9A6B7F801D1D1700C29741FC5A5C4E9B45D742DA7AF6992B8AA29AF58'],
];

describe('AES DUKPT (X9.24-3:2017) known answers', () => {
  it('derives the initial key from the BDK and the initial key ID (B.1)', () => {
    expect(HEX(deriveAesInitialKey(BDK128, IK_ID))).toBe(IK128);
    expect(HEX(deriveAesInitialKey(BDK256, hex(IK_ID)))).toBe(IK256);
    expect(HEX(deriveAesInitialKey(BDK128, ksnOf(5)))).toBe(IK128);
  });

  for (const [name, ik, table] of [
    ['AES-128', IK128, DERIVATION_128],
    ['AES-256', IK256, DERIVATION_256],
  ] as const) {
    it(`derives the ${name} derivation keys: first eight, around 0x20000 and the last four counters`, () => {
      for (const [counter, key] of table) {
        expect(HEX(deriveAesDerivationKey(hex(ik), ksnOf(counter))), counter.toString(16)).toBe(key);
      }
    });
  }

  it('derives working keys for every key usage and key type in the supplement', () => {
    for (const [bdk, counter, usage, type, key] of WORKING) {
      expect(HEX(deriveAesWorkingKey({ bdk }, ksnOf(counter), usage, type)), `${counter} ${usage} ${type}`).toBe(key);
    }
    expect(HEX(deriveAesWorkingKey({ ik: hex(IK128) }, ksnOf(1), 'pin', 'aes128'))).toBe(WORKING[0]![4]);
  });

  it('skips 0x1FFFF (17 one-bits) and stops after 0xFFFF0000, as the supplement does', () => {
    expect(nextCounter('aes', 0x1fffe)).toBe(0x20000);
    expect(nextCounter('aes', 0xfffe2000)).toBe(0xfffe4000);
    expect(nextCounter('aes', 0xfffe8000)).toBe(0xffff0000);
    expect(nextCounter('aes', 0xffff0000)).toBeNull();
  });
});

describe('AES DUKPT terminal side (intermediate-key registers)', () => {
  it('matches the host derivation and the X9 vectors up to and past the 0x20000 rollover', () => {
    const ik = hex(IK128);
    const terminal = new AesDukptOriginator(ik, IK_ID);
    const expected = new Map(DERIVATION_128);
    let seen = 0;
    for (;;) {
      const t = terminal.next();
      const want = expected.get(t.counter);
      if (want !== undefined) {
        expect(HEX(t.derivationKey), t.counter.toString(16)).toBe(want);
        seen++;
      }
      // Cross-check a sample against the host algorithm (all of them would be slow).
      if (t.counter < 600 || t.counter % 997 === 0) {
        expect(HEX(t.derivationKey)).toBe(HEX(deriveAesDerivationKey(ik, t.ksn)));
      }
      t.derivationKey.fill(0);
      if (t.counter >= 0x20001) break;
    }
    expect(seen).toBe(11);
    terminal.destroy();
    expect(() => terminal.next()).toThrow(DukptError);
  });
});

describe('AES DUKPT bad input', () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof DukptError) return e.code;
      throw e;
    }
    return 'none';
  };

  it('refuses bad keys, KSNs, counters, usages and too-strong key types with typed codes', () => {
    expect(code(() => deriveAesInitialKey(hex('00112233'), IK_ID))).toBe('DUKPT_BAD_KEY');
    expect(code(() => deriveAesInitialKey(BDK128, '1234'))).toBe('DUKPT_BAD_KSN');
    expect(code(() => deriveAesDerivationKey(hex(IK128), ksnOf(0)))).toBe('DUKPT_KSN_COUNTER_INVALID');
    expect(code(() => deriveAesDerivationKey(hex(IK128), ksnOf(0x1ffff)))).toBe('DUKPT_KSN_COUNTER_INVALID');
    expect(code(() => deriveAesDerivationKey(hex(IK128), 'FFFF9876543210E00001'))).toBe('DUKPT_BAD_KSN');
    expect(code(() => deriveAesWorkingKey({ bdk: BDK128 }, ksnOf(1), 'pin', 'aes256'))).toBe('DUKPT_BAD_KEY_TYPE');
    expect(code(() => deriveAesWorkingKey({ bdk: BDK128 }, ksnOf(1), 'nope' as never, 'aes128'))).toBe('DUKPT_BAD_USAGE');
    expect(code(() => deriveAesWorkingKey({ bdk: BDK128 }, ksnOf(1), 'pin', 'des' as never))).toBe('DUKPT_BAD_KEY_TYPE');
  });

  it('returns a key of the right length or throws a DukptError for any KSN bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 16 }), (bytes) => {
        try {
          return deriveAesWorkingKey({ bdk: BDK128 }, Buffer.from(bytes), 'mac-gen', 'aes128').length === 16;
        } catch (e) {
          return e instanceof DukptError;
        }
      }),
      { numRuns: 300 },
    );
  });
});
