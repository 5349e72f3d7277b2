import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App, Config, Db } from '../platform/index.js';
import { access, actorOf, audit, auditChainStatus, FreeText, GradeCode, Id, maskCardNo, Nullable, pageSize, StaffGroups, verifyAuditChain } from '../platform/index.js';
import { DECLINE_CODES, listSales, SALE_FLOWS, SALE_STATUSES, salesExport } from './reports.sales.js';
import { listRecharges, rechargesExport } from './reports.recharges.js';
import { auditExport, listAudit } from './reports.audit.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { todayDashboard } from './reports.dashboard.js';
import { parsePeriod } from './reports.query.js';
import { buildXlsx, exportFileName, XLSX_CONTENT_TYPE, type ExportColumn, type ExportSource } from './reports.export.js';

export const MAX_REPORT_PAGE = 200;

const bearer = [{ bearer: [] }];
/**
 * Under 等保 level 3's three-role split (三员分立) the auditor (and the security officer) read the
 * audit log and its chain, never the administrator it audits. It names staff, addresses and every change.
 */
const AUDIT_READERS = StaffGroups.auditReaders;

const Period = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'inclusive, ISO 8601' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive, ISO 8601' })),
};
const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_REPORT_PAGE, description: 'default 50' })),
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page, unchanged' })),
};
const CardNo = Type.String({ pattern: '^[0-9]{19}$', description: 'exact; also finds the cards it replaced' });

const SalesFilters = {
  ...Period,
  stationId: Type.Optional(Id()),
  terminalId: Type.Optional(Type.String({ pattern: '^T[0-9]{8}$' })),
  cardNo: Type.Optional(CardNo),
  status: Type.Optional(Type.Union(SALE_STATUSES.map((v) => Type.Literal(v)))),
  declineCode: Type.Optional(Type.Enum(DECLINE_CODES)),
  grade: Type.Optional(GradeCode()),
  flow: Type.Optional(Type.Union(SALE_FLOWS.map((v) => Type.Literal(v)))),
  flagged: Type.Optional(Type.Boolean({ description: 'only forced, flagged or station-liability sales' })),
};
const RechargesFilters = {
  ...Period,
  cardNo: Type.Optional(CardNo),
  channel: Type.Optional(Type.Union([Type.Literal('cash'), Type.Literal('bank_transfer'), Type.Literal('wechat'), Type.Literal('alipay'), Type.Literal('unionpay')])),
};
const AuditFilters = {
  ...Period,
  actor: Type.Optional(FreeText({ minLength: 1, maxLength: 64 })),
  action: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}\\*?$', description: 'exact, or a prefix ending in * (card.*)' })),
  targetType: Type.Optional(FreeText({ minLength: 1, maxLength: 64 })),
  targetId: Type.Optional(FreeText({ minLength: 1, maxLength: 128 })),
};
// Unknown parameters are refused: a misspelt filter would otherwise list everything.
const query = <P extends Parameters<typeof Type.Object>[0]>(props: P) => Type.Object(props, { additionalProperties: false });

