/**
 * Display masks shared by every module (personal data, card numbers). The personal-data register
 * (src/privacy/register.ts, docs/privacy.md) says which field gets which mask and which roles see
 * it in clear; these functions are the masks themselves.
 *
 * Issue 7 §7 asks for "ID number, phone, card number: first 6 / last 4". ID and card numbers
 * follow it literally. A mainland mobile number has 11 digits, so 6 + 4 would hide one digit:
 * phones keep the national convention, first 3 and last 4 (138****5678), which hides the four
 * digits that, with the carrier prefix and the subscriber tail, identify the line.
 */

/** Mobile phone: first 3 and last 4 (the Chinese convention); shorter values are hidden whole. */
export function maskPhone(phone: string): string {
  return phone.length >= 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : '****';
}

/**
 * ID document number: first 6 (for a resident ID, the region of issue) and last 4. A number of 10
 * characters or fewer (most passports are 9) would show nearly all of it, so it is hidden whole.
 */
export function maskIdNumber(id: string): string {
  return id.length > 10 ? `${id.slice(0, 6)}${'*'.repeat(id.length - 10)}${id.slice(-4)}` : '****';
}

export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return '*';
  return chars[0] + '*'.repeat(chars.length - 1);
}

/** Card numbers are shown as first 6 (the BIN) and last 4 digits, as on a receipt (PCI DSS). */
export function maskCardNo(cardNo: string): string {
  return cardNo.length > 10 ? `${cardNo.slice(0, 6)}${'*'.repeat(cardNo.length - 10)}${cardNo.slice(-4)}` : '****';
}

/**
 * Bank account of a payee or payer: first 4 and last 4 with four stars, whatever the length, so
 * the mask does not tell the length either. Spaces written for legibility are ignored.
 */
export function maskAccount(account: string): string {
  const a = account.replace(/\s+/g, '');
  return a.length > 8 ? `${a.slice(0, 4)}****${a.slice(-4)}` : '****';
}

/**
 * A plate as readers without personal-data rights see it: province and office letter (the
 * region, which a cashier checks against the vehicle at the pump) and the last two characters,
 * with a fixed three stars so the length (ordinary or new energy) is not told either:
 * 沪A12345 → 沪A***45, 沪AD12345 → 沪A***45, 粤Z1234港 → 粤Z***4港.
 */
export function maskPlate(plate: string): string {
  const chars = Array.from(plate);
  if (chars.length < 5) return '****';
  return `${chars.slice(0, 2).join('')}***${chars.slice(-2).join('')}`;
}
