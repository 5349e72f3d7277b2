/**
 * Staff API of the terminal host (docs/pos-gateway.md): the key ceremony that installs a terminal
 * master key (or, for a DUKPT terminal, its initial DUKPT key: docs/pos-dukpt.md), and the list of
 * open ISO 8583 connections.
 */
import { Type } from 'typebox';
import type { App, Config, Db } from '../platform/index.js';
import { access, actorOf } from '../platform/index.js';
import { CeremonyAnswer, CeremonyBody, keyCeremony } from './ceremony.js';
import { runningPosGateway } from './gateway.js';

const bearer = [{ bearer: [] }];

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

export function posGatewayRoutes(app: App, deps: { db: Db; config: Config }): void {
  const { db } = deps;

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
      const answer = await keyCeremony(deps, actorOf(req), req.params.terminalId, req.body);
      // Clear key components: no cache between here and the installer may keep them.
      void reply.header('cache-control', 'no-store');
      return answer;
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
