import { describe, expect, it } from 'vitest';
import { EMPTY_BODY_SHA256, jsonBody, sha256Hex, signRequest, stringToSign } from './sign';
import { amountForVolume, litresText, maskCardNo, volumeForAmount } from './saleMath';
import { quote, sanitizeDecimal } from './quote';
import { DECLINES, explainDecline } from './declines';

// The worked example of docs/terminals.md: a signer that disagrees with it is refused by every server.
const SECRET = 'q8mVt1pZrA3xK0cN5wYd7LbE2hFjU9sG4oTiRkW6eHM';
const EXAMPLE = { cardNo: '9000016144730152666', pin: '123456', grade: '92#', volumeMl: 30000, unitPrice: 750, amount: 22500, nozzle: 3 };

describe('sign', () => {
  it('hashes exactly the bytes it sends', async () => {
    const body = jsonBody(EXAMPLE);
    expect(body.byteLength).toBe(120);
    expect(await sha256Hex(body)).toBe('0b9e7bafa6b8d55bd461c3e6cab9ce3a6916f3df276f9709f3fa56c4ea103ca4');
    expect(await sha256Hex(new Uint8Array(0))).toBe(EMPTY_BODY_SHA256);
  });

  it('signs the documented sale and ping', async () => {
    const common = { terminalId: 'T00000001', secret: SECRET, timestamp: 1767225600, nonce: 'Zt3pQ9vLx2Wm7kDa' };
    const sale = await signRequest({ ...common, method: 'POST', target: '/api/v1/pos/sales', body: jsonBody(EXAMPLE) });
    expect(sale).toEqual({
      'x-terminal-id': 'T00000001',
      'x-timestamp': '1767225600',
      'x-nonce': 'Zt3pQ9vLx2Wm7kDa',
      'x-signature': 'af6c25666938531bfe200e2e82e2a4ec9092fc215f1d8a94bd9d402bc4c90b42',
    });
    const ping = await signRequest({ ...common, method: 'GET', target: '/api/v1/pos/ping' });
    expect(ping['x-signature']).toBe('bf6f0de0e98fb0fe78686989ca2c6e593606391cc4ad3dab713ad8764271f5d7');
  });

  it('joins five lines with LF and no trailing newline', () => {
    expect(stringToSign('GET', '/a?b=1', '1', 'n', 'h')).toBe('GET\n/a?b=1\n1\nn\nh');
  });

  it('makes a fresh valid nonce per request', async () => {
    const a = await signRequest({ terminalId: 'T1', secret: SECRET, method: 'GET', target: '/x' });
    const b = await signRequest({ terminalId: 'T1', secret: SECRET, method: 'GET', target: '/x' });
    expect(a['x-nonce']).toMatch(/^[A-Za-z0-9_-]{8,128}$/);
    expect(a['x-nonce']).not.toBe(b['x-nonce']);
  });
});

