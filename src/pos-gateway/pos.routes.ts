/**
 * Staff API of the terminal host (docs/pos-gateway.md): the key ceremony that installs a terminal
 * master key, and the list of open ISO 8583 connections.
 */
import { Type } from 'typebox';
import { sql } from 'kysely';
import type { App, Config, Db } from '../platform/index.js';
import { access, actorOf, audit, platformError } from '../platform/index.js';
import { generateClearKey, keyCheckValue, macKeyAlgorithm, MAC_ALGORITHMS, type KeyAlgorithm, type MacAlgorithm, type PinBlockFormat } from './crypto/index.js';
import { posKeyRefs, posKeyStoreFor } from './host/db-keystore.js';
import { runningPosGateway } from './gateway.js';

const bearer = [{ bearer: [] }];

const CeremonyBody = Type.Object(
  {
    algorithm: Type.Union([Type.Literal('tdes'), Type.Literal('aes'), Type.Literal('sm4')]),
    macAlgorithm: Type.Union(MAC_ALGORITHMS.map((a) => Type.Literal(a))),
    pinFormat: Type.Union([Type.Literal(0), Type.Literal(4)]),
    framing: Type.Optional(Type.Union([Type.Literal('binary2'), Type.Literal('ascii4'), Type.Literal('auto')])),
    isoTerminalId: Type.Optional(Type.String({ pattern: '^[ -~]{8}$', description: 'DE 41 (8 characters); default: the 8 digits of the terminal id' })),
  },
  { additionalProperties: false },
);

const KeyPart = Type.Object({ hex: Type.String(), kcv: Type.String() });
const CeremonyAnswer = Type.Object({
  terminalId: Type.String(),
  isoTerminalId: Type.String(),
  algorithm: Type.String(),
  macAlgorithm: Type.String(),
  pinFormat: Type.Integer(),
  framing: Type.String(),
  rotated: Type.Boolean({ description: 'true: a key ceremony had been done before; the old keys are gone' }),
  tmk: Type.Object({
    components: Type.Array(KeyPart, { description: 'two clear components; XORed they give the TMK. Shown once.' }),
    kcv: Type.String(),
  }),
  initialMacKey: Type.Object({ version: Type.Integer(), encryptedUnderTmk: Type.String(), wrapMethod: Type.String(), kcv: Type.String() }),
});

const ConnectionSchema = Type.Object({
  id: Type.String(),
  terminalId: Type.Union([Type.String(), Type.Null()]),
  remoteAddress: Type.String(),
  framing: Type.Union([Type.String(), Type.Null()]),
  tls: Type.Boolean(),
  inFlight: Type.Integer(),
  queued: Type.Integer(),
  readPaused: Type.Boolean(),
  writeBlocked: Type.Boolean(),
  writableLength: Type.Integer(),
  closing: Type.Boolean(),
});

const hex = (b: Buffer): string => b.toString('hex').toUpperCase();

