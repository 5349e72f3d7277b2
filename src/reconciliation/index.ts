export { reconciliationRoutes } from './reconciliation.routes.js';
