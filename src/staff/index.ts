export { staffRoutes } from './staff.routes.js';
export { staffAuthenticator, ensureAdmin, createStaff, setPassword, login, passwordLogin, loginWithTotp, LOGIN_CHALLENGE_TTL_MS, type LoginResult, type StaffSession } from './staff.service.js';
export { staffError } from './staff.errors.js';
export { updateStaff, resetStaffPassword, type StaffChange } from './staff.manage.js';
export { permissionsRoute, permittedRoutes, type PermittedRoute } from './staff.permissions.js';
export { adminTotpPolicy, mayManageRole, type AdminTotpPolicy } from './staff.policy.js';
export { enrolTotp, confirmTotp, resetTotp, totpStatus } from './staff.totp.js';
export { totpCode, matchTotp, hotp, base32Decode, base32Encode, otpauthUri } from './totp.js';
