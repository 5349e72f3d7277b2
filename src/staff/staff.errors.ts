import { defineErrors } from '../platform/index.js';

export const staffError = defineErrors('staff', {
  STAFF_USERNAME_TAKEN: { status: 409, iso: '902', zh: '用户名已存在', en: 'Username is already taken' },
  STAFF_NOT_FOUND: { status: 404, iso: '902', zh: '员工账号不存在', en: 'Staff user not found' },
  STAFF_PASSWORD_WEAK: { status: 400, iso: '904', zh: '密码至少 10 位', en: 'Password must be at least 10 characters' },
  STAFF_SELF_CHANGE: { status: 409, iso: '119', zh: '不能停用自己的账号或修改自己的角色', en: 'You cannot disable your own account or change your own role' },
  STAFF_LAST_ADMIN: { status: 409, iso: '119', zh: '不能停用或降级最后一个有效的系统管理员', en: 'The last active administrator cannot be disabled or given another role' },
});
