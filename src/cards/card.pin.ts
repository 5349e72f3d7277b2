import { hmacSha256Hex, safeEqual } from '../platform/index.js';
import { cardsError } from './cards.errors.js';

/** The PIN is never stored: only HMAC-SHA256(pinKey, cardNo ":" pin), with the key outside the database. */
export function pinVerifyValue(pinKey: Buffer, cardNo: string, pin: string): string {
  return hmacSha256Hex(pinKey, `${cardNo}:${pin}`);
}

/**
 * How a sale proves the cardholder's PIN. An HTTP terminal sends the digits (TLS, signed request);
 * an ISO 8583 terminal sends a PIN block encrypted under its PIN key, which only the key store may
 * open: it is given the card's PIN subject and stored verify value and answers yes or no, so the
 * clear PIN never exists outside the key store on that path.
 */
export type PinEntry = string | PinVerifier;

export interface PinVerifier {
  readonly kind: 'verifier';
  /** True when the PIN behind this proof gives `stored` = pinVerifyValue(pinKey, subject, pin). */
  matches(subject: string, stored: string): Promise<boolean>;
}

export async function pinEntryMatches(pinKey: Buffer, entry: PinEntry, subject: string, stored: string): Promise<boolean> {
  if (typeof entry === 'string') return pinMatches(pinKey, subject, entry, stored);
  return entry.matches(subject, stored);
}

export function checkPinFormat(pin: string, field = 'pin'): void {
  if (!/^\d{6}$/.test(pin)) throw cardsError('CARD_PIN_FORMAT', { field });
}

export function pinMatches(pinKey: Buffer, subject: string, pin: string, stored: string): boolean {
  return /^\d{6}$/.test(pin) && safeEqual(pinVerifyValue(pinKey, subject, pin), stored);
}
