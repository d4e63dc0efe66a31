// The typed API client: generated types (schema.d.ts, from the server's OpenAPI document)
// plus openapi-fetch. Every request carries the session token; a 401 ends the session.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Account = Schemas["AccountRead"];
export type Provider = Schemas["Provider"];
export type AwsAuthMode = Schemas["AwsAuthMode"];
export type AzureAuthMode = Schemas["AzureAuthMode"];
export type GcpAuthMode = Schemas["GcpAuthMode"];
export type Me = Schemas["MeOut"];
export type Permission = Schemas["Permission"];

const TOKEN_KEY = "cudly.token";

let unauthorizedHandler: (() => void) | null = null;

export const session = {
  token(): string | null {
    return window.localStorage.getItem(TOKEN_KEY);
  },
  set(token: string): void {
    window.localStorage.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    window.localStorage.removeItem(TOKEN_KEY);
  },
  /** A request answered 401: forget the token and tell the app (it opens the sign-in page). */
  expired(): void {
    session.clear();
    unauthorizedHandler?.();
  },
  /** Called when any request other than login answers 401 (expired or revoked token). */
  onUnauthorized(handler: (() => void) | null): void {
    unauthorizedHandler = handler;
  },
};

const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  },
  onResponse({ request, response }) {
    const path = new URL(request.url).pathname;
    if (response.status === 401 && path !== "/api/auth/login" && path !== "/api/auth/setup-admin") session.expired();
    return response;
  },
};

// fetch is looked up per call, so tests can stub it.
export const api = createClient<paths>({ baseUrl: window.location.origin, fetch: (request) => globalThis.fetch(request) });
api.use(auth);
