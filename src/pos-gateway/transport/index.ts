export { TransportError, type TransportErrorCode, type FrameError } from './errors.js';
export {
  FRAMING_LIMITS,
  FrameDecoder,
  checkMaxMessageSize,
  encodeFrame,
  type FrameDecodeResult,
  type FrameDecoderOptions,
  type FramingKind,
  type FramingMode,
} from './framing.js';
export {
  startIsoServer,
  type CloseReason,
  type IsoConnectionInfo,
  type IsoConnectionSnapshot,
  type IsoHandler,
  type IsoServer,
  type IsoServerCounters,
  type IsoServerEvent,
  type IsoServerOptions,
} from './server.js';
export { connectIsoClient, type IsoClient, type IsoClientOptions } from './client.js';
