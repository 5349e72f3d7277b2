import { describe, expect, it } from 'vitest';
import { methodFor, sortChannels, type TopupChannel } from './topup';

const ch = (channel: string, methods: string[]): TopupChannel => ({ channel, methods, sandbox: true, name: { zh: channel, en: channel } });

describe('portal top-up choices', () => {
  it('picks the method a phone browser can use', () => {
    // JSAPI needs the payer inside WeChat with an openid: the QR (Native) is the one that works anywhere.
    expect(methodFor(ch('wechat', ['native', 'jsapi']))).toBe('native');
    expect(methodFor(ch('wechat', ['jsapi', 'native']))).toBe('native');
    expect(methodFor(ch('alipay', ['precreate', 'page']))).toBe('precreate');
    expect(methodFor(ch('alipay', ['page']))).toBe('page');
    expect(methodFor(ch('unionpay', ['online']))).toBe('online');
    expect(methodFor(ch('bank_transfer', ['transfer']))).toBe('transfer');
    expect(methodFor(ch('other', ['mystery']))).toBe('mystery');
    expect(methodFor(ch('none', []))).toBeUndefined();
  });

  it('orders the channels as people use them and never offers cash online', () => {
    const sorted = sortChannels([ch('bank_transfer', ['transfer']), ch('cash', ['counter']), ch('unionpay', ['online']), ch('alipay', ['precreate']), ch('wechat', ['native'])]);
    expect(sorted.map((c) => c.channel)).toEqual(['wechat', 'alipay', 'unionpay', 'bank_transfer']);
  });
});
