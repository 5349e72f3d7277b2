/** Times arrive as ISO 8601 UTC; people read them in the operator's time zone (China Standard Time). */
const TZ = 'Asia/Shanghai';

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('zh-CN', { timeZone: TZ, hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "900001*********2666" style grouping for reading a 19-digit card number aloud: 9000 0112 3456 7890 123. */
export function groupCardNo(cardNo: string): string {
  return cardNo.replace(/(.{4})(?=.)/g, '$1 ');
}

/** Digits only, for card number inputs that accept spaces. */
export function digitsOnly(text: string): string {
  return text.replace(/\D/g, '');
}

/** The Luhn check every card number carries: catches a mistyped digit before a round trip. */
export function luhnValid(cardNo: string): boolean {
  if (!/^\d{12,19}$/.test(cardNo)) return false;
  let sum = 0;
  for (let i = 0; i < cardNo.length; i++) {
    let d = Number(cardNo[cardNo.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
