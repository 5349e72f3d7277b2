import { hmacSha256Hex, safeEqual } from '../platform/index.js';
import { cardsError } from './cards.errors.js';

/** The PIN is never stored: only HMAC-SHA256(pinKey, cardNo ":" pin), with the key outside the database. */
export function pinVerifyValue(pinKey: Buffer, cardNo: string, pin: string): string {
  return hmacSha256Hex(pinKey, `${cardNo}:${pin}`);
}

export function checkPinFormat(pin: string, field = 'pin'): void {
  if (!/^\d{6}$/.test(pin)) throw cardsError('CARD_PIN_FORMAT', { field });
}

export function pinMatches(pinKey: Buffer, subject: string, pin: string, stored: string): boolean {
  return /^\d{6}$/.test(pin) && safeEqual(pinVerifyValue(pinKey, subject, pin), stored);
}
