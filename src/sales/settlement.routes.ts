import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, Id, Nullable, pageSize, platformError, StaffGroups } from '../platform/index.js';
import { reversalsError } from './reversals.errors.js';
import { scopedStationId } from './reversals.station-scope.js';
import { settlementStatement, settlementSummary } from './settlement.service.js';

export const MAX_SETTLEMENT_PAGE = 200;

const CountAmount = Type.Object({ count: Type.Integer(), amount: Type.Integer({ description: 'fen' }) });
const StatementSchema = Type.Object({
  stationId: Type.Integer(),
  stationCode: Type.String(),
  stationName: Type.String(),
  businessDay: Type.String(),
  lines: Type.Array(
    Type.Object({
      flow: Type.String(),
      grade: Nullable(Type.String({ description: 'null: store goods only' })),
      count: Type.Integer(),
      volumeMl: Type.Integer(),
      amount: Type.Integer({ description: 'fen, store goods included' }),
    }),
  ),
  goods: CountAmount,
  gross: Type.Integer(),
  reversed: CountAmount,
  voided: CountAmount,
  stationLiability: CountAmount,
  forced: CountAmount,
  owedToStation: Type.Integer({ description: 'gross − reversed − voided − stationLiability' }),
  shifts: Type.Array(
    Type.Object({ shiftId: Type.Integer(), terminalId: Type.String(), shiftNo: Type.Integer(), closedAt: Nullable(Type.String()), balanced: Nullable(Type.Boolean()) }),
  ),
  openAuthorisations: Type.Integer(),
  unpaidPumpSales: Type.Integer(),
  generatedAt: Type.String(),
});
const SummaryFields = {
  count: Type.Integer(),
  gross: Type.Integer(),
  goods: CountAmount,
  reversed: CountAmount,
  voided: CountAmount,
  stationLiability: CountAmount,
  forced: CountAmount,
  owedToStation: Type.Integer(),
  unbalancedShifts: Type.Integer(),
};
const SummarySchema = Type.Object({
  businessDay: Type.String(),
  items: Type.Array(Type.Object({ stationId: Type.Integer(), stationCode: Type.String(), stationName: Type.String(), ...SummaryFields })),
  nextCursor: Nullable(Type.String()),
  totals: Type.Object({ stations: Type.Integer(), ...SummaryFields }),
});

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A business day YYYY-MM-DD that exists on the calendar. */
export function checkDay(day: string, field: string): string {
  const m = DAY.exec(day);
  const ok = m !== null && (() => {
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    return Number(m[1]) >= 2000 && Number(m[1]) <= 9999 && d.toISOString().slice(0, 10) === day;
  })();
  if (!ok) throw reversalsError('SETTLEMENT_DAY_INVALID', { field, value: day.slice(0, 20) });
  return day;
}

export function settlementRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  const { db, config } = deps;

  app.get(
    '/api/v1/stations/:id/settlements/:day',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['stations'],
        summary: 'A station’s daily settlement statement / 油站日结算单',
        description:
          'The sales of one business day (operator’s time zone) in their state now: lines by flow and grade, reversals, voids, station-liability and forced sales, and what the programme owes the station. Station staff bound to a station see only their own.',
        security: [{ bearer: [] }],
        params: Type.Object({ id: Id(), day: Type.String({ maxLength: 10, description: 'YYYY-MM-DD' }) }),
        response: { 200: StatementSchema },
      },
    },
    async (req) => {
      const day = checkDay(req.params.day, 'params.day');
      const stationId = scopedStationId(req.staff, req.params.id)!;
      return settlementStatement(db, stationId, day, config.timeZone);
    },
  );

  app.get(
    '/api/v1/settlements',
    {
      config: { access: access.roles('admin', 'finance') },
      schema: {
        tags: ['stations'],
        summary: 'All stations’ settlement for a day / 全部油站日结算汇总',
        description: 'One row per station that sold on the day, in station id order, and the totals of all of them.',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            day: Type.String({ maxLength: 10, description: 'YYYY-MM-DD' }),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_SETTLEMENT_PAGE, description: 'default 100' })),
            cursor: Type.Optional(Type.String({ maxLength: 20, description: 'nextCursor of the previous page' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: SummarySchema },
      },
    },
    async (req) => {
      const q = req.query;
      const day = checkDay(q.day, 'querystring.day');
      if (q.cursor !== undefined && !/^[1-9][0-9]{0,15}$/.test(q.cursor)) throw platformError('VALIDATION_FAILED', { field: 'cursor' });
      return settlementSummary(db, day, {
        limit: pageSize(q.limit, MAX_SETTLEMENT_PAGE, 100),
        ...(q.cursor !== undefined ? { afterStationId: Number(q.cursor) } : {}),
      });
    },
  );
}
