import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Browser hardening headers on every answer. Routes that know better set their own first (the
 * web front ends set their CSP and Referrer-Policy, hashed assets their Cache-Control); these fill
 * in whatever is missing, so an answer nobody thought about (an error, a 404, a sandbox page, a
 * new route) is never left bare.
 */

/** API answers are data, never documents: nothing may load from them or frame them. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * HTML that does not bring its own policy: the API page (/docs, swagger-ui: same-origin scripts,
 * inline style attributes, data: images), the sandbox payer pages and the dev outbox (inline
 * <style>, forms posting to themselves). No inline script anywhere, so none is allowed.
 */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'";

/** One year, the preload threshold; subdomains are the operator's business, so not included. */
export const HSTS = 'max-age=31536000';

const isHtml = (reply: FastifyReply) => /^\s*text\/html/i.test(String(reply.getHeader('content-type') ?? ''));

/**
 * The onSend hook. Strict-Transport-Security only on HTTPS: request.protocol is https for a TLS
 * socket, or from X-Forwarded-Proto when the request came through a configured proxy
 * (FUELCARD_TRUST_PROXY) — a browser told to insist on HTTPS by a plain-HTTP server would be
 * locked out of a development install.
 */
export function applySecurityHeaders(request: FastifyRequest, reply: FastifyReply): void {
  const setDefault = (name: string, value: string) => {
    if (!reply.hasHeader(name)) reply.header(name, value);
  };
  setDefault('x-content-type-options', 'nosniff');
  setDefault('x-frame-options', 'DENY');
  // Sandbox pay pages and sign-in links carry tokens in their URLs: never leak them onward.
  setDefault('referrer-policy', 'no-referrer');
  const html = isHtml(reply);
  setDefault('content-security-policy', html ? PAGE_CSP : API_CSP);
  if (html) setDefault('cross-origin-opener-policy', 'same-origin');
  // Personal data (names, phones, balances, statements) must not linger in shared or proxy caches;
  // answers that are safe to keep (hashed web assets, swagger-ui files) say so themselves.
  setDefault('cache-control', 'no-store');
  if (request.protocol === 'https') setDefault('strict-transport-security', HSTS);
}
