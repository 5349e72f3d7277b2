import type { Config } from '../platform/index.js';

export type MessageSenderKind = 'dev' | 'webhook';

export interface MessagingSettings {
  readonly sender: MessageSenderKind;
  /** webhook only: where each message is POSTed as JSON. */
  readonly webhookUrl: string | null;
}

/** The configured sender (FUELCARD_MESSAGE_SENDER / FUELCARD_MESSAGE_WEBHOOK_URL, validated by platform config). */
export function messagingSettings(config: Config): MessagingSettings {
  return { sender: config.messageSender, webhookUrl: config.messageWebhookUrl };
}
