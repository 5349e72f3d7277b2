import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, audit, FreeText, Id, maskCardNo, Nullable, pageSize } from '../platform/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { paymentsError, STATEMENT_CHANNELS, type PaymentsRuntime, type StatementChannel } from '../payments/index.js';
import { ITEM_CODES } from './matcher.js';
import { reconError } from './reconciliation.errors.js';
import { itemDetail, listItems, listRuns, listStatements, statementFile, statementLinesPage } from './reconciliation.read.js';
import { reconReport, reportXlsx } from './reconciliation.report.js';
import {
  addItemNote,
  getRun,
  getStatement,
  importStatement,
  MAX_STATEMENT_BYTES,
  presentRun,
  presentStatement,
  RESOLUTIONS,
  resolveItem,
  runReconciliation,
  type ReconDeps,
  type RunView,
} from './reconciliation.service.js';

const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const MAX_PAGE = 200;
const readers = access.roles('admin', 'finance', 'risk', 'operator');
const actors = access.roles('admin', 'finance');
const bearer = [{ bearer: [] }];
const tags = ['reconciliation'];

const Channel = Type.Union(STATEMENT_CHANNELS.map((c) => Type.Literal(c)));
const Day = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD, business day in the operator’s time zone' });
const IdParam = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) }, { additionalProperties: false });
const Note = FreeText({ minLength: 1, maxLength: 500 });
const Paging = { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE })), cursor: Type.Optional(Type.String({ maxLength: 200 })) };
const page = <T extends Parameters<typeof Type.Array>[0]>(item: T) => Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });

