export { staffRoutes } from './staff.routes.js';
export { staffAuthenticator, ensureAdmin, createStaff, setPassword, login } from './staff.service.js';
export { staffError } from './staff.errors.js';
