export { paymentsRoutes } from './payments.routes.js';
export { rechargeAtCounter, COUNTER_CHANNELS, type CounterChannel, type Recharge } from './recharges.service.js';
export { paymentsError, type PaymentsErrorCode } from './payments.errors.js';
export * from './channel.js';
export { createPaymentsRuntime, type PaymentsRuntime, type ChannelOptions, type SandboxOptions } from './runtime.js';
export type { SandboxProvider, SandboxNotification, SandboxDelivery, NotifyMode } from './sandbox.js';
export type { ChannelCredentials } from './payments.config.js';