const StatementSchema = Type.Object({
  id: Type.Integer(),
  channel: Type.String(),
  billDate: Type.String(),
  source: Type.String(),
  fileName: Type.String(),
  sha256: Type.String(),
  sizeBytes: Type.Integer(),
  status: Type.String({ description: 'accepted | rejected' }),
  rejection: Nullable(Type.String({ description: 'the integrity failure’s code, or SUPERSEDED' })),
  lineCount: Type.Integer(),
  paymentCount: Type.Integer(),
  paymentTotal: Type.Integer({ description: 'fen' }),
  refundCount: Type.Integer(),
  refundTotal: Type.Integer({ description: 'fen' }),
  feeTotalMfen: Type.Integer({ description: 'thousandths of a fen' }),
  staffId: Nullable(Type.Integer()),
  createdAt: Type.String(),
});
const RunSchema = Type.Object({
  id: Type.Integer(),
  channel: Type.String(),
  billDate: Type.String(),
  statementId: Nullable(Type.Integer()),
  status: Type.String({ description: 'running | done | failed' }),
  source: Type.String(),
  matchedCount: Type.Integer(),
  matchedCrossDay: Nullable(Type.Integer({ description: 'matched with a platform record of the adjacent day (midnight cut-over)' })),
  itemCount: Type.Integer(),
  pendingCount: Type.Integer({ description: 'platform records waiting in the cross-day pool' }),
  autoResolved: Nullable(Type.Integer()),
  platformPaymentTotal: Type.Integer(),
  platformRefundTotal: Type.Integer(),
  channelPaymentTotal: Type.Integer(),
  channelRefundTotal: Type.Integer(),
  ledgerClearingNet: Type.Integer({ description: 'debits minus credits of channel_clearing:<channel> on the day' }),
  feeTotalMfen: Type.Integer(),
  failure: Nullable(Type.String()),
  staffId: Nullable(Type.Integer()),
  startedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
});
const ItemSchema = Type.Object({
  id: Type.Integer(),
  runId: Type.Integer(),
  channel: Type.String(),
  billDate: Type.String(),
  code: Type.String(),
  kind: Type.String(),
  orderNo: Nullable(Type.String()),
  refundNo: Nullable(Type.String()),
  channelTxnId: Nullable(Type.String()),
  statementLineId: Nullable(Type.Integer()),
  platformAmount: Nullable(Type.Integer()),
  channelAmount: Nullable(Type.Integer()),
  difference: Type.Integer({ description: 'channel minus platform, fen (what a write-off moves)' }),
  platformStatus: Nullable(Type.String()),
  channelStatus: Nullable(Type.String()),
  feeDiffMfen: Nullable(Type.Integer()),
  suggestedAction: Type.String(),
  status: Type.String(),
  resolution: Nullable(Type.String()),
  resolutionNote: Nullable(Type.String()),
  resolutionRef: Nullable(Type.String()),
  resolvedBy: Nullable(Type.Integer()),
  resolvedAt: Nullable(Type.String()),
  createdAt: Type.String(),
});
const LineSchema = Type.Object({
  id: Type.Integer(),
  lineNo: Type.Integer(),
  kind: Type.String(),
  channelTxnId: Nullable(Type.String()),
  orderNo: Nullable(Type.String()),
  refundNo: Nullable(Type.String()),
  channelRefundId: Nullable(Type.String()),
  amount: Type.Integer(),
  feeMfen: Type.Integer(),
  status: Type.String(),
  occurredAt: Nullable(Type.String()),
  raw: Type.String(),
});
const ItemDetailSchema = Type.Object({
  ...ItemSchema.properties,
  events: Type.Array(
    Type.Object({ id: Type.Integer(), action: Type.String(), staff: Nullable(Type.String()), note: Nullable(Type.String()), details: Type.Record(Type.String(), Type.Unknown()), createdAt: Type.String() }),
  ),
  line: Nullable(LineSchema),
  order: Nullable(
    Type.Object({ orderNo: Type.String(), cardNo: Type.String(), amount: Type.Integer(), status: Type.String(), channelTxnId: Nullable(Type.String()), paidAt: Nullable(Type.String()) }),
  ),
  refund: Nullable(Type.Object({ refundNo: Type.String(), amount: Type.Integer(), status: Type.String(), channelRefundId: Nullable(Type.String()), completedAt: Nullable(Type.String()) })),
});
const Totals = (props: Record<string, ReturnType<typeof Type.Integer>>) => Type.Object(props);
const ReportDaySchema = Type.Object({
  channel: Type.String(),
  billDate: Type.String(),
  runId: Nullable(Type.Integer()),
  status: Type.String({ description: 'balanced | open_items | nets_differ | not_run | statement_rejected' }),
  statement: Totals({ paymentCount: Type.Integer(), paymentTotal: Type.Integer(), refundCount: Type.Integer(), refundTotal: Type.Integer(), feeTotalMfen: Type.Integer() }),
  platform: Totals({ paymentCount: Type.Integer(), paymentTotal: Type.Integer(), refundCount: Type.Integer(), refundTotal: Type.Integer() }),
  ledgerClearingNet: Type.Integer(),
  statementNetEqualsPlatform: Type.Boolean(),
  platformNetEqualsLedger: Type.Boolean(),
  matched: Type.Integer(),
  openItems: Type.Integer(),
  resolvedItems: Type.Integer(),
  openItemIds: Type.Array(Type.Integer()),
  explanations: Type.Array(Type.String()),
});

