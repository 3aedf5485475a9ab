// The GraphQL client: POST to ./query (relative, so the UI works under any
// path prefix and on http and https alike). Errors are typed so pages can
// say what went wrong: the network, an HTTP status, a missing token, or the
// API's own errors.

export type ApiErrorKind = "network" | "http" | "auth" | "graphql";

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status = 0,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[] }[];
}

const tokenKey = "kafmesh.token";

/** token is the bearer token the user gave, if discovery asks for one. */
export function token(): string {
  try {
    return localStorage.getItem(tokenKey) ?? "";
  } catch {
    return "";
  }
}

/** setToken remembers (or, with "", forgets) the bearer token. */
export function setToken(value: string): void {
  try {
    if (value) localStorage.setItem(tokenKey, value);
    else localStorage.removeItem(tokenKey);
  } catch {
    // Storage disabled: the token lasts until the page reloads.
  }
  memoryToken = value;
}

let memoryToken = "";

function currentToken(): string {
  return token() || memoryToken;
}

/** endpoint is the URL of the API, next to the page. */
export function endpoint(): URL {
  return new URL("query", document.baseURI);
}

/** websocketEndpoint is the API's URL with ws: or wss: to match the page. */
export function websocketEndpoint(): string {
  const u = endpoint();
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}

/** authHeaders carries the token, when there is one. */
export function authPayload(): Record<string, string> {
  const t = currentToken();
  return t ? { Authorization: `Bearer ${t}` } : {};
}

/**
 * query runs a GraphQL query and returns its data. It throws ApiError when
 * the request fails or the API answers with errors (even with partial
 * data: pages show an error rather than half a page).
 */
export async function query<T>(document: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(endpoint(), {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...authPayload() },
      body: JSON.stringify({ query: document, variables }),
      signal,
      credentials: "same-origin",
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError("network", `discovery did not answer (${(err as Error).message})`);
  }
  if (res.status === 401) throw new ApiError("auth", "discovery asks for a bearer token", 401);
  let body: GraphQLResponse<T>;
  try {
    body = (await res.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError("http", `discovery answered HTTP ${res.status} ${res.statusText}`.trim(), res.status);
  }
  if (body.errors && body.errors.length > 0) {
    throw new ApiError("graphql", body.errors.map((e) => e.message).join("; "), res.status);
  }
  if (!res.ok || !body.data) {
    throw new ApiError("http", `discovery answered HTTP ${res.status} without data`, res.status);
  }
  return body.data;
}
