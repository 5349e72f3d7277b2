import { Type } from 'typebox';
import { GradeCode, Nullable } from '../platform/index.js';

export const SaleAnswerSchema = Type.Object({
  saleId: Type.String(),
  status: Type.Union([Type.Literal('approved'), Type.Literal('declined')]),
  approvalCode: Type.Optional(Type.String()),
  declineCode: Type.Optional(Type.String()),
  actionCode: Type.String({ description: 'ISO 8583:1993 action code (DE 39)' }),
  message: Type.Optional(Type.String()),
  amount: Type.Integer({ description: 'the whole amount, fuel and goods, fen' }),
  balance: Type.Union([Type.Integer(), Type.Null()]),
});

/** Store goods on a sale: SKU and quantity; the platform prices them from its catalogue. */
export const StoreItemsSchema = Type.Array(
  Type.Object(
    {
      sku: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' }),
      quantity: Type.Integer({ minimum: 1, maximum: 999 }),
    },
    { additionalProperties: false },
  ),
  { maxItems: 50, description: 'store goods (≤ 50 lines), priced by the catalogue' },
);

export const StoreLineSchema = Type.Object({
  sku: Type.String(),
  nameZh: Type.String(),
  nameEn: Type.String(),
  quantity: Type.Integer(),
  unitPrice: Type.Integer(),
  amount: Type.Integer(),
});

export const SaleRecordSchema = Type.Object({
  saleId: Type.String(),
  cardNo: Type.String(),
  stationId: Type.Integer(),
  terminalId: Type.String(),
  nozzle: Nullable(Type.Integer()),
  grade: Nullable(Type.String()),
  volumeMl: Nullable(Type.Integer()),
  unitPrice: Nullable(Type.Integer()),
  amount: Type.Integer(),
  status: Type.String({ description: 'approved | declined | reversed | voided' }),
  approvalCode: Nullable(Type.String()),
  declineCode: Nullable(Type.String()),
  transfers: Type.Array(Type.Object({ transferId: Type.String(), accountId: Type.Integer(), amount: Type.Integer() })),
  balanceAfter: Nullable(Type.Integer()),
  businessDay: Type.String(),
  createdAt: Type.String(),
  flow: Type.String({ description: 'online | completion | postpay | offline' }),
  items: Type.Array(StoreLineSchema),
  goodsAmount: Type.Integer(),
  forced: Type.Boolean(),
  flags: Type.Array(Type.String()),
  liability: Type.String({ description: 'programme | station' }),
  shiftId: Nullable(Type.Integer()),
  authorisationId: Nullable(Type.String()),
  pumpSaleId: Nullable(Type.String()),
  terminalRef: Nullable(Type.String()),
  offlineAt: Nullable(Type.String()),
  reversedAt: Nullable(Type.String()),
});

export const SaleBodySchema = Type.Object(
  {
    cardNo: Type.String({ minLength: 1, maxLength: 19, pattern: '^[0-9]+$' }),
    pin: Type.String({ minLength: 1, maxLength: 12 }),
    grade: Type.Optional(GradeCode()),
    volumeMl: Type.Optional(Type.Integer({ minimum: 1, maximum: 2_000_000 })),
    unitPrice: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'fen per litre' })),
    amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen: the fuel amount plus the goods total' }),
    nozzle: Type.Optional(Type.Integer({ minimum: 1, maximum: 99 })),
    items: Type.Optional(StoreItemsSchema),
    pumpSaleId: Type.Optional(Type.String({ format: 'uuid', description: 'pay this unpaid pump sale (post-pay); leave the fuel fields out' })),
    riskConfirmation: Type.Optional(
      Type.Union([Type.Literal('pin'), Type.Literal('staff')], {
        description: 'after a RISK_STEP_UP answer: pin = the holder re-entered the PIN for this attempt; staff = the cashier of the open shift checked the holder’s ID',
      }),
    ),
  },
  { additionalProperties: false },
);
