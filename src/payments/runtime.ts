import type { Logger } from 'pino';
import { ConfigError, type App, type Config } from '../platform/index.js';
import type { ChannelCode, ChannelOptions, OnlineChannel, PaymentChannel } from './channel.js';
import { loadChannelCredentials, type ChannelCredentials } from './payments.config.js';
import { paymentsError } from './payments.errors.js';
import type { SandboxOptions, SandboxProvider } from './sandbox.js';
import { createWechatChannel, createWechatSandbox } from './channels/wechat/index.js';
import { createAlipayChannel, createAlipaySandbox } from './channels/alipay/index.js';
import { createUnionPayChannel, createUnionPaySandbox } from './channels/unionpay/index.js';
import { createBankTransferChannel, createCashChannel } from './channels/offline/index.js';

/**
 * The payment channels of this server: real merchant accounts where credentials are configured,
 * the local sandbox provider where they are not (docs/payments.md).
 */
export interface PaymentsRuntime {
  readonly credentials: ChannelCredentials;
  readonly channels: ReadonlyMap<ChannelCode, PaymentChannel>;
  /** The sandbox provider of each channel that runs on one. */
  readonly sandboxes: Partial<Record<OnlineChannel, SandboxProvider>>;
  /** The channel, or PAYMENT_CHANNEL_DISABLED. */
  channel(code: ChannelCode): PaymentChannel;
  publicUrl(): string;
  notifyUrl(channel: ChannelCode): string;
  /**
   * The fee rate agreed with the channel, in parts per million of the amount (0.6 % = 6000), which
   * reconciliation checks each statement line's fee against (FEE_DIFFERS); null: not checked.
   */
  feeRatePpm(channel: ChannelCode): number | null;
}

/** What every sandbox provider charges: 0.6 % (WeChat's and Alipay's standard rate for most merchants). */
export const SANDBOX_FEE_RATE_PPM = 6000;

/** FUELCARD_<CHANNEL>_FEE_RATE_PPM: the merchant contract's rate; a sandboxed channel defaults to the sandbox's. */
function feeRatesOf(env: Readonly<Record<string, string>>, sandboxed: readonly string[]): Map<ChannelCode, number> {
  const out = new Map<ChannelCode, number>();
  for (const [channel, prefix] of [['wechat', 'WECHAT'], ['alipay', 'ALIPAY'], ['unionpay', 'UNIONPAY'], ['bank_transfer', 'BANK']] as const) {
    const name = `FUELCARD_${prefix}_FEE_RATE_PPM`;
    const raw = env[name];
    if (raw !== undefined && raw !== '') {
      if (!/^\d{1,6}$/.test(raw.trim()) || Number(raw) > 100_000) throw new ConfigError(name, 'expected parts per million of the amount, 0 to 100000 (0.6 % = 6000)');
      out.set(channel, Number(raw));
    } else if (sandboxed.includes(channel)) out.set(channel, SANDBOX_FEE_RATE_PPM);
  }
  return out;
}

const PROVIDER_TIMEOUT_MS = 10_000;

export function createPaymentsRuntime(input: { config: Config; app: App; logger: Logger }): PaymentsRuntime {
  const credentials = loadChannelCredentials(input.config.channelEnv);
  const publicUrl = (): string => {
    if (input.config.publicUrl) return input.config.publicUrl;
    const addr = input.app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : input.config.port;
    return `http://127.0.0.1:${port}`;
  };
  const sandboxOptions: SandboxOptions = { publicUrl, logger: input.logger };
  const opts = (sandbox: boolean): ChannelOptions => ({ sandbox, timeoutMs: PROVIDER_TIMEOUT_MS, logger: input.logger });
  const sandboxes: Partial<Record<OnlineChannel, SandboxProvider>> = {};
  const channels = new Map<ChannelCode, PaymentChannel>();

  channels.set('cash', createCashChannel());
  channels.set('bank_transfer', createBankTransferChannel(credentials.bank));
  // A channel without merchant credentials runs on its sandbox provider only where sandboxes are allowed
  // (development keys, or FUELCARD_PAYMENTS_SANDBOX=on): the sandbox's payer page pays any order for free.
  const sandboxAllowed = input.config.paymentsSandbox;
  if (credentials.wechat) channels.set('wechat', createWechatChannel(credentials.wechat, opts(false)));
  else if (sandboxAllowed) {
    const sb = createWechatSandbox(sandboxOptions);
    sandboxes.wechat = sb;
    channels.set('wechat', createWechatChannel(sb.merchant, opts(true)));
  }
  if (credentials.alipay) channels.set('alipay', createAlipayChannel(credentials.alipay, opts(false)));
  else if (sandboxAllowed) {
    const sb = createAlipaySandbox(sandboxOptions);
    sandboxes.alipay = sb;
    channels.set('alipay', createAlipayChannel(sb.merchant, opts(true)));
  }
  if (credentials.unionpay) channels.set('unionpay', createUnionPayChannel(credentials.unionpay, opts(false)));
  else if (sandboxAllowed) {
    const sb = createUnionPaySandbox(sandboxOptions);
    sandboxes.unionpay = sb;
    channels.set('unionpay', createUnionPayChannel(sb.merchant, opts(true)));
  }
  const sandboxed = Object.keys(sandboxes);
  if (sandboxed.length > 0 && !input.config.generatedSecrets) {
    input.logger.warn({ channels: sandboxed }, 'payment channels run on their sandbox providers (FUELCARD_PAYMENTS_SANDBOX=on): anyone can pay on their pages for free — never in production');
  }
  const disabled = (['wechat', 'alipay', 'unionpay'] as const).filter((c) => !channels.has(c));
  if (disabled.length > 0) input.logger.info({ channels: disabled }, 'payment channels without merchant credentials are disabled');
  for (const sb of Object.values(sandboxes)) sb.register(input.app);

  const feeRates = feeRatesOf(input.config.channelEnv, sandboxed);
  return {
    credentials,
    channels,
    sandboxes,
    channel(code) {
      const c = channels.get(code);
      if (!c) throw paymentsError('PAYMENT_CHANNEL_DISABLED', { channel: code });
      return c;
    },
    publicUrl,
    notifyUrl: (channel) => `${publicUrl()}/api/v1/payments/notify/${channel}`,
    feeRatePpm: (channel) => feeRates.get(channel) ?? null,
  };
}

export type { ChannelOptions, SandboxOptions };
