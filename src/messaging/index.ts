export { messagingRoutes } from './messaging.routes.js';
export {
  enqueueMessage,
  kickMessageDispatcher,
  startMessageDispatcher,
  deliverPendingMessages,
  pruneMessages,
  listMessages,
  retryDelayMs,
  MAX_SEND_ATTEMPTS,
  type MessagingDeps,
  type DeliveryRound,
  type StoredMessage,
} from './messaging.service.js';
export { createMessageSender, devSender, webhookSender, type MessageSender, type OutgoingMessage } from './messaging.senders.js';
export { messagingSettings, type MessagingSettings, type MessageSenderKind } from './messaging.settings.js';
