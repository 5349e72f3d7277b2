export { portalRoutes } from './portal.routes.js';
export { cardholderAuthenticator, prunePortalAuth, setPortalPassword, type PortalDeps, type PortalCustomer, type PortalSignIn } from './portal.auth.js';
export { runLowBalanceAlerts, startPortalJobs } from './portal.alerts.js';
export { portalError } from './portal.errors.js';
export { portalSessionTtlMs } from './portal.settings.js';
export { cardholderCustomerIds, cardVisibleTo, requireVisibleCard } from './portal.visible.js';