describe('volume and amount', () => {
  it('rounds the amount of a volume half up, as the server accepts', () => {
    expect(amountForVolume(30000, 750)).toBe(22500);
    expect(amountForVolume(1001, 750)).toBe(751); // 750.75 fen
    expect(amountForVolume(1002, 745)).toBe(746); // 746.49 fen
    expect(amountForVolume(2_000_000, 100_000)).toBe(200_000_000);
  });

  it('turns a typed amount into the volume it buys and that volume’s amount', () => {
    expect(volumeForAmount(20000, 750)).toEqual({ volumeMl: 26666, amount: 20000 }); // 19999.5 → 20000
    expect(volumeForAmount(20000, 745)).toEqual({ volumeMl: 26845, amount: 20000 });
    expect(volumeForAmount(10000, 793)).toEqual({ volumeMl: 12610, amount: 10000 });
    expect(volumeForAmount(1, 750)).toEqual({ volumeMl: 1, amount: 1 });
    // Every result stays within what the server accepts: floor or ceil of volume × price / 1000.
    for (let fen = 1; fen < 5000; fen += 7) {
      for (const price of [1, 712, 745, 793, 881, 99999]) {
        const { volumeMl, amount } = volumeForAmount(fen, price);
        if (volumeMl === 0) continue;
        const exact = (volumeMl * price) / 1000;
        expect(amount === Math.floor(exact) || amount === Math.ceil(exact)).toBe(true);
        expect(amount).toBeLessThanOrEqual(fen);
      }
    }
  });

  it('quotes what the cashier typed and refuses nonsense before sending', () => {
    expect(quote('volume', '30', 750)).toEqual({ ok: true, volumeMl: 30000, amount: 22500, adjusted: false });
    expect(quote('amount', '200', 750)).toEqual({ ok: true, volumeMl: 26666, amount: 20000, adjusted: false });
    expect(quote('amount', '0.01', 99999)).toEqual({ ok: false, error: 'amountTooSmall' });
    expect(quote('volume', '', 750)).toEqual({ ok: false, error: 'quantityRequired' });
    expect(quote('volume', '1.2345', 750)).toEqual({ ok: false, error: 'volumeInvalid' });
    expect(quote('volume', '2000.001', 750)).toEqual({ ok: false, error: 'amountTooLarge' });
    expect(quote('amount', '12.345', 750)).toEqual({ ok: false, error: 'amountInvalid' });
    expect(quote('volume', '10', null)).toEqual({ ok: false, error: 'pickNozzleFirst' });
  });

  it('formats litres, masks cards and keeps inputs decimal', () => {
    expect(litresText(26666)).toBe('26.666');
    expect(litresText(5)).toBe('0.005');
    expect(maskCardNo('9000016144730152666')).toBe('900001*********2666');
    expect(sanitizeDecimal('12.3.45a', 2)).toBe('12.34');
    expect(sanitizeDecimal('¥1,000', 2)).toBe('1000');
  });
});

describe('declines', () => {
  // docs/errors.md "Sale decline codes": every code has a plain reason and advice.
  const CODES = [
    'CARD_UNKNOWN', 'CARD_NOT_ACTIVE', 'CARD_NOT_YET_USABLE', 'CARD_FROZEN', 'CARD_LOST', 'CARD_REPLACED', 'CARD_CLOSED',
    'CARD_NOT_FOR_SALE', 'MASTER_CARD_FROZEN', 'PIN_WRONG', 'PIN_TRIES_EXCEEDED', 'GRADE_NOT_ALLOWED', 'LIMIT_SALE_AMOUNT',
    'LIMIT_SALE_VOLUME', 'LIMIT_FILL_INTERVAL', 'LIMIT_DAY_AMOUNT', 'LIMIT_DAY_VOLUME', 'LIMIT_DAY_FILLS', 'LIMIT_WEEK_AMOUNT',
    'LIMIT_WEEK_VOLUME', 'LIMIT_WEEK_FILLS', 'LIMIT_MONTH_AMOUNT', 'LIMIT_MONTH_VOLUME', 'LIMIT_MONTH_FILLS', 'INSUFFICIENT_FUNDS',
  ];
  it('explains every documented code in both languages', () => {
    expect(Object.keys(DECLINES).sort()).toEqual([...CODES].sort());
    for (const code of CODES) {
      for (const lang of ['zh-CN', 'en'] as const) {
        const { reason, advice } = explainDecline(code, undefined, lang);
        expect(reason.length).toBeGreaterThan(2);
        expect(advice.length).toBeGreaterThan(5);
      }
    }
    expect(explainDecline('CARD_LOST', undefined, 'zh-CN').reason).toBe('卡片已挂失');
  });

  it('falls back to the server message for a code it does not know', () => {
    expect(explainDecline('SOMETHING_NEW', '新原因 / New reason', 'zh-CN').reason).toBe('新原因');
    expect(explainDecline('SOMETHING_NEW', '新原因 / New reason', 'en').reason).toBe('New reason');
    expect(explainDecline(undefined, undefined, 'en').reason).toBe('Declined');
  });
});
