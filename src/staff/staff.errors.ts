import { defineErrors } from '../platform/index.js';

export const staffError = defineErrors('staff', {
  STAFF_USERNAME_TAKEN: { status: 409, iso: '902', zh: '用户名已存在', en: 'Username is already taken' },
  STAFF_NOT_FOUND: { status: 404, iso: '902', zh: '员工账号不存在', en: 'Staff user not found' },
  STAFF_PASSWORD_WEAK: { status: 400, iso: '904', zh: '密码至少 10 位', en: 'Password must be at least 10 characters' },
});
