import pino, { type Logger } from 'pino';

/**
 * JSON logs with request ids (Fastify adds reqId). Secrets never reach a log line:
 * PINs, passwords, tokens, terminal secrets and signatures are redacted by path.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-signature"]',
        '*.pin',
        '*.newPin',
        '*.oldPin',
        '*.password',
        '*.secret',
        '*.token',
      ],
      censor: '[redacted]',
    },
  });
}
