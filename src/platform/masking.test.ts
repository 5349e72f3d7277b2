import { describe, expect, it } from 'vitest';
import { maskAccount, maskCardNo, maskIdNumber, maskName, maskPhone } from './masking.js';

// Issue 7 §7: ID number, card number first 6 / last 4; phones 3 + 4 (docs/privacy.md, "Masking rules").
describe('masks', () => {
  it('ID numbers: first 6 and last 4; short document numbers hidden whole', () => {
    expect(maskIdNumber('11010519491231002X')).toBe('110105********002X');
    expect(maskIdNumber('11010519491231002X')).not.toContain('19491231'); // the birth date
    expect(maskIdNumber('H123456789')).toBe('****'); // 10 characters: 6 + 4 would show everything
    expect(maskIdNumber('E12345678')).toBe('****');
    expect(maskIdNumber('A12345678901')).toBe('A12345**8901');
  });

  it('card numbers: first 6 and last 4', () => {
    expect(maskCardNo('6214830012345678901')).toBe('621483*********8901');
    expect(maskCardNo('1234567890')).toBe('****');
  });

  it('mobile phones: first 3 and last 4', () => {
    expect(maskPhone('13912345678')).toBe('139****5678');
    expect(maskPhone('123456')).toBe('****');
  });

  it('names: the first character', () => {
    expect(maskName('张三丰')).toBe('张**');
    expect(maskName('张')).toBe('*');
    expect(maskName('𠀋一')).toBe('𠀋*'); // a character outside the BMP stays whole
  });

  it('bank accounts: first 4 and last 4 with four stars whatever the length', () => {
    expect(maskAccount('6222 0212 3456 7890')).toBe('6222****7890');
    expect(maskAccount('62220212345678901234')).toBe('6222****1234');
    expect(maskAccount('12345678')).toBe('****');
  });
});
