import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { createApi, type ApiClient } from '../shared/api';

/** The signed-in member of staff, as GET /api/v1/auth/me answers. */
export interface StaffUser {
  id: number;
  username: string;
  role: string;
  stationId: number | null;
}

interface RouteRef {
  method: string;
  url: string;
}

interface Session {
  api: ApiClient;
  user: StaffUser | null;
  /** False until the saved session has been checked with the server. */
  ready: boolean;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
  /**
   * Whether the signed-in role may call a route, e.g. can('POST', '/api/v1/cards/:cardNo/freeze').
   * From GET /api/v1/auth/permissions, which the server builds from the same access rules it
   * enforces: a screen or button is shown only when its route is allowed, and the server
   * refuses it anyway if someone calls it.
   */
  can: (method: string, url: string) => boolean;
}

const TOKEN_KEY = 'fuelcard.admin.token';
const SessionContext = createContext<Session | null>(null);

function savedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(savedToken);
  const [user, setUser] = useState<StaffUser | null>(null);
  const [allowed, setAllowed] = useState<Set<string>>(new Set());
  const [ready, setReady] = useState(false);

  const forget = useCallback(() => {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Nothing saved.
    }
    setToken(null);
    setUser(null);
    setAllowed(new Set());
  }, []);

  const api = useMemo(() => createApi({ getToken: () => token, onUnauthenticated: forget }), [token, forget]);

  // Load who we are and what we may do whenever the token changes.
  useEffect(() => {
    if (!token) {
      setReady(true);
      return;
    }
    let live = true;
    setReady(false);
    Promise.all([api.request<StaffUser>('GET', '/api/v1/auth/me'), api.request<{ routes: RouteRef[] }>('GET', '/api/v1/auth/permissions')])
      .then(([me, perms]) => {
        if (!live) return;
        setUser(me);
        setAllowed(new Set(perms.routes.map((r) => `${r.method} ${r.url}`)));
      })
      .catch(() => live && forget())
      .finally(() => live && setReady(true));
    return () => {
      live = false;
    };
  }, [token, api, forget]);

  const signIn = useCallback(
    async (username: string, password: string) => {
      const res = await createApi({ getToken: () => null }).request<{ token: string }>('POST', '/api/v1/auth/login', { body: { username, password } });
      try {
        sessionStorage.setItem(TOKEN_KEY, res.token);
      } catch {
        // Kept in memory only.
      }
      setToken(res.token);
    },
    [],
  );

  const signOut = useCallback(async () => {
    try {
      await api.request('POST', '/api/v1/auth/logout');
    } catch {
      // Signing out locally is what matters.
    }
    forget();
  }, [api, forget]);

  const can = useCallback((method: string, url: string) => allowed.has(`${method.toUpperCase()} ${url}`), [allowed]);

  const value = useMemo(() => ({ api, user, ready, signIn, signOut, can }), [api, user, ready, signIn, signOut, can]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