const SaleItem = Type.Object({
  saleId: Type.String(),
  cardNo: Type.String({ description: 'full to admin, operator, risk and station_staff; else 900001*********2666' }),
  stationId: Type.Integer(),
  stationName: Type.String(),
  terminalId: Type.String(),
  nozzle: Nullable(Type.Integer()),
  grade: Nullable(Type.String()),
  volumeMl: Nullable(Type.Integer()),
  unitPrice: Nullable(Type.Integer()),
  amount: Type.Integer({ description: 'fen, fuel and store goods together' }),
  goodsAmount: Type.Integer({ description: 'fen, the store goods part of amount' }),
  flow: Type.String({ description: 'online | completion | postpay | offline' }),
  forced: Type.Boolean(),
  flags: Type.Array(Type.String()),
  liability: Type.String({ description: 'programme | station' }),
  status: Type.String({ description: 'approved | declined | reversed | voided' }),
  approvalCode: Nullable(Type.String()),
  declineCode: Nullable(Type.String()),
  balanceAfter: Nullable(Type.Integer()),
  businessDay: Type.String(),
  createdAt: Type.String(),
});
const RechargeItem = Type.Object({
  rechargeId: Type.String(),
  receiptNo: Type.String(),
  cardNo: Type.String(),
  amount: Type.Integer(),
  channel: Type.String(),
  reference: Nullable(Type.String()),
  staffUsername: Nullable(Type.String()),
  balanceAfter: Type.Integer(),
  createdAt: Type.String(),
});
const AuditItem = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  actorName: Type.String(),
  actorRole: Type.String(),
  action: Type.String(),
  targetType: Type.String(),
  targetId: Nullable(Type.String()),
  details: Type.Unknown(),
  ip: Nullable(Type.String()),
  requestId: Nullable(Type.String()),
});
const DashboardSchema = Type.Object({
  businessDay: Type.String(),
  sales: Type.Object({ count: Type.Integer(), amount: Type.Integer(), volumeMl: Type.Integer() }),
  declines: Type.Object({ count: Type.Integer(), byCode: Type.Array(Type.Object({ code: Type.String(), count: Type.Integer() })) }),
  recharges: Type.Object({ count: Type.Integer(), amount: Type.Integer() }),
  activeCards: Type.Integer(),
  cardsIssuedToday: Type.Integer(),
  days: Type.Array(Type.Object({ businessDay: Type.String(), salesAmount: Type.Integer(), salesCount: Type.Integer(), rechargeAmount: Type.Integer() })),
});
const ChainProblem = Type.Object({
  check: Type.String({ description: 'start | gap | hash | head | anchor | unsealed' }),
  seq: Nullable(Type.Integer()),
  id: Type.Optional(Type.Integer()),
  detail: Type.String(),
});
const ChainHead = Type.Object({ seq: Type.Integer(), hash: Type.String({ description: 'SHA-256, hex' }), sealedAt: Type.String() });
const AuditChainStatusSchema = Type.Object({
  head: ChainHead,
  unsealed: Type.Integer({ description: 'rows committed and not yet sealed (normally seconds old)' }),
  lastVerification: Nullable(
    Type.Object({
      at: Type.String(),
      source: Type.String({ description: 'job | cli | api' }),
      ok: Type.Boolean(),
      rowsChecked: Type.Integer(),
      verifiedSeq: Type.Integer({ description: 'the chain is intact from the start up to this seq' }),
      headSeq: Type.Integer(),
      brokenSeq: Nullable(Type.Integer()),
      problems: Type.Array(ChainProblem),
    }),
  ),
});
const AuditVerifySchema = Type.Object({
  ok: Type.Boolean(),
  checkedAt: Type.String(),
  sealedNow: Type.Integer(),
  rowsChecked: Type.Integer(),
  firstSeq: Nullable(Type.Integer()),
  lastSeq: Nullable(Type.Integer()),
  verifiedSeq: Type.Integer(),
  brokenSeq: Nullable(Type.Integer()),
  head: ChainHead,
  unsealed: Type.Object({ stale: Type.Integer(), oldestId: Nullable(Type.Integer()), oldestAt: Nullable(Type.String()) }),
  problems: Type.Array(ChainProblem),
});
const page = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });
const xlsxResponse = {
  200: {
    description: 'The .xlsx file (Content-Disposition: attachment)',
    content: { [XLSX_CONTENT_TYPE]: { schema: Type.String({ format: 'binary' }) } },
  },
};

/** The audit trail keeps who took data out, with masked card numbers like every other audit row. */
function auditedFilters(q: Record<string, unknown>): Record<string, unknown> {
  return typeof q.cardNo === 'string' ? { ...q, cardNo: maskCardNo(q.cardNo) } : { ...q };
}

/**
 * A page of a report that shows full card numbers is a view of unmasked personal data: one audit
 * row naming the records shown. A number the caller typed as the filter is not counted (as for
 * GET /api/v1/cards/:cardNo), but the cards it replaced, which the filter also finds, are.
 * Sales of unknown card numbers only ever kept a mask.
 */
async function auditCardNumbersShown(
  db: Db,
  req: FastifyRequest,
  items: readonly { cardNo: string; id: string }[],
  kind: 'sale' | 'recharge',
  route: string,
  typedCardNo: string | undefined,
): Promise<void> {
  if (!maySeeCardNumbers(req.staff?.role)) return;
  const shown = items.filter((i) => !i.cardNo.includes('*') && i.cardNo !== typedCardNo);
  if (shown.length === 0) return;
  await auditUnmaskedView(db, actorOf(req), {
    targetType: kind,
    targetId: shown.length === 1 ? shown[0]!.id : null,
    targets: shown.map((i) => i.id),
    fields: ['cards.card_no'],
    route,
  });
}

function period(q: { from?: string; to?: string }): { from?: Date; to?: Date } {
  const { from, to } = parsePeriod(q);
  return { ...(from ? { from: from.at } : {}), ...(to ? { to: to.at } : {}) };
}

async function sendXlsx<R>(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: { db: Db; config: Config },
  kind: 'sales' | 'recharges' | 'audit',
  sheet: string,
  report: { columns: ExportColumn<R>[]; source: ExportSource<R> },
): Promise<FastifyReply> {
  const q = req.query as Record<string, unknown> & { from?: string; to?: string };
  const { bytes, rows } = await buildXlsx(sheet, report.columns, report.source);
  await audit(deps.db, actorOf(req), { action: 'report.export', targetType: 'report', targetId: kind, details: { filters: auditedFilters(q), rows } });
  if (kind !== 'audit' && rows > 0 && maySeeCardNumbers(req.staff?.role)) {
    await auditUnmaskedView(deps.db, actorOf(req), {
      targetType: 'report',
      targetId: kind,
      fields: ['cards.card_no'],
      route: `GET /api/v1/${kind}/export`,
      filters: auditedFilters(q),
      rows,
    });
  }
  return reply
    .header('content-type', XLSX_CONTENT_TYPE)
    .header('content-disposition', `attachment; filename="${exportFileName(kind, period(q), deps.config.timeZone)}"`)
    .header('cache-control', 'no-store')
    .send(bytes);
}

