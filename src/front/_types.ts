/**
 * The types the front's modules share: where a request goes, the access
 * record of an exchange, the response rewriter, and the request head. They
 * live here, below both `front.ts` and `_client_session.ts`, so that
 * neither imports the other for a type; `front.ts` exports them.
 *
 * @module
 */

export type { RequestHead } from "./http1.ts";
import type { RequestHead } from "./http1.ts";

/** Where a backend listens: a TCP port, or a Unix socket. */
export type BackendAddress = TcpBackendAddress | UnixBackendAddress;

/** A backend on a TCP port. */
export interface TcpBackendAddress {
  /** Host name or IP address, e.g. `"127.0.0.1"`. */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** A backend on a Unix socket (not on Windows). */
export interface UnixBackendAddress {
  /** The socket file's path. */
  path: string;
}

/** What to do with one request, decided per request by the supervisor. */
export type Route =
  | { kind: "forward"; backend: BackendAddress }
  | { kind: "hold" } // no backend right now: wait for changed()
  | { kind: "unavailable"; message: string }; // none will come: 503 with this text at once

/** One completed exchange, for the access log. */
export interface AccessEntry {
  /** The client's address (host name part). */
  client: string;
  /** The request method, or `"-"` when the request line was unreadable. */
  method: string;
  /** The request-target, or `"-"` when the request line was unreadable. */
  target: string;
  /** The status of the final response. */
  status: number;
  /** Milliseconds from the request head to the end of the response, to 0.1. */
  ms: number;
}

/**
 * Rewrites some responses on their way to the client. The front asks two
 * cheap questions before it takes a response apart, so that every other
 * response keeps being forwarded as its bytes.
 */
export interface ResponseRewriter {
  /**
   * Whether the response to this request may be rewritten. Asked for every
   * request (after `FrontOptions.screen`), before it is
   * forwarded: keep it cheap. When it says yes, the front keeps a copy of
   * the request head for the `Request` it may build.
   *
   * @param head The request head as the front parsed it.
   * @returns `true` to have {@linkcode ResponseRewriter.wantsResponse}
   *   asked about the response.
   */
  wantsRequest(head: RequestHead): boolean;
  /**
   * Whether this response should go through
   * {@linkcode ResponseRewriter.rewrite}. Asked only for final responses
   * with content to rewrite (status 200 to 599 but not 204, 205 or 304;
   * not a successful `CONNECT`) to requests that
   * {@linkcode ResponseRewriter.wantsRequest} chose.
   *
   * @param status The status code.
   * @param headers The response's fields without the hop-by-hop ones
   *   (`Connection`, `Keep-Alive`, `Transfer-Encoding`, ...).
   * @returns `true` to rewrite it.
   */
  wantsResponse(status: number, headers: Headers): boolean;
  /**
   * Rewrites a response. The front writes what it returns as HTTP/1.1:
   * with `Content-Length` when the returned response has one, else chunked
   * (or, to an HTTP/1.0 client, ended by closing the connection), and
   * keeps the client connection open when the request allows.
   *
   * @param request The request: method, URL (from the scheme, `Host` and
   *   target), every header field; no body (it went to the backend).
   * @param response The backend's response: status, reason, headers
   *   without hop-by-hop fields, and its content (chunked framing undone,
   *   `Content-Encoding` kept) as a stream read from the backend as it is
   *   consumed. Leaving it unread costs the backend connection.
   * @returns The response to send, maybe `response` itself.
   */
  rewrite(request: Request, response: Response): Response | Promise<Response>;
}
