import { parseLitres, parseYuan } from '../shared/money';
import { amountForVolume, MAX_AMOUNT_FEN, MAX_VOLUME_ML, volumeForAmount } from './saleMath';

export type QuantityMode = 'volume' | 'amount';

export type Quote =
  | { ok: true; volumeMl: number; amount: number; /** the typed amount differed from what the volume costs */ adjusted: boolean }
  | { ok: false; error: 'quantityRequired' | 'volumeInvalid' | 'amountInvalid' | 'amountTooSmall' | 'amountTooLarge' | 'pickNozzleFirst' };

/** The volume and amount to send for what the cashier typed in the driving field. */
export function quote(mode: QuantityMode, text: string, unitPrice: number | null): Quote {
  if (text.trim() === '') return { ok: false, error: 'quantityRequired' };
  if (mode === 'volume') {
    const ml = parseLitres(text);
    if (ml === null) return { ok: false, error: 'volumeInvalid' };
    if (ml > MAX_VOLUME_ML) return { ok: false, error: 'amountTooLarge' };
    if (!unitPrice) return { ok: false, error: 'pickNozzleFirst' };
    const amount = amountForVolume(ml, unitPrice);
    if (amount < 1) return { ok: false, error: 'amountTooSmall' };
    if (amount > MAX_AMOUNT_FEN) return { ok: false, error: 'amountTooLarge' };
    return { ok: true, volumeMl: ml, amount, adjusted: false };
  }
  const fen = parseYuan(text);
  if (fen === null) return { ok: false, error: 'amountInvalid' };
  if (fen < 1) return { ok: false, error: 'amountTooSmall' };
  if (fen > MAX_AMOUNT_FEN) return { ok: false, error: 'amountTooLarge' };
  if (!unitPrice) return { ok: false, error: 'pickNozzleFirst' };
  const { volumeMl, amount } = volumeForAmount(fen, unitPrice);
  if (volumeMl < 1 || amount < 1) return { ok: false, error: 'amountTooSmall' };
  if (volumeMl > MAX_VOLUME_ML) return { ok: false, error: 'amountTooLarge' };
  return { ok: true, volumeMl, amount, adjusted: amount !== fen };
}

/** Keeps only what can become a decimal number: digits and one point, at most `decimals` after it. */
export function sanitizeDecimal(text: string, decimals: number): string {
  const cleaned = text.replace(/[^\d.]/g, '');
  const dot = cleaned.indexOf('.');
  if (dot < 0) return cleaned.slice(0, 9);
  const whole = cleaned.slice(0, dot).slice(0, 9);
  const frac = cleaned.slice(dot + 1).replace(/\./g, '').slice(0, decimals);
  return `${whole}.${frac}`;
}
