import { createContext, useCallback, useContext, useMemo, useRef, useState, type ReactNode } from 'react';
import { createApi, type ApiClient } from '../shared/api';

/** The signed-in cardholder as the portal API returns them: name and phone come masked. */
export interface Customer {
  customerId: number;
  name: string;
  phone: string;
}

/** POST /api/v1/portal/auth/login and …/auth/password answer with this. */
export interface SignInAnswer {
  token: string;
  expiresAt: string;
  customer: Customer;
}

interface Session {
  api: ApiClient;
  signedIn: boolean;
  /** True after the server refused the saved token (expired or revoked), until the next sign-in. */
  expired: boolean;
  signIn: (answer: SignInAnswer) => void;
  signOut: () => Promise<void>;
}

// localStorage rather than sessionStorage: a phone stays signed in across browser restarts, as
// cardholders expect of a mini-program; the server's session lifetime still bounds it.
const TOKEN_KEY = 'fuelcard.portal.token';

function savedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function saveToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage blocked: the session lasts as long as the page.
  }
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(savedToken);
  const [expired, setExpired] = useState(false);
  // The client reads the token through a ref so that one client serves the whole session and
  // requests already in flight never carry a token that was just dropped.
  const tokenRef = useRef(token);

  const set = useCallback((next: string | null) => {
    tokenRef.current = next;
    saveToken(next);
    setToken(next);
  }, []);

  const api = useMemo(
    () =>
      createApi({
        getToken: () => tokenRef.current,
        onUnauthenticated: () => {
          if (!tokenRef.current) return;
          set(null);
          setExpired(true);
        },
      }),
    [set],
  );

  const signIn = useCallback(
    (answer: SignInAnswer) => {
      setExpired(false);
      set(answer.token);
    },
    [set],
  );

  const signOut = useCallback(async () => {
    try {
      await api.request('POST', '/api/v1/portal/auth/logout');
    } catch {
      // Signed out locally either way; the server session expires on its own.
    }
    set(null);
    setExpired(false);
  }, [api, set]);

  const value = useMemo(() => ({ api, signedIn: token !== null, expired, signIn, signOut }), [api, token, expired, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
