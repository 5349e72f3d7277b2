import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access, actorOf, maskCardNo, pageSize } from '../platform/index.js';
import { maySeeCardNumbers } from '../cards/index.js';
import { auditUnmaskedView } from '../privacy/index.js';
import { listWhitelist, recordListDownload, removeWhitelistEntry, setWhitelistEntry, whitelistDownload } from './whitelist.service.js';

const CardNo = Type.String({ pattern: '^[0-9]{19}$', description: '19-digit card number' });
const Floor = (description: string) => Type.Integer({ minimum: 1, maximum: 10_000_000, description });
const DayFloor = Type.Integer({ minimum: 1, maximum: 100_000_000, description: 'fen: the most this card may spend offline at one terminal per business day' });
const Version = Type.Integer({ minimum: 0, description: 'whitelist version; send it back as `since` for a delta' });

const Entry = Type.Object({
  cardNo: Type.String(),
  cardStatus: Type.String(),
  floorSale: Type.Integer(),
  floorDay: Type.Integer(),
  updatedBy: Type.String(),
  updatedAt: Type.String({ format: 'date-time' }),
});

/** Who manages the list: the operator's offline risk policy. */
const managers = access.roles('admin', 'operator', 'risk');

/** The offline whitelist (白名单): staff manage it, terminals download it. See docs/offline.md. */
export function whitelistRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  app.get(
    '/api/v1/pos/whitelist',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'Offline whitelist, full or delta since a version (signed) / 白名单下载（全量或增量）',
        description:
          'Cards the terminal may approve offline up to their own floors (instead of the configured ones). Without `since`, or when ' +
          'the server cannot compute a delta from it: `{version, full: true, items}` (listed cards only; replace the list). ' +
          'Otherwise `{version, full: false, items}`: each item replaces the card’s entry, `listed: false` removes it.',
        security: [{ terminal: [] }],
        querystring: Type.Object({ since: Type.Optional(Version) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            version: Version,
            full: Type.Boolean(),
            items: Type.Array(Type.Object({ cardNo: Type.String(), floorSale: Type.Integer(), floorDay: Type.Integer(), listed: Type.Boolean() })),
          }),
        },
      },
    },
    async (req) => {
      const answer = await whitelistDownload(deps.db, req.query.since);
      await recordListDownload(deps.db, req.terminal!.id, 'whitelist', answer.version);
      return answer;
    },
  );

  app.get(
    '/api/v1/offline/whitelist',
    {
      config: { access: managers },
      schema: {
        tags: ['offline'],
        summary: 'Whitelisted cards and their offline floors / 白名单列表',
        security: [{ bearer: [] }],
        querystring: Type.Object(
          {
            cardNo: Type.Optional(CardNo),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Entry), nextCursor: Type.Union([Type.String(), Type.Null()]) }) },
      },
    },
    async (req) => {
      const page = await listWhitelist(deps.db, { cardNo: req.query.cardNo, cursor: req.query.cursor, limit: pageSize(req.query.limit, 200) });
      if (!maySeeCardNumbers(req.staff?.role)) return { ...page, items: page.items.map((e) => ({ ...e, cardNo: maskCardNo(e.cardNo) })) };
      // A staff member reading full card numbers is a view of unmasked data (docs/privacy.md); the
      // number they typed to filter is not. Terminals download the list on /api/v1/pos/whitelist.
      const shown = page.items.filter((e) => e.cardNo !== req.query.cardNo);
      if (shown.length > 0) {
        await auditUnmaskedView(deps.db, actorOf(req), {
          targetType: 'offline_whitelist',
          targetId: shown.length === 1 ? maskCardNo(shown[0]!.cardNo) : null,
          targets: shown.map((e) => maskCardNo(e.cardNo)),
          fields: ['offline_whitelist.card_no'],
          route: 'GET /api/v1/offline/whitelist',
        });
      }
      return page;
    },
  );

  app.put(
    '/api/v1/offline/whitelist/:cardNo',
    {
      config: { access: managers },
      schema: {
        tags: ['offline'],
        summary: 'Whitelist a card, or change its offline floors (audited) / 加入白名单或修改脱机限额',
        description: 'Idempotent: the same floors again change nothing. floorDay must be at least floorSale.',
        security: [{ bearer: [] }],
        params: Type.Object({ cardNo: CardNo }),
        body: Type.Object(
          { floorSale: Floor('fen: the most one offline sale on this card may be'), floorDay: DayFloor },
          { additionalProperties: false },
        ),
        response: { 200: Entry },
      },
    },
    async (req) => setWhitelistEntry(deps.db, actorOf(req), req.params.cardNo, req.body),
  );

  app.delete(
    '/api/v1/offline/whitelist/:cardNo',
    {
      config: { access: managers },
      schema: {
        tags: ['offline'],
        summary: 'Take a card off the whitelist (audited) / 移出白名单',
        security: [{ bearer: [] }],
        params: Type.Object({ cardNo: CardNo }),
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await removeWhitelistEntry(deps.db, actorOf(req), req.params.cardNo);
      return reply.status(204).send(null);
    },
  );
}