export function posGatewayRoutes(app: App, deps: { db: Db; config: Config }): void {
  const { db, config } = deps;

  app.post(
    '/api/v1/terminals/:terminalId/iso-keys',
    {
      config: { access: access.roles('admin') },
      schema: {
        tags: ['pos-gateway'],
        summary: 'Key ceremony: a new terminal master key for an ISO 8583 terminal / 终端主密钥灌装',
        description:
          'Generates the terminal master key (TMK) and the initial MAC key (version 1). Answers ONCE with the clear TMK as two ' +
          'components with check values, for the installer to load, and the MAC key under the TMK. A second call replaces every key ' +
          'of the terminal (the terminal must sign on with the new ones). Audited as pos.key_ceremony, without key material.',
        security: bearer,
        params: Type.Object({ terminalId: Type.String({ pattern: '^T[0-9]{8}$' }) }),
        body: CeremonyBody,
        response: { 200: CeremonyAnswer },
      },
    },
    async (req, reply) => {
      const { terminalId } = req.params;
      const body = req.body;
      const algorithm: KeyAlgorithm = body.algorithm;
      const macAlgorithm = body.macAlgorithm as MacAlgorithm;
      const pinFormat = body.pinFormat as PinBlockFormat;
      if (macKeyAlgorithm(macAlgorithm) !== algorithm) {
        throw platformError('VALIDATION_FAILED', { field: 'macAlgorithm' }, `MAC 算法与密钥算法不符 / ${macAlgorithm} needs a ${macKeyAlgorithm(macAlgorithm)} key, not ${algorithm}`);
      }
      if ((pinFormat === 0) !== (algorithm === 'tdes')) {
        throw platformError('VALIDATION_FAILED', { field: 'pinFormat' }, 'PIN 块格式与密钥算法不符 / PIN block format 0 goes with TDES, format 4 with AES or SM4');
      }
      const terminal = (await sql<{ id: string }>`select id from terminals where id = ${terminalId}`.execute(db)).rows[0];
      if (!terminal) throw platformError('NOT_FOUND', { terminalId });
      const isoTerminalId = body.isoTerminalId ?? terminalId.slice(1);
      const clash = (await sql<{ terminal_id: string }>`select terminal_id from pos_terminals where iso_terminal_id = ${isoTerminalId} and terminal_id <> ${terminalId}`.execute(db)).rows[0];
      if (clash) throw platformError('VALIDATION_FAILED', { field: 'isoTerminalId' }, `DE 41 ${isoTerminalId} 已被其他终端使用 / already used by another terminal`);

      const keyStore = await posKeyStoreFor(db, config.dataKeys, config.pinKey);
      const refs = posKeyRefs(terminalId);
      const rotated = (await keyStore.describe(refs.tmk)) !== null;
      // A ceremony starts the terminal over: every key version begins at 1 again.
      for (const ref of [refs.tpk, refs.tak, refs.tmk]) await keyStore.deleteKey(ref);
      const tmk = generateClearKey(algorithm);
      const c1 = generateClearKey(algorithm);
      const c2 = Buffer.alloc(tmk.length);
      for (let i = 0; i < tmk.length; i++) c2[i] = tmk[i]! ^ c1[i]!;
      let answer;
      try {
        const info = await keyStore.importClearKey(refs.tmk, { algorithm, usage: 'tmk' }, tmk);
        const [tak] = await keyStore.generateSessionKeys(refs.tmk, [{ ref: refs.tak, usage: 'tak', algorithm }]);
        answer = {
          tmk: {
            // A component's check value is taken as a key of the same algorithm (TDES parity is not forced on components).
            components: [c1, c2].map((c) => ({ hex: hex(c), kcv: hex(keyCheckValue(algorithm, c)) })),
            kcv: info.kcv,
          },
          initialMacKey: { version: tak!.version, encryptedUnderTmk: hex(tak!.encrypted), wrapMethod: tak!.wrapMethod, kcv: hex(tak!.kcv) },
        };
      } finally {
        tmk.fill(0);
        c1.fill(0);
        c2.fill(0);
      }
      const framing = body.framing ?? 'auto';
      await db.transaction().execute(async (trx) => {
        await sql`insert into pos_terminals (terminal_id, iso_terminal_id, framing, mac_algorithm, pin_format, key_algorithm, enabled, signed_on)
          values (${terminalId}, ${isoTerminalId}, ${framing}, ${macAlgorithm}, ${pinFormat}, ${algorithm}, true, false)
          on conflict (terminal_id) do update set iso_terminal_id = excluded.iso_terminal_id, framing = excluded.framing,
            mac_algorithm = excluded.mac_algorithm, pin_format = excluded.pin_format, key_algorithm = excluded.key_algorithm,
            enabled = true, signed_on = false, tak_version = null, tpk_version = null, updated_at = now()`.execute(trx);
        await audit(trx, actorOf(req), {
          action: 'pos.key_ceremony',
          targetType: 'terminal',
          targetId: terminalId,
          details: { isoTerminalId, algorithm, macAlgorithm, pinFormat, framing, rotated, tmkKcv: answer.tmk.kcv, takKcv: answer.initialMacKey.kcv },
        });
      });
      void reply.header('cache-control', 'no-store');
      return { terminalId, isoTerminalId, algorithm, macAlgorithm, pinFormat, framing, rotated, ...answer };
    },
  );

  app.get(
    '/api/v1/terminal-host/connections',
    {
      config: { access: access.roles('admin', 'operator') },
      schema: {
        tags: ['pos-gateway'],
        summary: 'Open ISO 8583 terminal connections / 终端主机连接',
        description: 'running: false when the terminal host is not started in this process (FUELCARD_POS_PORT=off).',
        security: bearer,
        response: { 200: Type.Object({ running: Type.Boolean(), port: Type.Union([Type.Integer(), Type.Null()]), items: Type.Array(ConnectionSchema) }) },
      },
    },
    async () => {
      const g = runningPosGateway(db);
      return { running: g !== null, port: g?.port ?? null, items: g ? g.connections() : [] };
    },
  );
}
