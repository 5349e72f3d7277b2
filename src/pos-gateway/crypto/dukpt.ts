/** DUKPT (ANSI X9.24-1 TDES and X9.24-3 AES) for terminals that use it; see docs/pos-dukpt.md. */
export * from './dukpt-ksn.js';
export * from './dukpt-tdes.js';
export * from './dukpt-aes.js';
