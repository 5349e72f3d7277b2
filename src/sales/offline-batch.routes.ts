import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, checkIdempotencyKey, GradeCode, Id, pageSize, StaffGroups } from '../platform/index.js';
import { spendTerminalNonce } from '../stations/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { MAX_OFFLINE_BATCH_SALES, uploadOfflineBatch } from './offline-batch.service.js';
import { getOfflineBatch, listOfflineBatches } from './offline-batch.queries.js';

const Flags = Type.Array(Type.Union([Type.Literal('offline_overdraft'), Type.Literal('offline_hot_card'), Type.Literal('offline_card_not_usable'), Type.Literal('offline_over_floor'), Type.Literal('risk_flagged')]));
const Liability = Type.Union([Type.Literal('programme'), Type.Literal('station')]);
const Summary = Type.Object({
  received: Type.Integer(),
  posted: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Integer(),
  forced: Type.Integer({ description: 'posted past the balance (arrears)' }),
  stationLiability: Type.Integer({ description: 'posted as the station’s loss: the card was on the terminal’s hot list, or the sale was over the floor it held' }),
});
const Result = Type.Object({
  seq: Type.Integer(),
  status: Type.Union([Type.Literal('posted'), Type.Literal('duplicate'), Type.Literal('rejected')]),
  saleId: Type.Optional(Type.String({ format: 'uuid' })),
  forced: Type.Optional(Type.Boolean()),
  liability: Type.Optional(Liability),
  flags: Type.Optional(Flags),
  code: Type.Optional(Type.String({ description: 'why a sale was rejected (docs/offline.md)' })),
});
const BatchItem = Type.Object({
  batchId: Type.String({ format: 'uuid' }),
  batchNo: Type.String(),
  terminalId: Type.String(),
  stationId: Type.Union([Type.Integer(), Type.Null()]),
  hotlistVersion: Type.Union([Type.Integer(), Type.Null()]),
  summary: Summary,
  createdAt: Type.String({ format: 'date-time' }),
});
const BatchSale = Type.Object({
  seq: Type.Integer(),
  saleId: Type.String(),
  cardNo: Type.String(),
  grade: Type.Union([Type.String(), Type.Null()]),
  nozzle: Type.Union([Type.Integer(), Type.Null()]),
  volumeMl: Type.Union([Type.Integer(), Type.Null()]),
  unitPrice: Type.Union([Type.Integer(), Type.Null()]),
  amount: Type.Integer(),
  status: Type.String({ description: 'approved, or reversed / voided since' }),
  approvalCode: Type.Union([Type.String(), Type.Null()]),
  forced: Type.Boolean(),
  liability: Type.String(),
  flags: Type.Array(Type.String()),
  transfers: Type.Array(Type.Object({ transferId: Type.String(), accountId: Type.Integer(), amount: Type.Integer() })),
  balanceAfter: Type.Union([Type.Integer(), Type.Null()]),
  offlineAt: Type.Union([Type.String(), Type.Null()]),
  businessDay: Type.String(),
  createdAt: Type.String(),
});

const OfflineSale = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'the terminal’s own sequence number: one sale, once, whatever the batch' }),
    cardNo: Type.String({ minLength: 1, maxLength: 19, pattern: '^[0-9]+$' }),
    grade: GradeCode(),
    volumeMl: Type.Integer({ minimum: 1, maximum: 2_000_000 }),
    unitPrice: Type.Integer({ minimum: 1, maximum: 100_000, description: 'fen per litre' }),
    amount: Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen' }),
    nozzle: Type.Integer({ minimum: 1, maximum: 99 }),
    occurredAt: Type.String({ format: 'date-time', maxLength: 40, description: 'when the terminal approved it' }),
    approvalCode: Type.String({ pattern: '^[0-9]{6}$', description: 'the approval code the terminal printed' }),
  },
  { additionalProperties: false },
);

export function offlineBatchRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.post(
    '/api/v1/pos/offline-batches',
    {
      config: { access: access.terminal, spendNonceInTransaction: true },
      schema: {
        tags: ['pos'],
        summary: 'Upload offline sales (signed by the terminal) / 脱机交易批量上送',
        description:
          'Idempotent by (terminal, batchNo) for the batch — the same batch again answers the first result with replayed: true — and by ' +
          '(terminal, seq) for each sale: a sale already posted is a `duplicate`. Every valid sale is posted, even past the balance ' +
          '(forced, arrears) or on a card no longer usable; a card the terminal’s hot list held is the station’s liability. ' +
          'Idempotency-Key is optional here (batchNo is the key). See docs/offline.md.',
        security: [{ terminal: [] }],
        headers: Type.Object({ 'idempotency-key': Type.Optional(Type.String({ maxLength: 128 })) }),
        body: Type.Object(
          {
            batchNo: Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$' }),
            hotlistVersion: Type.Optional(
              Type.Union([Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), Type.String({ pattern: '^[0-9]{1,16}$' })], {
                description: 'the hot-list version the terminal held while offline; without it no sale is the station’s liability',
              }),
            ),
            sales: Type.Array(OfflineSale, { minItems: 1, maxItems: MAX_OFFLINE_BATCH_SALES }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ batchId: Type.String({ format: 'uuid' }), batchNo: Type.String(), replayed: Type.Boolean(), summary: Summary, results: Type.Array(Result) }),
        },
      },
      // As the sale route: a request that fails has its transaction rolled back, nonce included;
      // spend it here so the same signed bytes are never accepted later.
      onError: async (req) => {
        const nonce = req.terminal?.unspentNonce;
        if (nonce === undefined) return;
        await spendTerminalNonce(deps.db, req.terminal!.id, nonce).catch(() => {
          // Already spent (a replay, or the batch committed).
        });
      },
    },
    async (req) => {
      const terminal = req.terminal!;
      return deps.db.transaction().execute(async (trx) => {
        await spendTerminalNonce(trx, terminal.id, terminal.unspentNonce!);
        checkIdempotencyKey(req.headers['idempotency-key']);
        return uploadOfflineBatch(trx, deps, terminal, req.body);
      });
    },
  );

  app.get(
    '/api/v1/offline-batches',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['offline'],
        summary: 'Offline batches uploaded by terminals / 脱机上送批次列表',
        description: 'Newest first. Station staff bound to a station see only its batches.',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            stationId: Type.Optional(Id()),
            terminalId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(BatchItem), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (req) => listOfflineBatches(deps.db, actorOf(req), { ...req.query, limit: pageSize(req.query.limit, 100) }),
  );

  app.get(
    '/api/v1/offline-batches/:batchId',
    {
      config: { access: access.roles(...StaffGroups.readers) },
      schema: {
        tags: ['offline'],
        summary: 'One offline batch with its results and sales / 脱机上送批次详情',
        security: [{ bearer: [] }],
        params: Type.Object({ batchId: Type.String({ format: 'uuid' }) }),
        response: { 200: Type.Object({ ...BatchItem.properties, results: Type.Array(Result), sales: Type.Array(BatchSale) }) },
      },
    },
    async (req) => {
      const full = maySeeCardNumbers(req.staff?.role);
      const batch = await getOfflineBatch(deps.db, actorOf(req), req.params.batchId, { fullCardNo: full });
      if (full && batch.sales.some((s) => !s.cardNo.includes('*'))) {
        await auditUnmaskedView(deps.db, actorOf(req), { targetType: 'offline_batch', targetId: req.params.batchId, fields: ['cards.card_no'], route: 'GET /api/v1/offline-batches/:batchId' });
      }
      return batch;
    },
  );
}
