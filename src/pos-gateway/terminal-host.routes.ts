/**
 * Staff API for operating the terminal host (docs/pos-operations.md): the ISO 8583 terminals with
 * their session state, connection and message counts, and each terminal's masked message log.
 * Counts come from pos_message_stats (per minute), the log from pos_message_log, both written by
 * host/message-log.ts; "connected" from the gateway running in this process.
 */
import { Type } from 'typebox';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { App, Config, Db } from '../platform/index.js';
import { access, CURSOR_TIME_FORMAT, decodeCursor, encodeCursor, Nullable, pageSize, platformError } from '../platform/index.js';
import { ACTION_CODE_MEANINGS } from './host/action-codes.js';
import { isErrorOutcome } from './host/message-log.js';
import { runningPosGateway } from './gateway.js';

const bearer = [{ bearer: [] }];
const STAFF = ['admin', 'operator'] as const;
export const MAX_TERMINALS_PAGE = 1000;
export const MAX_MESSAGES_PAGE = 200;
/** messagesPerMinute is the average over this many minutes. */
const RATE_WINDOW_MIN = 5;

/**
 * Action codes in Chinese, beside action-codes.ts's English (the one table of codes). Codes the
 * host sends or will send that ACTION_CODE_MEANINGS does not list yet (922, the file action 3xx)
 * get their ISO 8583:1993 English here; the table's own English wins.
 */
export const ACTION_CODE_ZH: Readonly<Record<string, string>> = {
  '000': '批准',
  '001': '凭身份证明批准',
  '002': '部分金额批准',
  '100': '拒绝交易',
  '101': '卡已过期',
  '106': 'PIN 错误次数超限',
  '110': '金额无效',
  '111': '卡号无效',
  '116': '余额不足',
  '117': 'PIN 错误',
  '119': '持卡人不允许此交易',
  '121': '超出金额限制',
  '123': '超出次数限制',
  '125': '卡未生效',
  '200': '拒绝（没收卡）',
  '208': '挂失卡（没收）',
  '209': '被盗卡（没收）',
  '300': '文件操作成功',
  '301': '接收方不支持该文件操作',
  '302': '文件中找不到记录',
  '303': '重复记录，已替换旧记录',
  '304': '字段编辑错误',
  '305': '文件已锁定',
  '306': '文件操作未成功',
  '307': '文件操作格式错误',
  '308': '重复记录，新记录被拒绝',
  '309': '未知文件',
  '400': '冲正已接受',
  '500': '对账平衡',
  '501': '对账不平',
  '800': '网络管理已接受',
  '900': '通知已确认，不承担资金责任',
  '902': '无效交易',
  '904': '格式错误',
  '907': '发卡方或交换中心不可用',
  '909': '系统故障',
  '911': '发卡方超时',
  '912': '发卡方不可用',
  '913': '重复交易',
  '916': 'MAC 错误',
  '917': 'MAC 密钥不同步',
  '919': '加密密钥不同步',
  '922': '报文序号错乱',
  '923': '请求处理中',
};
const EXTRA_EN: Readonly<Record<string, string>> = {
  '300': 'file action completed successfully',
  '301': 'not supported by receiver',
  '302': 'unable to locate record on file',
  '303': 'duplicate record, old record replaced',
  '304': 'field edit error',
  '305': 'file locked out',
  '306': 'not successful',
  '307': 'format error',
  '308': 'duplicate, new record rejected',
  '309': 'unknown file',
  '922': 'message number out of sequence',
};

export function actionMeaning(code: string | null): { zh: string; en: string } | null {
  if (code === null) return null;
  const en = ACTION_CODE_MEANINGS[code] ?? EXTRA_EN[code];
  if (!en) return null;
  // A code added to the host's table before its Chinese: English in both (the test lists it).
  return { zh: ACTION_CODE_ZH[code] ?? en, en };
}

const Meaning = Nullable(Type.Object({ zh: Type.String(), en: Type.String() }));

const TerminalSchema = Type.Object({
  terminalId: Type.String({ description: 'platform terminal id' }),
  isoTerminalId: Type.String({ description: 'DE 41' }),
  stationId: Type.Integer(),
  stationCode: Type.String(),
  stationName: Type.String(),
  terminalStatus: Type.String({ description: 'the platform terminal: active | disabled' }),
  enabled: Type.Boolean({ description: 'the ISO 8583 profile' }),
  keyAlgorithm: Type.String(),
  macAlgorithm: Type.String(),
  pinFormat: Type.Integer(),
  framing: Type.String(),
  signedOn: Type.Boolean(),
  signedOnAt: Nullable(Type.String()),
  signedOffAt: Nullable(Type.String()),
  takVersion: Nullable(Type.Integer()),
  tpkVersion: Nullable(Type.Integer()),
  lastMessageAt: Nullable(Type.String({ description: 'last authenticated message (pos_terminals)' })),
  lastLoggedAt: Nullable(Type.String({ description: 'last message of any outcome in the log' })),
  connected: Type.Boolean({ description: 'an open connection of this process last authenticated as this terminal' }),
  connections: Type.Integer(),
  remoteAddresses: Type.Array(Type.String()),
  messages1h: Type.Integer(),
  errors1h: Type.Integer(),
  messages24h: Type.Integer(),
  errors24h: Type.Integer(),
  messagesPerMinute: Type.Number({ description: `average over the last ${RATE_WINDOW_MIN} minutes` }),
});

