export { staffRoutes } from './staff.routes.js';
export { staffAuthenticator, ensureAdmin, createStaff, setPassword, login } from './staff.service.js';
export { staffError } from './staff.errors.js';
export { updateStaff, resetStaffPassword, type StaffChange } from './staff.manage.js';
export { permissionsRoute, permittedRoutes, type PermittedRoute } from './staff.permissions.js';
