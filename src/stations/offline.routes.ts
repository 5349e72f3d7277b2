import { Type } from 'typebox';
import type { App, Config, Db } from '../platform/index.js';
import { access } from '../platform/index.js';
import { hotlist, hotlistVersion } from '../cards/index.js';
import { recordListDownload, whitelistVersion } from './whitelist.service.js';

const signed = [{ terminal: [] }];
const CardNos = Type.Array(Type.String({ description: '19-digit card number' }));
const Version = Type.Integer({ minimum: 0, description: 'hot-list version; send it back as `since` for a delta' });

/** What a terminal downloads to keep selling while it cannot reach the host. See docs/terminals.md. */
export function offlineRoutes(app: App, deps: { db: Db; config: Config }): void {
  app.get(
    '/api/v1/pos/hotlist',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'Hot-card list, full or delta since a version (signed) / 黑名单下载（全量或增量）',
        description:
          'Card numbers a terminal must refuse offline (lost, frozen, closed, replaced, and sub cards of a frozen master). ' +
          'Without `since`, or when the server cannot compute a delta from it: `{version, full: true, cards}`. ' +
          'Otherwise `{version, full: false, added, removed}`: apply both to the list held at `since`.',
        security: signed,
        querystring: Type.Object({ since: Type.Optional(Version) }, { additionalProperties: false }),
        response: {
          200: Type.Union([
            Type.Object({ version: Version, full: Type.Literal(true), cards: CardNos }),
            Type.Object({ version: Version, full: Type.Literal(false), added: CardNos, removed: CardNos }),
          ]),
        },
      },
    },
    async (req) => {
      const answer = await hotlist(deps.db, req.query.since);
      // What the terminal was given, not only what it later claims: see docs/offline.md "Who bears the loss".
      await recordListDownload(deps.db, req.terminal!.id, 'hotlist', answer.version);
      return answer;
    },
  );

  app.get(
    '/api/v1/pos/offline-params',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'Offline floor limits and the current hot-list and whitelist versions (signed) / 脱机参数',
        description: 'When a version differs from the one the terminal holds, fetch a delta (GET /api/v1/pos/hotlist, GET /api/v1/pos/whitelist). See docs/offline.md.',
        security: signed,
        response: {
          200: Type.Object({
            floorLimitPerSale: Type.Integer({ description: 'fen: the most one offline sale may be' }),
            floorLimitPerCardPerDay: Type.Integer({ description: 'fen: the most one card may spend offline at this terminal per business day' }),
            hotlistVersion: Version,
            whitelistVersion: Type.Integer({ minimum: 0, description: 'whitelist version; GET /api/v1/pos/whitelist?since=… when it differs' }),
          }),
        },
      },
    },
    async () => {
      // Both versions are the same kind of number (a snapshot's xmin), read one after the other.
      const hot = await hotlistVersion(deps.db);
      return {
        floorLimitPerSale: deps.config.offlineFloorSale,
        floorLimitPerCardPerDay: deps.config.offlineFloorDay,
        hotlistVersion: hot,
        whitelistVersion: await whitelistVersion(deps.db),
      };
    },
  );
}
