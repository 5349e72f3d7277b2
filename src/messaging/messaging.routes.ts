import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import { access, pageSize } from '../platform/index.js';
import { listMessages, type MessagingDeps, type StoredMessage } from './messaging.service.js';
import { messagingSettings } from './messaging.settings.js';

const MessageSchema = Type.Object({
  id: Type.Integer(),
  to: Type.String({ description: 'mobile number' }),
  template: Type.String(),
  text: Type.String(),
  status: Type.String({ description: 'pending, sent, failed or expired' }),
  createdAt: Type.String(),
});

/**
 * The dev outbox: with the dev sender nothing leaves the server, so the messages (sign-in codes
 * among them) are shown here instead. Public on purpose, which is why the routes exist only when
 * the sender is dev.
 */
export function messagingRoutes(app: App, deps: MessagingDeps): void {
  const settings = messagingSettings(deps.config);
  if (settings.sender !== 'dev') return;
  if (deps.config.databaseUrl !== null) {
    deps.logger.warn('FUELCARD_MESSAGE_SENDER=dev: messages are not sent and anyone can read them (sign-in codes too) at /dev/outbox; set webhook in production');
  }

  app.get(
    '/api/v1/dev/messages',
    {
      config: { access: access.public },
      schema: {
        tags: ['dev'],
        summary: 'Dev outbox: the newest messages (only with FUELCARD_MESSAGE_SENDER=dev) / 开发发件箱',
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) }),
        response: { 200: Type.Object({ items: Type.Array(MessageSchema) }) },
      },
    },
    async (req) => ({ items: await listMessages(deps, pageSize(req.query.limit, 200)) }),
  );

  app.get(
    '/dev/outbox',
    {
      config: { access: access.public },
      schema: {
        hide: true,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })) }),
      },
    },
    async (req, reply) => {
      const items = await listMessages(deps, pageSize(req.query.limit, 200));
      reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        // Nothing on the page is active content: no scripts, no external loads.
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
        .header('x-content-type-options', 'nosniff');
      return outboxPage(items, new Date());
    },
  );
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

const STATUS_LABEL: Record<string, string> = { pending: '待发送 pending', sent: '已发送 sent', failed: '失败 failed', expired: '已过期 expired' };

export function outboxPage(items: StoredMessage[], now: Date): string {
  const rows = items
    .map(
      (m) => `<tr><td>${escapeHtml(String(m.id))}</td><td><time>${escapeHtml(m.createdAt)}</time></td><td>${escapeHtml(m.to)}</td>` +
        `<td><code>${escapeHtml(m.template)}</code></td><td class="text">${escapeHtml(m.text)}</td><td>${escapeHtml(STATUS_LABEL[m.status] ?? m.status)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>开发发件箱 · Dev outbox</title>
<style>
body { font: 14px/1.5 system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; margin: 24px; color: #1f1f1f; }
h1 { font-size: 20px; margin: 0 0 4px; }
p.note { color: #666; margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #fafafa; font-weight: 600; }
td.text { white-space: pre-wrap; word-break: break-word; max-width: 48em; }
.empty { color: #999; padding: 24px 8px; }
</style>
</head>
<body>
<h1>开发发件箱 · Dev outbox</h1>
<p class="note">消息未真正发送（FUELCARD_MESSAGE_SENDER=dev），每 5 秒自动刷新。 Messages are not really sent (FUELCARD_MESSAGE_SENDER=dev); this page refreshes every 5 s. ${escapeHtml(now.toISOString())}</p>
<table>
<thead><tr><th>#</th><th>时间 Time (UTC)</th><th>收件人 To</th><th>模板 Template</th><th>内容 Text</th><th>状态 Status</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="6" class="empty">暂无消息 · No messages yet</td></tr>'}
</tbody>
</table>
</body>
</html>
`;
}
