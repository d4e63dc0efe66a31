// SPEC §2 error bodies → something forms and pages can show.
import type { components } from "./schema";

type ErrorBody = components["schemas"]["ErrorBody"];

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string>;
  readonly body: unknown;

  constructor(status: number, body: unknown) {
    const parsed = asErrorBody(body);
    super(parsed?.error ?? `request failed (HTTP ${status})`);
    this.name = "ApiError";
    this.status = status;
    this.code = parsed?.code ?? "unknown";
    this.fields = fieldErrors(parsed);
    this.body = body;
  }
}

function asErrorBody(body: unknown): ErrorBody | null {
  if (body && typeof body === "object" && "error" in body && typeof body.error === "string") {
    return body as ErrorBody;
  }
  return null;
}

/** `fields: [{field, message}]` → `{field: message}`; nested names ("credentials.x") keep their path,
 *  and the first message per field wins. */
export function fieldErrors(body: ErrorBody | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of body?.fields ?? []) {
    const name = item.field.replace(/^body\./, "");
    if (!(name in out)) out[name] = item.message;
  }
  return out;
}

/** Messages for fields the form does not show, so nothing the server said is lost. */
export function unmatchedFieldErrors(error: ApiError, shown: readonly string[]): string[] {
  return Object.entries(error.fields)
    .filter(([field]) => !shown.includes(field))
    .map(([field, message]) => `${field}: ${message}`);
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** openapi-fetch result → data, or throw ApiError (TanStack Query then shows it). */
export async function unwrap<T>(promise: Promise<FetchResult<T>>): Promise<T> {
  const { data, error, response } = await promise;
  if (!response.ok) throw new ApiError(response.status, error);
  return data as T;
}
