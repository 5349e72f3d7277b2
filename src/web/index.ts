export { webRoutes, webError, WEB_APPS } from './web.routes.js';
export { buildWeb, webIsBuilt, WEB_DIST, WEB_ROOT } from './build.js';
