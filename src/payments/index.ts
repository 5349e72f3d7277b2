export { paymentsRoutes } from './payments.routes.js';
export { rechargeAtCounter, COUNTER_CHANNELS, type CounterChannel, type Recharge } from './recharges.service.js';
export { paymentsError } from './payments.errors.js';