export function reportsRoutes(app: App, deps: { db: Db; config: Config }): void {
  const tz = deps.config.timeZone;

  app.get(
    '/api/v1/dashboard/today',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['reports'],
        summary: "Today's sales, declines, recharges and cards, and the last 7 business days / 今日概览",
        security: bearer,
        response: { 200: DashboardSchema },
      },
    },
    async () => todayDashboard(deps.db, tz),
  );

  app.get(
    '/api/v1/sales',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['reports'],
        summary: 'Sales, approved and declined, newest first / 交易明细',
        security: bearer,
        querystring: query({ ...SalesFilters, ...Paging }),
        response: { 200: page(SaleItem) },
      },
    },
    async (req) => {
      const { limit, cursor, ...filters } = req.query;
      const found = await listSales(deps.db, tz, filters, { limit: pageSize(limit, MAX_REPORT_PAGE), cursor }, req.staff?.role);
      const shown = found.items.map((s) => ({ cardNo: s.cardNo, id: s.saleId }));
      await auditCardNumbersShown(deps.db, req, shown, 'sale', 'GET /api/v1/sales', filters.cardNo);
      return found;
    },
  );

  app.get(
    '/api/v1/sales/export',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['reports'],
        summary: 'Sales as an .xlsx file (at most 100,000 rows) / 导出交易明细',
        security: bearer,
        querystring: query(SalesFilters),
        response: xlsxResponse,
      },
    },
    async (req, reply) => sendXlsx(req, reply, deps, 'sales', '交易明细', await salesExport(deps.db, tz, req.query, req.staff?.role)),
  );

  app.get(
    '/api/v1/recharges',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['reports'],
        summary: 'Recharges, newest first / 充值明细',
        security: bearer,
        querystring: query({ ...RechargesFilters, ...Paging }),
        response: { 200: page(RechargeItem) },
      },
    },
    async (req) => {
      const { limit, cursor, ...filters } = req.query;
      const found = await listRecharges(deps.db, tz, filters, { limit: pageSize(limit, MAX_REPORT_PAGE), cursor }, req.staff?.role);
      const shown = found.items.map((r) => ({ cardNo: r.cardNo, id: r.rechargeId }));
      await auditCardNumbersShown(deps.db, req, shown, 'recharge', 'GET /api/v1/recharges', filters.cardNo);
      return found;
    },
  );

  app.get(
    '/api/v1/recharges/export',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['reports'],
        summary: 'Recharges as an .xlsx file (at most 100,000 rows) / 导出充值明细',
        security: bearer,
        querystring: query(RechargesFilters),
        response: xlsxResponse,
      },
    },
    async (req, reply) => sendXlsx(req, reply, deps, 'recharges', '充值明细', await rechargesExport(deps.db, tz, req.query, req.staff?.role)),
  );

  app.get(
    '/api/v1/audit',
    {
      config: { access: access.roles(...AUDIT_READERS) },
      schema: {
        tags: ['reports'],
        summary: 'The audit log, newest first / 审计日志',
        security: bearer,
        querystring: query({ ...AuditFilters, ...Paging }),
        response: { 200: page(AuditItem) },
      },
    },
    async (req) => {
      const { limit, cursor, ...filters } = req.query;
      return listAudit(deps.db, tz, filters, { limit: pageSize(limit, MAX_REPORT_PAGE), cursor });
    },
  );

  app.get(
    '/api/v1/audit/export',
    {
      config: { access: access.roles(...AUDIT_READERS) },
      schema: {
        tags: ['reports'],
        summary: 'The audit log as an .xlsx file (at most 100,000 rows) / 导出审计日志',
        security: bearer,
        querystring: query(AuditFilters),
        response: xlsxResponse,
      },
    },
    async (req, reply) => sendXlsx(req, reply, deps, 'audit', '审计日志', auditExport(deps.db, tz, req.query)),
  );

  app.get(
    '/api/v1/audit/chain',
    {
      config: { access: access.roles(...AUDIT_READERS) },
      schema: {
        tags: ['reports'],
        summary: "The audit log's hash chain: its head and the newest full verification / 审计链状态",
        security: bearer,
        response: { 200: AuditChainStatusSchema },
      },
    },
    async () => auditChainStatus(deps.db),
  );

  app.post(
    '/api/v1/audit/chain/verify',
    {
      config: { access: access.roles(...AUDIT_READERS) },
      schema: {
        tags: ['reports'],
        summary: 'Seal what is pending and recompute the whole chain now, as `fuelcard audit verify` does / 立即校验审计链',
        description: 'Reads every audit row: on a large log this takes a while. The outcome is recorded for GET /api/v1/audit/chain.',
        security: bearer,
        response: { 200: AuditVerifySchema },
      },
    },
    async () => verifyAuditChain(deps.db, { record: 'api' }),
  );
}
