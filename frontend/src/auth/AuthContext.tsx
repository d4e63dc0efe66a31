import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useNavigate } from "react-router-dom";
import { api, session, type Me } from "../api/client";
import { unwrap } from "../api/errors";

interface AuthState {
  me: Me | null;
  loading: boolean;
  signIn(token: string): void;
  signOut(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

/** Where to go back to after signing in: the page the user was on. */
export function loginPath(next: string): string {
  return next && next !== "/" && !next.startsWith("/login") ? `/login?next=${encodeURIComponent(next)}` : "/login";
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [token, setToken] = useState<string | null>(() => session.token());

  const meQuery = useQuery({
    queryKey: ["me", token],
    queryFn: () => unwrap(api.GET("/api/auth/me")),
    enabled: token !== null,
    retry: false,
    staleTime: 60_000,
  });

  useEffect(() => {
    session.onUnauthorized(() => {
      setToken(null);
      queryClient.clear();
      const here = window.location.pathname + window.location.search;
      if (!window.location.pathname.startsWith("/login")) navigate(loginPath(here), { replace: true });
    });
    return () => session.onUnauthorized(null);
  }, [navigate, queryClient]);

  const signIn = useCallback((newToken: string) => {
    session.set(newToken);
    setToken(newToken);
  }, []);

  const signOut = useCallback(async () => {
    try {
      await api.POST("/api/auth/logout");
    } finally {
      session.clear();
      setToken(null);
      queryClient.clear();
      navigate("/login", { replace: true });
    }
  }, [navigate, queryClient]);

  const value = useMemo<AuthState>(
    () => ({
      me: token ? (meQuery.data ?? null) : null,
      loading: token !== null && meQuery.isPending,
      signIn,
      signOut,
    }),
    [token, meQuery.data, meQuery.isPending, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}

type Resource = Me["permissions"][number]["resource"];
type Action = Me["permissions"][number]["action"];

/** Whether the user may do `action` on `resource` somewhere (admins may do everything). */
export function can(me: Me | null, resource: Resource, action: Action): boolean {
  if (!me) return false;
  if (me.role === "admin") return true;
  return me.permissions.some((p) => p.resource === resource && p.action === action);
}
