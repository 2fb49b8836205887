/**
 * `--cors ORIGIN`: lets pages from other local origins (a front-end dev
 * server on another port) load a static directory's files. Only the
 * origins named get `Access-Control-Allow-Origin`, each its own; `*` only
 * when `*` itself is named. Off by default.
 *
 * @module
 */

import type { Handler } from "../options.ts";

/** What a static directory answers cross-origin. */
const ALLOWED_METHODS = "GET, HEAD";
/** Response headers a page may read besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = "Accept-Ranges, Content-Range, ETag";
/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * Wraps a handler so that the named origins may use its responses.
 *
 * @param handler The static directory's handler.
 * @param origins Origins as `--cors` checked them (`http://localhost:5173`),
 * or `*`; empty: the handler itself, unchanged.
 * @returns The handler with CORS headers for those origins, and answers to
 * their preflight requests (`OPTIONS` with `Access-Control-Request-Method`).
 *
 * @example Allow one front-end dev server
 * ```ts
 * import { withCors } from "./cors.ts";
 *
 * const handler = withCors(() => new Response("data"), ["http://localhost:5173"]);
 * const info: Deno.ServeHandlerInfo<Deno.NetAddr> = {
 *   remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 },
 *   completed: Promise.resolve(),
 * };
 * const ask = (origin: string) =>
 *   handler(new Request("http://127.0.0.1:8000/data.json", { headers: { origin } }), info);
 * const allowed = await ask("http://localhost:5173");
 * await allowed.body?.cancel();
 * if (allowed.headers.get("access-control-allow-origin") !== "http://localhost:5173") {
 *   throw new Error();
 * }
 * const other = await ask("http://evil.test");
 * await other.body?.cancel();
 * if (other.headers.has("access-control-allow-origin")) throw new Error();
 * ```
 */
export function withCors(handler: Handler, origins: readonly string[]): Handler {
  if (origins.length === 0) return handler;
  const any = origins.includes("*");
  return async (request, info) => {
    const origin = request.headers.get("origin");
    const allowed = origin !== null && (any || origins.includes(normalizedOrigin(origin)));
    if (allowed && isPreflight(request)) return preflight(request, any ? "*" : origin);
    const response = await handler(request, info);
    const headers = new Headers(response.headers);
    if (!any) headers.append("vary", "Origin");
    if (allowed) {
      headers.set("access-control-allow-origin", any ? "*" : origin);
      headers.set("access-control-expose-headers", EXPOSED_HEADERS);
    }
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  };
}

function isPreflight(request: Request): boolean {
  return request.method === "OPTIONS" && request.headers.has("access-control-request-method");
}

function preflight(request: Request, allowOrigin: string): Response {
  const headers = new Headers({
    "access-control-allow-origin": allowOrigin,
    "access-control-allow-methods": ALLOWED_METHODS,
    "access-control-max-age": String(PREFLIGHT_MAX_AGE_S),
  });
  // The origin is trusted by name; the headers it asks for (Range, If-None-Match) are its own.
  const asked = request.headers.get("access-control-request-headers");
  if (asked) headers.set("access-control-allow-headers", asked);
  if (allowOrigin !== "*") headers.set("vary", "Origin");
  return new Response(null, { status: 204, headers });
}

/** An `Origin` header as `--cors` values are written: lower case, no default port. */
function normalizedOrigin(origin: string): string {
  return URL.canParse(origin) ? new URL(origin).origin : origin;
}
