/** Display masks shared by every module (personal data, card numbers). */
export function maskPhone(phone: string): string {
  return phone.length >= 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : '****';
}

export function maskIdNumber(id: string): string {
  // First 6 / last 4, as for card numbers (PIPL masking rules, docs/privacy.md).
  return id.length > 10 ? `${id.slice(0, 6)}${'*'.repeat(id.length - 10)}${id.slice(-4)}` : '****';
}

export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return '*';
  return chars[0] + '*'.repeat(chars.length - 1);
}

/** Card numbers are shown as first 6 and last 4 digits. */
export function maskCardNo(cardNo: string): string {
  return cardNo.length > 10 ? `${cardNo.slice(0, 6)}${'*'.repeat(cardNo.length - 10)}${cardNo.slice(-4)}` : '****';
}