const MessageSchema = Type.Object({
  id: Type.String(),
  receivedAt: Type.String(),
  connId: Type.String(),
  isoTerminalId: Nullable(Type.String()),
  mti: Nullable(Type.String()),
  responseMti: Nullable(Type.String()),
  stan: Nullable(Type.String()),
  actionCode: Nullable(Type.String()),
  actionMeaning: Meaning,
  outcome: Type.String({ description: 'session-layer outcome (docs/pos-session.md)' }),
  error: Type.Boolean({ description: 'outcome other than OK / DUPLICATE' }),
  detail: Nullable(Type.String()),
  durationMs: Type.Integer(),
  requestBytes: Type.Integer(),
  responseBytes: Nullable(Type.Integer()),
  request: Type.Record(Type.String(), Type.Unknown(), { description: 'masked: {mti, fields} or {undecodable, length, sha256, error}' }),
  response: Nullable(Type.Record(Type.String(), Type.Unknown())),
});

interface TerminalRow {
  terminal_id: string;
  iso_terminal_id: string;
  station_id: string;
  station_code: string;
  station_name: string;
  terminal_status: string;
  enabled: boolean;
  key_algorithm: string;
  mac_algorithm: string;
  pin_format: number;
  framing: string;
  signed_on: boolean;
  signed_on_at: Date | null;
  signed_off_at: Date | null;
  tak_version: number | null;
  tpk_version: number | null;
  last_message_at: Date | null;
  last_logged_at: Date | null;
  m1h: string | null;
  e1h: string | null;
  m24h: string | null;
  e24h: string | null;
  mrate: string | null;
}

