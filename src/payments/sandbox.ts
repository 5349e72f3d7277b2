import type { Logger } from 'pino';
import type { App } from '../platform/index.js';
import type { FetchedStatement, OnlineChannel } from './channel.js';

/** Options every sandbox provider takes. */
export interface SandboxOptions {
  /** This server's public base URL (resolved after listen). The sandbox lives at <publicUrl>/sandbox/<channel>. */
  publicUrl: () => string;
  logger: Logger;
}

/** What the sandbox sends, or what a test tampers with before sending. */
export interface SandboxNotification {
  headers: Record<string, string>;
  body: Buffer;
}

export interface SandboxDelivery {
  status: number;
  body: string;
}

export type NotifyMode = 'once' | 'twice_at_once' | 'never';

/**
 * A local stand-in for a provider (docs/payments.md, "Sandbox providers"): it serves the
 * provider's API under /sandbox/<channel>/ with the provider's wire format, signs its answers and
 * notifications with generated keys exactly as the real one does, keeps its trades in memory,
 * and plays the payer through a page (or through these controls, for tests).
 */
export interface SandboxProvider {
  readonly channel: OnlineChannel;
  /** Mount the provider's API and the payer's page under /sandbox/<channel>/. Called before listen. */
  register(app: App): void;
  /** Play the payer: pay an order the provider knows (created through the API). */
  pay(orderNo: string, opts?: { notify?: NotifyMode; amount?: number }): Promise<{ channelTxnId: string; deliveries: SandboxDelivery[] }>;
  /** Re-send the last notification sent for an order or refund, byte for byte (a replay). */
  replayLast(orderOrRefundNo: string): Promise<SandboxDelivery>;
  /**
   * A signed payment-success notification for an order, not sent. Options make it wrong on purpose:
   * another amount or merchant, an old timestamp, a signature by another key, a WeChat probe.
   */
  buildPaymentNotification(
    orderNo: string,
    opts?: { amount?: number; merchantId?: string; timestamp?: Date; forge?: 'wrong_key' | 'signtest' },
  ): SandboxNotification;
  /** POST a notification to the platform's notify URL of this channel. */
  deliver(n: SandboxNotification): Promise<SandboxDelivery>;
  /** A payment only the channel knows (it shows on the statement, the platform never heard of it). */
  addStrayPayment(input: { amount: number; orderNo?: string; paidAt?: Date }): { channelTxnId: string; orderNo: string };
  /** How refunds complete: 'auto' (accepted as processing, then succeed and notify shortly after) or 'manual' (wait for settleRefund). */
  refundMode: 'auto' | 'manual';
  /** Complete a pending refund. */
  settleRefund(refundNo: string, opts?: { outcome?: 'succeeded' | 'failed'; notify?: NotifyMode }): Promise<{ deliveries: SandboxDelivery[] }>;
  /** The statement file of a business day (YYYY-MM-DD), exactly as the API would hand it out. */
  statementFile(billDate: string): FetchedStatement;
}
