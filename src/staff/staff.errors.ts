import { defineErrors } from '../platform/index.js';

export const staffError = defineErrors('staff', {
  STAFF_USERNAME_TAKEN: { status: 409, iso: '902', zh: '用户名已存在', en: 'Username is already taken' },
  STAFF_NOT_FOUND: { status: 404, iso: '902', zh: '员工账号不存在', en: 'Staff user not found' },
  STAFF_PASSWORD_WEAK: { status: 400, iso: '904', zh: '密码至少 10 位', en: 'Password must be at least 10 characters' },
  STAFF_SELF_CHANGE: { status: 409, iso: '119', zh: '不能停用自己的账号或修改自己的角色', en: 'You cannot disable your own account or change your own role' },
  STAFF_LAST_ADMIN: { status: 409, iso: '119', zh: '不能停用或降级最后一个有效的系统管理员', en: 'The last active administrator cannot be disabled or given another role' },
  STAFF_ROLE_SEPARATION: {
    status: 403,
    iso: '119',
    zh: '三员分立：系统管理员不能授予或管理安全管理员、审计管理员账号；安全管理员不能授予或管理系统管理员账号',
    en: 'Separation of duties: an administrator may not grant or manage security officer or auditor accounts, nor a security officer administrator accounts',
  },
  STAFF_CUSTOMER_REQUIRED: { status: 400, iso: '904', zh: '企业管理员和部门管理员须指定所属企业客户', en: 'Enterprise and department administrators need the enterprise customer they act for' },
  STAFF_CUSTOMER_NOT_ALLOWED: { status: 400, iso: '904', zh: '只有企业管理员和部门管理员可以关联企业客户', en: 'Only enterprise and department administrators act for a customer' },
  AUTH_TOTP_ENROLMENT_REQUIRED: {
    status: 403,
    iso: '119',
    zh: '管理员账号须先绑定动态口令（TOTP）才能继续操作',
    en: 'Administrators must enrol a TOTP second factor before doing anything else',
  },
  AUTH_TOTP_INVALID: { status: 401, iso: '916', zh: '动态口令错误或已使用', en: 'Wrong or already used authentication code' },
  AUTH_CHALLENGE_INVALID: { status: 401, iso: '916', zh: '登录验证已过期，请重新输入密码', en: 'The sign-in challenge has expired; enter your password again' },
  AUTH_TOTP_ALREADY_ENABLED: { status: 409, iso: '119', zh: '动态口令已绑定；如需更换请联系安全管理员重置', en: 'TOTP is already enabled; ask a security officer to reset it to enrol again' },
  AUTH_TOTP_ENROLMENT_CODE_INVALID: {
    status: 403,
    iso: '119',
    zh: '动态口令已被重置：请输入重置时当面领取的绑定码',
    en: 'The second factor was reset: enter the enrolment code handed to you at the reset',
  },
  AUTH_PASSWORD_REQUIRED: {
    status: 403,
    iso: '119',
    zh: '已有待确认的动态口令绑定：重新绑定须再次输入当前密码',
    en: 'An enrolment is already pending: enter your current password to start again',
  },
  AUTH_TOTP_NOT_PENDING: { status: 409, iso: '119', zh: '没有待确认的动态口令绑定，请先开始绑定', en: 'No TOTP enrolment is pending; start one first' },
});
