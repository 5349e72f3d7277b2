import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, checkIdempotencyKey, decodeCursor, encodeCursor, FreeText, Id, Nullable, pageSize, platformError, runIdempotent, StaffGroups } from '../platform/index.js';
import { spendTerminalNonce } from '../stations/index.js';
import { spendNonceOnError } from './reversals.routes.js';
import { scopedStationId } from './reversals.station-scope.js';
import { closeShift, currentShift, getShift, listShifts, SHIFT_KINDS, type ShiftView } from './shifts.service.js';
import { reversalsError } from './reversals.errors.js';

export const MAX_SHIFT_PAGE = 100;
const MAX_DECLARED_COUNT = 1_000_000;
const MAX_DECLARED_AMOUNT = 1_000_000_000_000;

const Kind = Type.Enum(SHIFT_KINDS);
const KindTotal = Type.Object({ kind: Kind, count: Type.Integer(), amount: Type.Integer() });
const Difference = Type.Object({
  kind: Kind,
  declaredCount: Type.Integer(),
  computedCount: Type.Integer(),
  declaredAmount: Type.Integer(),
  computedAmount: Type.Integer(),
});
const ShiftSchema = Type.Object({
  shiftId: Type.Integer(),
  shiftNo: Type.Integer(),
  terminalId: Type.String(),
  stationId: Type.Integer(),
  openedAt: Type.String(),
  closedAt: Nullable(Type.String()),
  businessDay: Nullable(Type.String({ description: 'business day of the close (operator’s time zone)' })),
  cashier: Nullable(Type.String()),
  endOfDay: Type.Boolean(),
  declared: Nullable(Type.Array(KindTotal)),
  computed: Type.Array(KindTotal, { description: 'stored at close; running totals while open' }),
  differences: Nullable(Type.Array(Difference)),
  balanced: Nullable(Type.Boolean()),
  openAuthorisations: Type.Integer(),
  unpaidPumpSales: Type.Integer(),
});
const CloseAnswerSchema = Type.Object({
  ...ShiftSchema.properties,
  actionCode: Type.String({ description: 'ISO 8583 reconciliation: 500 in balance, 501 out of balance' }),
});
const ShiftItemSchema = Type.Object({
  shiftId: Type.Integer(),
  shiftNo: Type.Integer(),
  terminalId: Type.String(),
  stationId: Type.Integer(),
  openedAt: Type.String(),
  closedAt: Nullable(Type.String()),
  businessDay: Nullable(Type.String()),
  cashier: Nullable(Type.String()),
  endOfDay: Type.Boolean(),
  balanced: Nullable(Type.Boolean()),
  differenceCount: Type.Integer(),
});

export function shiftRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  const { db, config } = deps;

  app.get(
    '/api/v1/pos/shifts/current',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'The terminal’s open shift and its running totals / 当前班次',
        security: [{ terminal: [] }],
        response: { 200: ShiftSchema },
      },
    },
    async (req) => db.transaction().execute((trx) => currentShift(trx, req.terminal!)),
  );

  app.post(
    '/api/v1/pos/shifts/close',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Close the shift with the terminal’s totals / 班结（交班、日结）',
        description:
          'Waits for sales still in flight in the shift, then compares the declared totals (kinds not declared count as zero) with the platform’s and closes the shift. Idempotency-Key required.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            cashier: Type.Optional(FreeText({ minLength: 1, maxLength: 40 })),
            endOfDay: Type.Optional(Type.Boolean()),
            declared: Type.Array(
              Type.Object(
                {
                  kind: Kind,
                  count: Type.Integer({ minimum: 0, maximum: MAX_DECLARED_COUNT }),
                  amount: Type.Integer({ minimum: 0, maximum: MAX_DECLARED_AMOUNT, description: 'fen' }),
                },
                { additionalProperties: false },
              ),
              { maxItems: SHIFT_KINDS.length },
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: CloseAnswerSchema },
      },
      onError: spendNonceOnError(db),
    },
    async (req) => {
      const terminal = req.terminal!;
      const key = req.headers['idempotency-key'];
      const out = await runIdempotent<ShiftView & { actionCode: string }>(
        db,
        `pos-shift-close:${terminal.id}`,
        key,
        req.body,
        async (trx) => {
          const shift = await closeShift(trx, terminal, req.body, config.timeZone);
          return { status: 200, body: { ...shift, actionCode: shift.balanced ? '500' : '501' } };
        },
        {
          first: async (trx) => {
            await spendTerminalNonce(trx, terminal.id, terminal.unspentNonce!);
            if (key === undefined) throw platformError('IDEMPOTENCY_KEY_INVALID', { header: 'Idempotency-Key', reason: 'required' });
            checkIdempotencyKey(key);
          },
        },
      );
      return out.body;
    },
  );

  app.get(
    '/api/v1/shifts',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['sales'],
        summary: 'Terminal shifts, newest first / 班次列表',
        description: '`day` is the business day of the close. Station staff bound to a station see only that station’s.',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            stationId: Type.Optional(Id()),
            terminalId: Type.Optional(Type.String({ pattern: '^T[0-9]{8}$' })),
            day: Type.Optional(Type.String({ format: 'date' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SHIFT_PAGE, description: 'default 50' })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(ShiftItemSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const q = req.query;
      const stationId = scopedStationId(req.staff, q.stationId);
      const page = await listShifts(db, {
        ...(stationId !== undefined ? { stationId } : {}),
        ...(q.terminalId ? { terminalId: q.terminalId } : {}),
        ...(q.day ? { day: q.day } : {}),
        limit: pageSize(q.limit, MAX_SHIFT_PAGE),
        cursor: decodeCursor(q.cursor, 'bigint'),
      });
      return { items: page.items, nextCursor: page.more && page.last ? encodeCursor(page.last.cursorAt, String(page.last.id)) : null };
    },
  );

  app.get(
    '/api/v1/shifts/:shiftId',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['sales'],
        summary: 'One shift with declared, computed and differences / 班次详情',
        security: [{ bearer: [] }],
        params: Type.Object({ shiftId: Id() }),
        response: { 200: ShiftSchema },
      },
    },
    async (req) => {
      const shift = await getShift(db, req.params.shiftId);
      // Another station's shift is as good as absent for station staff.
      if (scopedStationId(req.staff, undefined) !== undefined && scopedStationId(req.staff, undefined) !== shift.stationId) {
        throw reversalsError('SHIFT_NOT_FOUND', { shiftId: req.params.shiftId });
      }
      return shift;
    },
  );
}
