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
    serializers: {
      // Card numbers travel in URL paths (/cards/{cardNo}/…); logs show them masked (first 6, last 4).
      req: (req: { method?: string; url?: string; hostname?: string; ip?: string }) => ({
        method: req.method,
        url: req.url === undefined ? undefined : maskCardNumbersIn(req.url),
        host: req.hostname,
        remoteAddress: req.ip,
      }),
    },
  });
}

export function maskCardNumbersIn(text: string): string {
  return text.replace(/\b(\d{6})(\d{9})(\d{4})\b/g, (_m, head: string, _mid: string, tail: string) => `${head}*********${tail}`);
}
