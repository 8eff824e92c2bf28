// The dashboard's only way out: same-origin calls to the worker's JSON API, authenticated by
// the HttpOnly session cookie (sent by the browser; this code never sees it). The operator key
// is read from the login form, sent once in a POST body, and dropped.

/** The session ended (expired, logged out elsewhere, key revoked): log in again. */
export class SessionEnded extends Error {}

/** The API answered an error (`{ error: { code, message } }`). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export interface SessionView {
  keyId: string;
  role: string;
  /** `platform` for the platform's own keys. */
  tenantId: string;
  /** The platform's key: every view; a tenant's operator sees its own decisions and the fleet. */
  platform: boolean;
  expiresAt: number;
}

/** State-changing calls made with a session carry this header (worker/session.ts). */
const CSRF = { "x-mec-csrf": "1" } as const;

async function errorOf(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // Not the API's JSON shape: keep the status.
  }
  return new ApiError(res.status, code, message);
}

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, {
    ...init,
    credentials: "same-origin",
    cache: "no-store",
    headers: { accept: "application/json", ...init.headers },
  });
  if (res.status === 401) {
    await res.body?.cancel();
    throw new SessionEnded("the session has ended; log in again");
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

type Params = Record<string, string | number | undefined>;

/** GET `path` with query `params` (undefined ones left out) as JSON of type T. */
export async function getJson<T>(
  path: string,
  params: Params = {},
  signal?: AbortSignal,
): Promise<T> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") query.set(name, String(value));
  }
  const qs = query.toString();
  const res = await call(qs ? `${path}?${qs}` : path, signal ? { signal } : {});
  return (await res.json()) as T;
}

/** The current session, or null when there is none. */
export async function currentSession(): Promise<SessionView | null> {
  const res = await call("/v1/session");
  const body = (await res.json()) as { session: SessionView | null };
  return body.session;
}

/** Exchanges an operator key for the session cookie. */
export async function login(key: string): Promise<SessionView> {
  const res = await fetch("/v1/session", {
    method: "POST",
    credentials: "same-origin",
    cache: "no-store",
    headers: { "content-type": "application/json", accept: "application/json", ...CSRF },
    body: JSON.stringify({ key }),
  });
  if (!res.ok) throw await errorOf(res);
  return ((await res.json()) as { session: SessionView }).session;
}

export async function logout(): Promise<void> {
  const res = await call("/v1/session", { method: "DELETE", headers: CSRF });
  await res.body?.cancel();
}
