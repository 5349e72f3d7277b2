import { Type } from 'typebox';
import type { App } from '../platform/index.js';
import { access } from '../platform/index.js';
import type { OnlineChannel } from './channel.js';
import { handleNotification } from './notify.service.js';
import type { PaymentsDeps } from './orders.service.js';

/** Providers' notifications are small (WeChat's is about 1 KiB); anything bigger is not one. */
export const NOTIFY_BODY_LIMIT = 64 * 1024;

/**
 * POST /api/v1/payments/notify/:channel — the channels' asynchronous notifications (异步通知).
 * Registered in its own encapsulated context whose only content-type parser keeps the body as
 * the exact bytes received, whatever the media type (WeChat sends JSON, Alipay and UnionPay
 * form-encoded): signatures are checked over those bytes, never over a re-serialised body.
 */
export function notifyRoutes(app: App, deps: PaymentsDeps): void {
  void app.register(async (child) => {
    const scope = child as unknown as App;
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: NOTIFY_BODY_LIMIT }, (_req, body, done) => done(null, body));
    scope.post(
      '/api/v1/payments/notify/:channel',
      {
        bodyLimit: NOTIFY_BODY_LIMIT,
        config: { access: access.public },
        schema: {
          tags: ['payments'],
          summary: 'Payment and refund notifications from WeChat Pay, Alipay and UnionPay / 支付渠道异步通知',
          description:
            'Called by the providers, not by clients. The body is verified over its raw bytes by the channel adapter; the answer is the one the provider expects (WeChat: 204 or 4xx JSON; Alipay: `success`/`fail`; UnionPay: `ok`).',
          params: Type.Object({ channel: Type.Union([Type.Literal('wechat'), Type.Literal('alipay'), Type.Literal('unionpay')]) }),
        },
      },
      async (req, reply) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) {
          if (v === undefined) continue;
          headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
        }
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        const r = await handleNotification(deps, { channel: req.params.channel as OnlineChannel, headers, body, remoteAddr: req.ip });
        return reply.status(r.ack.status).header('content-type', r.ack.contentType).send(r.ack.body);
      },
    );
  });
}
