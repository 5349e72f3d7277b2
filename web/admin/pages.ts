import type { ReactNode } from 'react';

/**
 * A console screen: where it lives, its menu entry and the route it needs. The shell shows the
 * menu entry and mounts the screen only when the signed-in role may call `requires`; the server
 * refuses the calls anyway.
 */
export interface AdminPage {
  /** Path under /admin, e.g. "sales" or "stations/:id" (no leading slash). */
  path: string;
  /** Menu entry (omit for detail screens reached by links). */
  menu?: { key: string; zh: string; en: string; icon?: ReactNode; order: number; /** Shown after the label, e.g. a count of open alerts. */ badge?: ReactNode };
  requires: { method: string; url: string };
  element: ReactNode;
}