/** Bytes as an attachment; a non-ASCII file name (银行对账单.csv) travels in filename*. */
function sendFile(reply: FastifyReply, contentType: string, fileName: string, bytes: Buffer): FastifyReply {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return reply
    .header('content-type', contentType)
    .header('content-disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`)
    .header('cache-control', 'no-store')
    .send(bytes);
}

export function reconciliationRoutes(app: App, deps: { db: Db; config: Config; cipher?: FieldCipher; logger: Logger; payments: PaymentsRuntime }): void {
  const rdeps: ReconDeps = { db: deps.db, config: deps.config, payments: deps.payments, logger: deps.logger };
  const { db } = deps;

  /**
   * The discrepancy as its reader may see it: the order's card number masked unless the role sees
   * card numbers (finance does not), and audited when it is shown in clear (docs/privacy.md).
   */
  const shownItem = async (req: FastifyRequest, id: number, route: string) => {
    const detail = await itemDetail(db, id);
    if (!detail.order) return detail;
    if (!maySeeCardNumbers(req.staff?.role)) return { ...detail, order: { ...detail.order, cardNo: maskCardNo(detail.order.cardNo) } };
    await auditUnmaskedView(db, actorOf(req), { targetType: 'reconciliation_item', targetId: id, fields: ['cards.card_no'], route });
    return detail;
  };

  app.post(
    '/api/v1/reconciliation/statements',
    {
      config: { access: actors },
      // base64 of a 20 MiB file, with room for the JSON around it.
      bodyLimit: Math.ceil((MAX_STATEMENT_BYTES * 4) / 3) + 64 * 1024,
      schema: {
        tags,
        summary: 'Import a channel statement file / 导入对账单',
        description:
          'Checks the file against its own summary (row count, totals) and stores it byte for byte. A file that fails is kept as rejected and answered 422 with the failure’s code. A second file for the same channel and day: 409 RECON_STATEMENT_EXISTS unless replace=true. Then reconciles the day (run=false to skip).',
        security: bearer,
        body: Type.Object(
          {
            channel: Channel,
            billDate: Day,
            fileName: FreeText({ minLength: 1, maxLength: 200 }),
            contentBase64: Type.String({ minLength: 1, maxLength: Math.ceil((MAX_STATEMENT_BYTES * 4) / 3) + 4, pattern: '^[A-Za-z0-9+/\\r\\n]*={0,2}[\\r\\n]*$' }),
            replace: Type.Optional(Type.Boolean()),
            run: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ ...StatementSchema.properties, run: Nullable(RunSchema), runError: Nullable(Type.String()) }) },
      },
    },
    async (req, reply) => {
      const actor = actorOf(req);
      const content = Buffer.from(req.body.contentBase64, 'base64');
      if (content.length > MAX_STATEMENT_BYTES) throw paymentsError('PAYMENT_STATEMENT_TOO_LARGE', { limit: MAX_STATEMENT_BYTES });
      const statement = await importStatement(rdeps, actor, {
        channel: req.body.channel,
        billDate: req.body.billDate,
        fileName: req.body.fileName,
        content,
        source: 'import',
        replace: req.body.replace ?? false,
      });
      let run: RunView | null = null;
      let runError: string | null = null;
      if (req.body.run !== false) {
        // The file is in either way; a run that fails is recorded and can be started again.
        try {
          run = await runReconciliation(rdeps, actor, { channel: statement.channel, billDate: statement.billDate, source: 'import' });
        } catch (err) {
          runError = (err as { code?: string }).code ?? 'INTERNAL';
        }
      }
      return reply.status(201).send({ ...statement, run, runError });
    },
  );

  app.get(
    '/api/v1/reconciliation/statements',
    {
      config: { access: readers },
      schema: {
        tags,
        summary: 'Statements imported, newest first / 对账单列表',
        security: bearer,
        querystring: Type.Object({ channel: Type.Optional(Channel), billDate: Type.Optional(Day), status: Type.Optional(Type.Union([Type.Literal('accepted'), Type.Literal('rejected')])), ...Paging }, { additionalProperties: false }),
        response: { 200: page(StatementSchema) },
      },
    },
    async (req) => listStatements(db, { ...req.query, limit: pageSize(req.query.limit, MAX_PAGE) }),
  );

  app.get(
    '/api/v1/reconciliation/statements/:id',
    {
      config: { access: readers },
      schema: {
        tags,
        summary: 'A statement and a page of its lines / 对账单明细',
        security: bearer,
        params: IdParam,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })), lineCursor: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_000_000_000 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ ...StatementSchema.properties, lines: Type.Array(LineSchema), nextLineCursor: Nullable(Type.Integer()) }) },
      },
    },
    async (req) => {
      const s = presentStatement(await getStatement(db, Number(req.params.id)));
      return { ...s, ...(await statementLinesPage(db, s.id, pageSize(req.query.limit, 500, 100), req.query.lineCursor)) };
    },
  );

  app.get(
    '/api/v1/reconciliation/statements/:id/file',
    {
      config: { access: readers },
      schema: {
        tags,
        summary: 'The statement file exactly as received / 下载对账单原文件',
        security: bearer,
        params: IdParam,
        response: { 200: { description: 'The original bytes (Content-Disposition: attachment)', content: { 'application/octet-stream': { schema: Type.String({ format: 'binary' }) } } } },
      },
    },
    async (req, reply) => {
      const f = await statementFile(db, Number(req.params.id));
      if (!f) throw reconError('RECON_STATEMENT_NOT_FOUND', { statementId: Number(req.params.id) });
      return sendFile(reply, 'application/octet-stream', f.fileName, f.content);
    },
  );

  app.post(
    '/api/v1/reconciliation/runs',
    {
      config: { access: actors },
      schema: {
        tags,
        summary: 'Reconcile a channel’s day (again) / 发起对账',
        description:
          'Downloads the statement first when the channel can (WeChat, Alipay, UnionPay), else uses the accepted one. Items still found are kept (not duplicated); open items no longer found are resolved automatically (再次对账已平).',
        security: bearer,
        body: Type.Object({ channel: Channel, billDate: Day }, { additionalProperties: false }),
        response: { 201: RunSchema },
      },
    },
    async (req, reply) => {
      const run = await runReconciliation(rdeps, actorOf(req), { channel: req.body.channel, billDate: req.body.billDate, source: 'staff', fetch: true });
      return reply.status(201).send(run);
    },
  );

  app.get(
    '/api/v1/reconciliation/runs',
    {
      config: { access: readers },
      schema: {
        tags,
        summary: 'Reconciliation runs, newest first / 对账批次',
        security: bearer,
        querystring: Type.Object(
          { channel: Type.Optional(Channel), billDate: Type.Optional(Day), status: Type.Optional(Type.Union([Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')])), ...Paging },
          { additionalProperties: false },
        ),
        response: { 200: page(RunSchema) },
      },
    },
    async (req) => listRuns(db, { ...req.query, limit: pageSize(req.query.limit, MAX_PAGE) }),
  );

  app.get(
    '/api/v1/reconciliation/runs/:id',
    { config: { access: readers }, schema: { tags, summary: 'A run / 对账批次详情', security: bearer, params: IdParam, response: { 200: RunSchema } } },
    async (req) => presentRun(await getRun(db, Number(req.params.id))),
  );

  app.get(
    '/api/v1/reconciliation/items',
    {
      config: { access: readers },
      schema: {
        tags,
        summary: 'Discrepancies, newest first / 对账差错',
        security: bearer,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('resolved')])),
            channel: Type.Optional(Channel),
            code: Type.Optional(Type.Union(ITEM_CODES.map((c) => Type.Literal(c)))),
            billDate: Type.Optional(Day),
            runId: Type.Optional(Id()),
            ...Paging,
          },
          { additionalProperties: false },
        ),
        response: { 200: page(ItemSchema) },
      },
    },
    async (req) => listItems(db, { ...req.query, limit: pageSize(req.query.limit, MAX_PAGE) }),
  );

  app.get(
    '/api/v1/reconciliation/items/:id',
    {
      config: { access: readers },
      schema: { tags, summary: 'A discrepancy with its line, order or refund, and its trail / 差错详情', security: bearer, params: IdParam, response: { 200: ItemDetailSchema } },
    },
    async (req) => shownItem(req, Number(req.params.id), 'GET /api/v1/reconciliation/items/:id'),
  );

  app.post(
    '/api/v1/reconciliation/items/:id/resolve',
    {
      config: { access: actors },
      schema: {
        tags,
        summary: 'Work a discrepancy: credit the card, refund, write off, or mark explained / 差错处理',
        description:
          'credit_card: the channel’s money goes on a card (the order’s own, or cardNo for money with no order). refund: credited first when it is on no card, then refunded through the channel. write_off: the difference (or `amount`, no more than it) moves between channel_clearing:<channel> and write_off:reconciliation. explained: nothing moves. The note is required.',
        security: bearer,
        params: IdParam,
        body: Type.Object(
          {
            action: Type.Union(RESOLUTIONS.map((a) => Type.Literal(a))),
            note: Note,
            cardNo: Type.Optional(Type.String({ pattern: '^[0-9]{19}$' })),
            amount: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000_000, description: 'fen' })),
            payee: Type.Optional(
              Type.Object(
                {
                  name: FreeText({ minLength: 1, maxLength: 60 }),
                  account: Type.String({ pattern: '^[0-9A-Za-z -]{6,48}$' }),
                  bank: Type.Optional(FreeText({ maxLength: 80 })),
                },
                { additionalProperties: false, description: 'refund of bank transfer money: where finance pays it' },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: ItemSchema },
      },
    },
    async (req) => resolveItem(rdeps, actorOf(req), Number(req.params.id), req.body),
  );

  app.post(
    '/api/v1/reconciliation/items/:id/notes',
    {
      config: { access: actors },
      schema: {
        tags,
        summary: 'Add a note to a discrepancy’s trail / 添加备注',
        security: bearer,
        params: IdParam,
        body: Type.Object({ note: Note }, { additionalProperties: false }),
        response: { 200: ItemDetailSchema },
      },
    },
    async (req) => {
      await addItemNote(db, actorOf(req), Number(req.params.id), req.body.note);
      return shownItem(req, Number(req.params.id), 'POST /api/v1/reconciliation/items/:id/notes');
    },
  );

  const ReportQuery = Type.Object({ from: Day, to: Day, channel: Type.Optional(Channel) }, { additionalProperties: false });
  app.get(
    '/api/v1/reconciliation/report',
    {
      config: { access: readers },
      schema: {
        tags,
        summary: 'Daily reconciliation report per channel / 对账日报',
        description: 'One row per channel per day (at most 92 days): statement, platform and ledger totals, whether they agree, and the open items that explain a difference.',
        security: bearer,
        querystring: ReportQuery,
        response: { 200: Type.Object({ days: Type.Array(ReportDaySchema) }) },
      },
    },
    async (req) => reconReport(db, deps.config, { from: req.query.from, to: req.query.to, ...(req.query.channel ? { channel: req.query.channel as StatementChannel } : {}) }),
  );

  app.get(
    '/api/v1/reconciliation/report.xlsx',
    {
      config: { access: readers },
      schema: {
        tags,
        summary: 'The daily reconciliation report as an .xlsx file / 导出对账日报',
        security: bearer,
        querystring: ReportQuery,
        response: { 200: { description: 'The .xlsx file (Content-Disposition: attachment)', content: { [XLSX_CONTENT_TYPE]: { schema: Type.String({ format: 'binary' }) } } } },
      },
    },
    async (req, reply) => {
      const report = await reconReport(db, deps.config, { from: req.query.from, to: req.query.to, ...(req.query.channel ? { channel: req.query.channel as StatementChannel } : {}) });
      const bytes = await reportXlsx(report);
      await audit(db, actorOf(req), { action: 'report.export', targetType: 'report', targetId: 'reconciliation', details: { filters: req.query, rows: report.days.length } });
      return sendFile(reply, XLSX_CONTENT_TYPE, `reconciliation-${req.query.from}-${req.query.to}.xlsx`, bytes);
    },
  );
}
