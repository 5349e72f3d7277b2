import { createHash } from 'node:crypto';

/** A version of an answer's content: equal bodies, equal tags (strong ETag, 27 base64url characters). */
export const etagOf = (body: unknown): string => `"${createHash('sha256').update(JSON.stringify(body)).digest('base64url').slice(0, 27)}"`;

/** Whether an If-None-Match header names this tag (or `*`); weak tags compare by their opaque part. */
export const etagMatches = (header: string | undefined, etag: string): boolean =>
  header !== undefined && header.split(',').some((t) => t.trim() === '*' || t.trim().replace(/^W\//, '') === etag);