interface MessageRow {
  id: string;
  received_at: Date;
  cursor_at: string;
  conn_id: string;
  iso_terminal_id: string | null;
  mti: string | null;
  response_mti: string | null;
  stan: string | null;
  action_code: string | null;
  outcome: string;
  detail: string | null;
  duration_ms: number;
  request_bytes: number;
  response_bytes: number | null;
  request_masked: Record<string, unknown>;
  response_masked: Record<string, unknown> | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function terminalHostRoutes(app: App, deps: { db: Db; config: Config; logger: Logger }): void {
  const { db } = deps;

  app.get(
    '/api/v1/terminal-host/terminals',
    {
      config: { access: access.roles(...STAFF) },
      schema: {
        tags: ['pos-gateway'],
        summary: 'ISO 8583 terminals with session, connection and message counts / 终端主机终端列表',
        description:
          'Every terminal with an ISO 8583 profile (key ceremony done), by DE 41. Counts are by minute from the message log: ' +
          `errors are messages whose outcome is not OK / DUPLICATE; messagesPerMinute averages the last ${RATE_WINDOW_MIN} minutes. ` +
          'connected: an open connection of the terminal host in this process last authenticated as the terminal (false everywhere when the host is off here).',
        security: bearer,
        querystring: Type.Object(
          {
            stationId: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 ** 53 - 1 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TERMINALS_PAGE })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            running: Type.Boolean({ description: 'the terminal host runs in this process' }),
            port: Nullable(Type.Integer()),
            generatedAt: Type.String(),
            truncated: Type.Boolean({ description: 'more terminals than limit' }),
            items: Type.Array(TerminalSchema),
          }),
        },
      },
    },
    async (req) => {
      const limit = pageSize(req.query.limit, MAX_TERMINALS_PAGE, 500);
      const station = req.query.stationId ?? null;
      const r = await sql<TerminalRow>`
        select p.terminal_id, p.iso_terminal_id, t.station_id, s.code as station_code, s.name as station_name, t.status as terminal_status,
          p.enabled, p.key_algorithm, p.mac_algorithm, p.pin_format, p.framing, p.signed_on, p.signed_on_at, p.signed_off_at,
          p.tak_version, p.tpk_version, p.last_message_at,
          (select max(l.received_at) from pos_message_log l where l.terminal_id = p.terminal_id) as last_logged_at, c.m1h, c.e1h, c.m24h, c.e24h, c.mrate
        from pos_terminals p
        join terminals t on t.id = p.terminal_id
        join stations s on s.id = t.station_id
        left join (
          select terminal_id,
            sum(messages) filter (where minute > now() - interval '1 hour') as m1h,
            sum(errors) filter (where minute > now() - interval '1 hour') as e1h,
            sum(messages) as m24h,
            sum(errors) as e24h,
            sum(messages) filter (where minute > now() - make_interval(mins => ${RATE_WINDOW_MIN})) as mrate
          from pos_message_stats where minute > now() - interval '24 hours'
          group by terminal_id
        ) c on c.terminal_id = p.terminal_id
        where (${station}::bigint is null or t.station_id = ${station}::bigint)
        order by p.iso_terminal_id
        limit ${limit + 1}`.execute(db);
      const g = runningPosGateway(db);
      const conns = new Map<string, string[]>();
      for (const c of g?.connections() ?? []) {
        if (c.terminalId === null || c.closing) continue;
        conns.set(c.terminalId, [...(conns.get(c.terminalId) ?? []), c.remoteAddress]);
      }
      const n = (v: string | null): number => (v === null ? 0 : Number(v));
      return {
        running: g !== null,
        port: g?.port ?? null,
        generatedAt: new Date().toISOString(),
        truncated: r.rows.length > limit,
        items: r.rows.slice(0, limit).map((x) => {
          const addresses = conns.get(x.iso_terminal_id) ?? [];
          return {
            terminalId: x.terminal_id,
            isoTerminalId: x.iso_terminal_id,
            stationId: Number(x.station_id),
            stationCode: x.station_code,
            stationName: x.station_name,
            terminalStatus: x.terminal_status,
            enabled: x.enabled,
            keyAlgorithm: x.key_algorithm,
            macAlgorithm: x.mac_algorithm,
            pinFormat: x.pin_format,
            framing: x.framing,
            signedOn: x.signed_on,
            signedOnAt: iso(x.signed_on_at),
            signedOffAt: iso(x.signed_off_at),
            takVersion: x.tak_version,
            tpkVersion: x.tpk_version,
            lastMessageAt: iso(x.last_message_at),
            lastLoggedAt: iso(x.last_logged_at),
            connected: addresses.length > 0,
            connections: addresses.length,
            remoteAddresses: addresses,
            messages1h: n(x.m1h),
            errors1h: n(x.e1h),
            messages24h: n(x.m24h),
            errors24h: n(x.e24h),
            messagesPerMinute: Math.round((n(x.mrate) / RATE_WINDOW_MIN) * 10) / 10,
          };
        }),
      };
    },
  );

  app.get(
    '/api/v1/terminal-host/terminals/:terminalId/messages',
    {
      config: { access: access.roles(...STAFF) },
      schema: {
        tags: ['pos-gateway'],
        summary: "A terminal's ISO 8583 message log, masked, newest first / 终端报文日志（脱敏）",
        description:
          'Each message the terminal host handled for this terminal, with the answer: PAN as first 6 and last 4 digits, track 2 ' +
          'without its discretionary data, PIN blocks, MACs and key material as their length only; an undecodable frame as its ' +
          'length and SHA-256. `outcome` filters by one session-layer outcome; `errors=true` keeps only outcomes other than OK / DUPLICATE.',
        security: bearer,
        params: Type.Object({ terminalId: Type.String({ pattern: '^T[0-9]{8}$' }) }),
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_MESSAGES_PAGE })),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            outcome: Type.Optional(Type.String({ pattern: '^[A-Z_]{2,40}$' })),
            errors: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ terminalId: Type.String(), isoTerminalId: Type.String(), items: Type.Array(MessageSchema), nextCursor: Nullable(Type.String()) }) },
      },
    },
    async (req) => {
      const { terminalId } = req.params;
      const q = req.query;
      const limit = pageSize(q.limit, MAX_MESSAGES_PAGE);
      const after = decodeCursor(q.cursor, 'bigint');
      const t = (await sql<{ iso_terminal_id: string }>`select iso_terminal_id from pos_terminals where terminal_id = ${terminalId}`.execute(db)).rows[0];
      if (!t) throw platformError('NOT_FOUND', { terminalId });
      const r = await sql<MessageRow>`
        select id, received_at, to_char(received_at at time zone 'UTC', ${CURSOR_TIME_FORMAT}) as cursor_at, conn_id, iso_terminal_id, mti,
          response_mti, stan, action_code, outcome, detail, duration_ms, request_bytes, response_bytes, request_masked, response_masked
        from pos_message_log
        where terminal_id = ${terminalId}
          ${q.outcome ? sql`and outcome = ${q.outcome}` : sql``}
          ${q.errors ? sql`and outcome not in ('OK', 'DUPLICATE')` : sql``} -- isErrorOutcome in SQL
          ${after ? sql`and (received_at, id) < (${after.at}::timestamptz, ${after.id}::bigint)` : sql``}
        order by received_at desc, id desc
        limit ${limit + 1}`.execute(db);
      const rows = r.rows.slice(0, limit);
      const last = rows[rows.length - 1];
      return {
        terminalId,
        isoTerminalId: t.iso_terminal_id,
        items: rows.map((x) => ({
          id: String(x.id),
          receivedAt: x.received_at.toISOString(),
          connId: x.conn_id,
          isoTerminalId: x.iso_terminal_id,
          mti: x.mti,
          responseMti: x.response_mti,
          stan: x.stan,
          actionCode: x.action_code,
          actionMeaning: actionMeaning(x.action_code),
          outcome: x.outcome,
          error: isErrorOutcome(x.outcome),
          detail: x.detail,
          durationMs: x.duration_ms,
          requestBytes: x.request_bytes,
          responseBytes: x.response_bytes,
          request: x.request_masked,
          response: x.response_masked,
        })),
        nextCursor: r.rows.length > limit && last ? encodeCursor(last.cursor_at, String(last.id)) : null,
      };
    },
  );
}
