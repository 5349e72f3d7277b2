import { defineErrors } from '../platform/index.js';

export const portalError = defineErrors('portal', {
  PORTAL_CODE_TOO_SOON: { status: 429, iso: '912', zh: '验证码发送过于频繁，请稍后再试', en: 'Too many codes requested for this phone; try again later' },
  PORTAL_CODE_INVALID: { status: 400, iso: '916', zh: '验证码错误或已过期', en: 'The code is wrong or has expired' },
  PORTAL_PASSWORD_WEAK: { status: 400, iso: '904', zh: '密码至少 8 位', en: 'Password must be at least 8 characters' },
  PORTAL_INVALID_CREDENTIALS: { status: 401, iso: '916', zh: '手机号或密码错误', en: 'Wrong phone number or password' },
  PORTAL_LOGIN_LOCKED: { status: 429, iso: '912', zh: '密码错误次数过多，请稍后再试或用验证码重设密码', en: 'Too many wrong passwords; try again later or reset the password with a code' },
});
