export * from './inbound.js';
export * from './session.js';
export * from './session-fields.js';
export * from './session-directory.js';
export * from './replay.js';
export * from './action-codes.js';
export * from './mapping.js';
export * from './mapping-response.js';
