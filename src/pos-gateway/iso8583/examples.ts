/**
 * Example messages of the default profile, used by docs/pos-iso8583.md (as hex), by the tests,
 * and usable by the terminal simulator. MACs are 8 zero bytes here: a real message carries the
 * MAC of macData() under the terminal's session MAC key.
 */
import type { IsoMessage, FieldValue } from './message.js';

const ZERO_MAC = Buffer.alloc(8);
const msg = (mti: string, fields: Array<[number, FieldValue]>): IsoMessage => ({ mti, fields: new Map(fields) });

export const EXAMPLES = {
  /** 1820 echo test (function code 831), MACed: the first thing a terminal runs. */
  echo1820: msg('1820', [
    [7, '1128081530'],
    [11, '000001'],
    [12, '261128161530'],
    [24, '831'],
    [33, '12345'],
    [64, ZERO_MAC],
  ]),
  /** 1804 sign-on (801) from terminal OPT00001 at site 000000000000001. */
  signOn1804: msg('1804', [
    [7, '1128081500'],
    [11, '000002'],
    [12, '261128161500'],
    [24, '801'],
    [41, 'OPT00001'],
    [42, '000000000000001'],
    [64, ZERO_MAC],
  ]),
  /** 1100 outdoor pre-authorisation (101, estimated 300.00 CNY) with PIN and fleet prompts. */
  preAuth1100: msg('1100', [
    [3, '000000'],
    [4, '000000030000'],
    [7, '1128081600'],
    [11, '000003'],
    [12, '261128161600'],
    [22, 'C10101C14144'],
    [24, '101'],
    [26, '5542'],
    [35, '9100123456789012=3012'],
    [41, 'OPT00001'],
    [42, '000000000000001'],
    [
      48,
      {
        kind: 'de48',
        batchSequence: '0007000123',
        customerData: { driverId: 'D042', vehicleId: 'ZheA12345', odometer: '123456' },
        pinMethod: '01',
        pumpNozzle: '0302',
      },
    ],
    [49, '156'],
    [52, Buffer.from('1B9C1845EB993A7A', 'hex')],
    [64, ZERO_MAC],
  ]),
  /** 1220 completion (202, amount differs from the 300.00 pre-authorised): 32.50 L of 92 at 7.89 CNY/L = 256.43 CNY. */
  completion1220: msg('1220', [
    [3, '000000'],
    [4, '000000025643'],
    [7, '1128082000'],
    [11, '000004'],
    [12, '261128162000'],
    [24, '202'],
    [26, '5542'],
    [38, 'A1B2C3'],
    [41, 'OPT00001'],
    [42, '000000000000001'],
    [48, { kind: 'de48', batchSequence: '0007000124', pumpNozzle: '0302' }],
    [49, '156'],
    [56, '110000000326112816160000'],
    [
      63,
      {
        kind: 'de63',
        serviceLevel: 'S',
        lines: [
          { productCode: '92', unit: 'L', quantity: { scale: 2, value: 3250 }, unitPrice: { scale: 0, value: 789 }, amount: 25643, taxCode: '13', additionalCode: '' },
        ],
      },
    ],
    [64, ZERO_MAC],
  ]),
  /** 1420 reversal advice (400, reason 4021 timeout) of the 1100 above; DE 4 = original amount. */
  reversal1420: msg('1420', [
    [3, '000000'],
    [4, '000000030000'],
    [7, '1128081631'],
    [11, '000005'],
    [12, '261128161631'],
    [24, '400'],
    [25, '4021'],
    [41, 'OPT00001'],
    [42, '000000000000001'],
    [48, { kind: 'de48', batchSequence: '0007000125' }],
    [56, '110000000326112816160000'],
    [64, ZERO_MAC],
  ]),
  /** 1520 reconciliation (500) of batch 0007: fields above 64 → secondary bitmap, MAC in DE 128. */
  reconciliation1520: msg('1520', [
    [7, '1128230000'],
    [11, '000006'],
    [12, '261129070000'],
    [24, '500'],
    [41, 'OPT00001'],
    [42, '000000000000001'],
    [48, { kind: 'de48', batchSequence: '0007000126' }],
    [74, '0000000000'],
    [75, '0000000000'],
    [76, '0000000002'],
    [77, '0000000001'],
    [86, '0000000000000000'],
    [87, '0000000000000000'],
    [88, '0000000000055643'],
    [89, '0000000000030000'],
    [97, 'D0000000000025643'],
    [128, ZERO_MAC],
  ]),
  /** 1304 file action inquiry (305) for the hot-card list, delta from version 41. */
  fileAction1304: msg('1304', [
    [7, '1128060000'],
    [11, '000007'],
    [12, '261128140000'],
    [24, '305'],
    [41, 'OPT00001'],
    [42, '000000000000001'],
    [72, 'FROM=41'],
    [101, 'HOTLIST'],
    [128, ZERO_MAC],
  ]),
} satisfies Record<string, IsoMessage>;
