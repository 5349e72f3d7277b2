/**
 * Volume ↔ amount at a unit price, in integers only (ml, fen, fen per litre).
 * The server accepts volumeMl × unitPrice / 1000 rounded down or up to the fen (docs/api.md Units).
 */

export const MAX_VOLUME_ML = 2_000_000;
export const MAX_AMOUNT_FEN = 100_000_000;

/** amount = round(volumeMl × unitPrice / 1000), half up. */
export function amountForVolume(volumeMl: number, unitPrice: number): number {
  return Math.floor((volumeMl * unitPrice + 500) / 1000);
}

/**
 * What a typed amount buys: the most millilitres that amount pays for, and the amount of exactly
 * that volume (equal to the typed amount, or a fen less when the price does not divide evenly).
 */
export function volumeForAmount(amountFen: number, unitPrice: number): { volumeMl: number; amount: number } {
  const volumeMl = Math.floor((amountFen * 1000) / unitPrice);
  return { volumeMl, amount: amountForVolume(volumeMl, unitPrice) };
}

/** Litres with three decimals, exactly the millilitres that are sent: 26666 → "26.666". */
export function litresText(volumeMl: number): string {
  return `${Math.floor(volumeMl / 1000)}.${String(volumeMl % 1000).padStart(3, '0')}`;
}

/** Fen as plain yuan for an input: 20000 → "200.00". */
export function yuanInputText(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

/** "900001*********2666": the first six and last four digits, as receipts and the console show a card. */
export function maskCardNo(cardNo: string): string {
  if (cardNo.length <= 10) return cardNo;
  return cardNo.slice(0, 6) + '*'.repeat(cardNo.length - 10) + cardNo.slice(-4);
}

/** The grade's name in the POS language (the English name when the server sends one). */
export function gradeLabel(g: { gradeName: string; gradeNameEn?: string }, lang: 'zh-CN' | 'en'): string {
  return lang === 'en' && g.gradeNameEn ? g.gradeNameEn : g.gradeName;
}
