import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { createApi, type ApiClient } from '../shared/api';

/** The signed-in member of staff, as GET /api/v1/auth/me answers. */
export interface StaffUser {
  id: number;
  username: string;
  role: string;
  stationId: number | null;
  /** The enterprise customer of an enterprise or department administrator. */
  customerId?: number | null;
  /** 'totp_enrolment': signed in with the password only; the session may only enrol TOTP. */
  sessionScope?: 'full' | 'totp_enrolment';
}

/** What the password step answered: signed in, or a TOTP code is still owed for this challenge. */
export type SignInResult = { totpRequired: false } | { totpRequired: true; challenge: string };

interface RouteRef {
  method: string;
  url: string;
}

interface Session {
  api: ApiClient;
  user: StaffUser | null;
  /** False until the saved session has been checked with the server. */
  ready: boolean;
  signIn: (username: string, password: string) => Promise<SignInResult>;
  /** The second step for staff with TOTP: the challenge from signIn and a code (or a recovery code). */
  signInWithTotp: (challenge: string, code: string) => Promise<void>;
  /**
   * Set while signed in with a session restricted to enrolling TOTP (an administrator without a
   * second factor): `user` stays null, so the console shows the sign-in screen, which offers the
   * enrolment. After enrolment, call refresh() and the session becomes a full one.
   */
  enrolment: StaffUser | null;
  refresh: () => void;
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
  const [enrolment, setEnrolment] = useState<StaffUser | null>(null);
  const [generation, setGeneration] = useState(0);
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
    setEnrolment(null);
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
        const restricted = me.sessionScope === 'totp_enrolment';
        setUser(restricted ? null : me);
        setEnrolment(restricted ? me : null);
        setAllowed(new Set(perms.routes.map((r) => `${r.method} ${r.url}`)));
      })
      .catch(() => live && forget())
      .finally(() => live && setReady(true));
    return () => {
      live = false;
    };
  }, [token, api, forget, generation]);

  const keep = useCallback((t: string) => {
    try {
      sessionStorage.setItem(TOKEN_KEY, t);
    } catch {
      // Kept in memory only.
    }
    setToken(t);
  }, []);

  const signIn = useCallback(
    async (username: string, password: string): Promise<SignInResult> => {
      const res = await createApi({ getToken: () => null }).request<{ token: string } | { totpRequired: true; challenge: string }>('POST', '/api/v1/auth/login', {
        body: { username, password },
      });
      if ('totpRequired' in res) return { totpRequired: true, challenge: res.challenge };
      keep(res.token);
      return { totpRequired: false };
    },
    [keep],
  );

  const signInWithTotp = useCallback(
    async (challenge: string, code: string) => {
      const res = await createApi({ getToken: () => null }).request<{ token: string }>('POST', '/api/v1/auth/login/totp', { body: { challenge, code } });
      keep(res.token);
    },
    [keep],
  );

  const refresh = useCallback(() => setGeneration((g) => g + 1), []);

  const signOut = useCallback(async () => {
    try {
      await api.request('POST', '/api/v1/auth/logout');
    } catch {
      // Signing out locally is what matters.
    }
    forget();
  }, [api, forget]);

  const can = useCallback((method: string, url: string) => allowed.has(`${method.toUpperCase()} ${url}`), [allowed]);

  const value = useMemo(
    () => ({ api, user, ready, signIn, signInWithTotp, enrolment, refresh, signOut, can }),
    [api, user, ready, signIn, signInWithTotp, enrolment, refresh, signOut, can],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
