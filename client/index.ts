// A small typed client for the mec-router HTTP API: one method per operation of the OpenAPI
// document (types generated into ./api.ts), plain `fetch`, no Node APIs (not even URL or
// URLSearchParams, which React Native implements only in part).
//
//   const router = createClient({ baseUrl: "https://router.example.com", apiKey: DEVICE_KEY });
//   const res = await router.route({ body: { task: { modality: "text" }, constraints: { latencySlaMs: 3000 } } });
//   if (res.ok) console.log(res.data.tier, res.data.target);
//   else console.warn(res.status, res.error.code, res.error.message);

import { type components, OPERATIONS, type operations } from "./api.ts";

export type { components, operations };
export type Schemas = components["schemas"];
export type OperationId = keyof operations;
export type ApiError = Schemas["Error"]["error"];

type Fields<K extends OperationId> = Omit<operations[K], "responses">;

/** What a call takes: the operation's `params`, `query` and `body`, and per-call extras. */
export type Input<K extends OperationId> = Fields<K> & {
  headers?: Record<string, string>;
  signal?: AbortSignal;
};

type Answers<K extends OperationId> = operations[K]["responses"];
type SuccessStatus = 200 | 201 | 202 | 204;
/** The body of the operation's success answers: `null` without one, or for a stream (read `response.body`). */
export type Data<K extends OperationId> = Answers<K>[Extract<keyof Answers<K>, SuccessStatus>];

export type Result<K extends OperationId> =
  | { ok: true; status: number; data: Data<K>; response: Response }
  | { ok: false; status: number; error: ApiError; response: Response };

export interface ClientOptions {
  /** The router's origin, e.g. `https://router.example.com` (no trailing path). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Another fetch (a test's, an instrumented one); default the global one. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  headers?: Record<string, string>;
}

type Method<K extends OperationId> =
  Partial<Fields<K>> extends Fields<K>
    ? (input?: Input<K>) => Promise<Result<K>>
    : (input: Input<K>) => Promise<Result<K>>;

export type Client = { [K in OperationId]: Method<K> } & {
  /** Any operation by id. */
  call<K extends OperationId>(id: K, input?: Input<K>): Promise<Result<K>>;
};

interface Loose {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function urlOf(baseUrl: string, template: string, input: Loose): string {
  const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = input.params?.[name];
    if (value === undefined) throw new TypeError(`missing path parameter "${name}"`);
    return encodeURIComponent(value);
  });
  const query = Object.entries(input.query ?? {})
    .filter((e): e is [string, string | number | boolean] => e[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join("&");
  return `${baseUrl.replace(/\/+$/, "")}${path}${query ? `?${query}` : ""}`;
}

async function readBody(response: Response): Promise<unknown> {
  const type = response.headers.get("content-type") ?? "";
  if (response.status === 204 || /^text\/event-stream/i.test(type)) return null;
  if (/json/i.test(type)) return response.json();
  return response.text();
}

export function createClient(options: ClientOptions): Client {
  const send = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));

  async function call<K extends OperationId>(id: K, input?: Input<K>): Promise<Result<K>> {
    const { method, path } = OPERATIONS[id];
    const loose: Loose = input ?? {};
    const headers: Record<string, string> = { accept: "application/json", ...options.headers };
    if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
    if (loose.body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, loose.headers);
    const response = await send(urlOf(options.baseUrl, path, loose), {
      method,
      headers,
      body: loose.body === undefined ? undefined : JSON.stringify(loose.body),
      signal: loose.signal,
    });
    const body = await readBody(response);
    if (response.ok) {
      return { ok: true, status: response.status, data: body as Data<K>, response };
    }
    const error = (body as { error?: ApiError } | null)?.error ?? {
      code: "http_error",
      message: `HTTP ${response.status}`,
    };
    return { ok: false, status: response.status, error, response };
  }

  const client = { call } as Client;
  const methods: Record<OperationId, unknown> = client;
  for (const id of Object.keys(OPERATIONS) as OperationId[]) {
    methods[id] = (input?: Input<typeof id>) => call(id, input);
  }
  return client;
}
