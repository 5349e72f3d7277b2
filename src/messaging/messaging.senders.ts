import type { Logger } from 'pino';
import { maskPhone } from '../platform/index.js';
import type { MessagingSettings } from './messaging.settings.js';

export interface OutgoingMessage {
  /** Mobile number, 11 digits. */
  to: string;
  /** What kind of message ('portal.code', 'portal.low_balance'): gateways map it to their own templates. */
  template: string;
  text: string;
}

/** Delivers one message; throws when the message was not accepted (the dispatcher retries). */
export interface MessageSender {
  readonly name: string;
  send(msg: OutgoingMessage & { id: number }): Promise<void>;
}

/** Development: the message goes to the log, and the dev outbox shows it from the messages table. */
export function devSender(logger: Logger): MessageSender {
  return {
    name: 'dev',
    async send(msg) {
      logger.info({ messageId: msg.id, to: maskPhone(msg.to), template: msg.template, text: msg.text }, 'message (dev sender: not sent, see /dev/outbox)');
    },
  };
}

const WEBHOOK_TIMEOUT_MS = 10_000;

/**
 * A real gateway behind an HTTP adapter: the message is POSTed as JSON
 * {id, to, template, text}; any 2xx is delivery accepted. The id lets the adapter drop a
 * duplicate: a send whose answer was lost is sent again.
 */
export function webhookSender(url: string): MessageSender {
  return {
    name: 'webhook',
    async send(msg) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-message-id': String(msg.id) },
        body: JSON.stringify({ id: msg.id, to: msg.to, template: msg.template, text: msg.text }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`webhook answered HTTP ${res.status}`);
    },
  };
}

export function createMessageSender(settings: MessagingSettings, logger: Logger): MessageSender {
  if (settings.sender === 'webhook') {
    if (settings.webhookUrl === null) throw new Error('webhook sender without a URL');
    return webhookSender(settings.webhookUrl);
  }
  return devSender(logger);
}
