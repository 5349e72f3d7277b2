/** Answers of the API as the console's first half reads them (docs/openapi.json, /tmp contract). */

export interface Customer {
  id: number;
  kind: string;
  name: string;
  phone: string;
  idType: string;
  idNumber: string;
  realNameStatus: string;
  /** True when the server masked the personal data for this role. */
  masked: boolean;
  createdAt: string;
}

export interface CardAccount {
  accountId: number;
  priority: number;
  kind: string;
  own: boolean;
  balance: number;
  available: number;
}

export interface CardLimits {
  saleAmount: number | null;
  saleVolumeMl: number | null;
  dayAmount: number | null;
  dayVolumeMl: number | null;
  dayFills: number | null;
  weekAmount: number | null;
  weekVolumeMl: number | null;
  weekFills: number | null;
  monthAmount: number | null;
  monthVolumeMl: number | null;
  monthFills: number | null;
  minFillIntervalSeconds: number | null;
  allowedGrades: string[] | null;
}

export interface Card {
  cardNo: string;
  kind: string;
  status: string;
  customerId: number | null;
  masterCardNo: string | null;
  sharedBalance: boolean;
  balance: number;
  available: number;
  accounts: CardAccount[];
  limits: CardLimits;
  pinLocked: boolean;
  lostAt: string | null;
  usableFrom: string | null;
  replacedByCardNo: string | null;
  replacesCardNo: string | null;
  closedAt: string | null;
  createdAt: string;
}

/** A lifecycle operation's answer: the card, plus what replace and close add. */
export interface CardOperationResult extends Card {
  card?: Card;
  newCard?: Card;
  replacedCardNo?: string;
  refund?: { amount: number; method: string; refundId: string | null };
}

export interface StatementItem {
  type: string;
  id: string;
  at: string;
  amount: number;
  status: string;
  cardNo: string;
  stationId: number | null;
  terminalId: string | null;
  grade: string | null;
  volumeMl: number | null;
  unitPrice: number | null;
  channel: string | null;
  receiptNo: string | null;
  approvalCode: string | null;
  declineCode: string | null;
  balanceAfter: number | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Grade {
  code: string;
  nameZh: string;
  nameEn: string;
  kind: string;
}

export interface Recharge {
  rechargeId: string;
  receiptNo: string;
  cardNo: string;
  accountId: number;
  amount: number;
  channel: string;
  reference: string | null;
  /** The card's balance after the recharge (all its accounts). */
  balance: number;
  accountBalance: number;
  createdAt: string;
}

export interface TransferResult {
  transferId: string;
  amount: number;
  masterCardNo: string;
  subCardNo: string;
  masterBalance: number;
  subBalance: number;
}

export interface Dashboard {
  businessDay: string;
  sales: { count: number; amount: number; volumeMl: number };
  declines: { count: number; byCode: { code: string; count: number }[] };
  recharges: { count: number; amount: number };
  activeCards: number;
  cardsIssuedToday: number;
  days: { businessDay: string; salesAmount: number; salesCount: number; rechargeAmount: number }[];
}

export interface Station {
  id: number;
  code: string;
  name: string;
}
