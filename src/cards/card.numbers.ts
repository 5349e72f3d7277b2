import { randomInt } from 'node:crypto';

/** Luhn check digit for a string of digits (the digit to append). */
export function luhnCheckDigit(payload: string): number {
  let sum = 0;
  for (let i = 0; i < payload.length; i++) {
    let d = payload.charCodeAt(payload.length - 1 - i) - 48;
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export function isValidCardNo(cardNo: string): boolean {
  return /^\d{19}$/.test(cardNo) && luhnCheckDigit(cardNo.slice(0, -1)) === Number(cardNo.at(-1));
}

/** A new 19-digit card number: issuer prefix, random body, Luhn check digit. */
export function generateCardNo(prefix: string): string {
  let body = prefix;
  while (body.length < 18) body += String(randomInt(10));
  return body + String(luhnCheckDigit(body));
}
