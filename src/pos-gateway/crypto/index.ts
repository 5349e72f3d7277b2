export * from './keys.js';
export * from './mac.js';
export * from './pin.js';
export * from './keystore.js';
export * from './dukpt.js';
export * from './keystore-reseal.js';
