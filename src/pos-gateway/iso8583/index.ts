export * from './errors.js';
export * from './spec.js';
export * from './message.js';
export * from './de48.js';
export * from './de63.js';
export * from './mti.js';
export * from './mask.js';
export * from './examples.js';
