// UnionPay online payment (银联全渠道, ACP 5.1.0): the adapter, its sandbox provider, and the
// protocol pieces tests and reconciliation may need (docs/channel-unionpay.md).
export { createUnionPayChannel, NOTIFY_WINDOW_MS, type UnionPayChannel, type UnionPayQueryHint } from './adapter.js';
export { createUnionPaySandbox, type UnionPaySandbox } from './sandbox.js';
export { parseUnionPayStatement, FLOW_FIELDS, FLOW_LINE_BYTES, TXN_CODES } from './statement.js';
