import { Type } from 'typebox';
import type { App, Role, RouteInfo } from '../platform/index.js';
import { access } from '../platform/index.js';

export interface PermittedRoute {
  method: string;
  url: string;
}

/**
 * The staff routes a role may call, by URL then method: the same rule the access check applies
 * (and, for a session restricted to TOTP enrolment, the same restriction).
 */
export function permittedRoutes(routes: readonly RouteInfo[], role: Role, scope: 'full' | 'totp_enrolment' = 'full'): PermittedRoute[] {
  const seen = new Set<string>();
  const out: PermittedRoute[] = [];
  for (const r of routes) {
    if (r.access?.kind !== 'staff' || !r.access.roles.includes(role)) continue;
    if (scope === 'totp_enrolment' && !r.access.duringTotpEnrolment) continue;
    const key = `${r.method} ${r.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ method: r.method, url: r.url });
  }
  return out.sort((a, b) => (a.url === b.url ? a.method.localeCompare(b.method) : a.url < b.url ? -1 : 1));
}

/**
 * GET /api/v1/auth/permissions: what the caller's role may call, so the console shows a screen or
 * a button only when its route is listed. `routes` is the server's live list (createHttp's), read
 * on each request, so it includes routes registered after this one; register it with the others,
 * before the app is ready.
 */
export function permissionsRoute(app: App, routes: RouteInfo[]): void {
  app.get(
    '/api/v1/auth/permissions',
    {
      config: { access: access.anyStaffDuringEnrolment() },
      schema: {
        tags: ['auth'],
        summary: 'Routes my role may call / 当前角色可调用的接口',
        description: 'Staff routes (Fastify URL patterns such as /api/v1/cards/:cardNo/freeze) whose access rule includes the caller’s role.',
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({
            role: Type.String(),
            routes: Type.Array(Type.Object({ method: Type.String(), url: Type.String() })),
          }),
        },
      },
    },
    async (req) => ({ role: req.staff!.role, routes: permittedRoutes(routes, req.staff!.role, req.staff!.sessionScope ?? 'full') }),
  );
}
