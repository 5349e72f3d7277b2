import { Type } from 'typebox';
import { GradeCode, Nullable } from '../platform/index.js';

const Fen = (description: string) => Type.Integer({ minimum: 0, maximum: 1e12, description });

export const LimitsSchema = Type.Object(
  {
    saleAmount: Type.Optional(Nullable(Fen('per sale, fen'))),
    saleVolumeMl: Type.Optional(Nullable(Fen('per sale, ml'))),
    dayAmount: Type.Optional(Nullable(Fen('per business day, fen'))),
    dayVolumeMl: Type.Optional(Nullable(Fen('per business day, ml'))),
    dayFills: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 1000 }))),
    weekAmount: Type.Optional(Nullable(Fen('per week (Mon-Sun), fen'))),
    weekVolumeMl: Type.Optional(Nullable(Fen('per week, ml'))),
    weekFills: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 10000 }))),
    monthAmount: Type.Optional(Nullable(Fen('per calendar month, fen'))),
    monthVolumeMl: Type.Optional(Nullable(Fen('per month, ml'))),
    monthFills: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 100000 }))),
    minFillIntervalSeconds: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 86400 * 7 }))),
    allowedGrades: Type.Optional(Nullable(Type.Array(GradeCode(), { maxItems: 30 }))),
    fuelOnly: Type.Optional(Type.Boolean({ description: 'fuel only: store goods are declined GOODS_NOT_ALLOWED (absent = unchanged: a form that edits only the amounts cannot lift the restriction by omission)' })),
  },
  { additionalProperties: false },
);

export const CardViewSchema = Type.Object({
  cardNo: Type.String(),
  kind: Type.String(),
  status: Type.String(),
  customerId: Nullable(Type.Integer()),
  masterCardNo: Nullable(Type.String()),
  sharedBalance: Type.Boolean(),
  balance: Type.Integer({ description: 'posted balance across linked accounts, fen' }),
  available: Type.Integer({ description: 'spendable now (balance less holds), fen' }),
  accounts: Type.Array(
    Type.Object({
      accountId: Type.Integer(),
      priority: Type.Integer(),
      kind: Type.String(),
      own: Type.Boolean(),
      balance: Type.Integer(),
      available: Type.Integer(),
    }),
  ),
  limits: Type.Object({
    saleAmount: Nullable(Type.Integer()),
    saleVolumeMl: Nullable(Type.Integer()),
    dayAmount: Nullable(Type.Integer()),
    dayVolumeMl: Nullable(Type.Integer()),
    dayFills: Nullable(Type.Integer()),
    weekAmount: Nullable(Type.Integer()),
    weekVolumeMl: Nullable(Type.Integer()),
    weekFills: Nullable(Type.Integer()),
    monthAmount: Nullable(Type.Integer()),
    monthVolumeMl: Nullable(Type.Integer()),
    monthFills: Nullable(Type.Integer()),
    minFillIntervalSeconds: Nullable(Type.Integer()),
    allowedGrades: Nullable(Type.Array(Type.String())),
  }),
  fuelOnly: Type.Boolean({ description: 'fuel only: store goods are declined GOODS_NOT_ALLOWED (set through PUT …/limits)' }),
  pinLocked: Type.Boolean(),
  lostAt: Nullable(Type.String()),
  usableFrom: Nullable(Type.String({ description: 'a replacement for a lost card buys fuel from this time; null = now' })),
  replacedByCardNo: Nullable(Type.String()),
  replacesCardNo: Nullable(Type.String()),
  closedAt: Nullable(Type.String()),
  createdAt: Type.String(),
});

export const CardNoParams = Type.Object({ cardNo: Type.String({ pattern: '^[0-9]{19}$', description: '19-digit card number' }) });
export const Pin = Type.String({ pattern: '^[0-9]{6}$', description: '6 digits' });

export const AllocationSchema = Type.Object({
  transferId: Type.String(),
  amount: Type.Integer(),
  masterCardNo: Type.String(),
  subCardNo: Type.String(),
  masterBalance: Type.Integer(),
  subBalance: Type.Integer(),
});
