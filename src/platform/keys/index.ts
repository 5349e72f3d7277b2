export * from './field-cipher.js';
export * from './providers.js';
export * from './rotation.js';
export { keysError } from './keys.errors.js';
