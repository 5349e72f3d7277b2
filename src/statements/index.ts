export { statementsRoutes, StatementLineSchema } from './statements.routes.js';
export { cardStatement, type StatementLine } from './statements.service.js';
