/** Money travels in fen (integers); people read and type yuan with two decimals. */
export function yuan(fen: number | null | undefined, opts: { symbol?: boolean } = {}): string {
  if (fen === null || fen === undefined || !Number.isFinite(fen)) return '—';
  const negative = fen < 0;
  const abs = Math.abs(Math.trunc(fen));
  const whole = Math.floor(abs / 100).toLocaleString('en-US');
  const cents = String(abs % 100).padStart(2, '0');
  return `${negative ? '-' : ''}${opts.symbol === false ? '' : '¥'}${whole}.${cents}`;
}

/**
 * Parses what a person typed as yuan ("12", "12.5", "12.50", "1,200.00") into fen.
 * Returns null for anything else (more than two decimals, letters, negative), so forms can
 * refuse it before sending: floats never touch money.
 */
export function parseYuan(text: string): number | null {
  const t = text.trim().replace(/,/g, '').replace(/^¥/, '');
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(t);
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}

/** Millilitres as litres with two decimals. */
export function litres(ml: number | null | undefined): string {
  if (ml === null || ml === undefined) return '—';
  return `${(ml / 1000).toFixed(2)} L`;
}

/** Parses litres typed by a person ("30", "30.5", "30.125") into ml; null when invalid. */
export function parseLitres(text: string): number | null {
  const m = /^(\d{1,4})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!m) return null;
  const ml = Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0'));
  return ml > 0 ? ml : null;
}

/** Fen per litre as "¥7.45/L". */
export function unitPrice(fenPerLitre: number | null | undefined): string {
  return fenPerLitre === null || fenPerLitre === undefined ? '—' : `${yuan(fenPerLitre)}/L`;
}
