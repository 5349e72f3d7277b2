export { reportsRoutes } from './reports.routes.js';
export { reportsError } from './reports.errors.js';
export { MAX_EXPORT_ROWS } from './reports.export.js';
