/** The store goods added to a post-pay sale: sku → quantity (1..999, as the platform accepts). */
export type Cart = Record<string, number>;

export const MAX_QUANTITY = 999;
export const MAX_LINES = 50;

/** A quantity set to 0 or less removes the line; above the maximum it stays at the maximum; a new line past 50 lines is refused. */
export function setQuantity(cart: Cart, sku: string, quantity: number): Cart {
  const next = { ...cart };
  if (quantity <= 0) {
    delete next[sku];
    return next;
  }
  if (!(sku in cart) && Object.keys(cart).length >= MAX_LINES) return cart;
  next[sku] = Math.min(MAX_QUANTITY, Math.floor(quantity));
  return next;
}

export function cartLines(cart: Cart): Array<{ sku: string; quantity: number }> {
  return Object.entries(cart).map(([sku, quantity]) => ({ sku, quantity }));
}

/** What the goods cost at the catalogue's prices (the platform prices them again; this is for the display). */
export function cartTotal(cart: Cart, catalogue: Array<{ sku: string; unitPrice: number }>): number {
  let sum = 0;
  for (const [sku, q] of Object.entries(cart)) sum += (catalogue.find((g) => g.sku === sku)?.unitPrice ?? 0) * q;
  return sum;
}
