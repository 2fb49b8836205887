/**
 * Writes a `Response` to a client connection as an HTTP/1.1 message: for
 * the few responses the front makes or changes itself (a request its
 * screen refused, a response its rewriter changed). Everything else the
 * front forwards as the bytes it received.
 *
 * The framing is the writer's: `Content-Length` when the response declares
 * one, else chunked for an HTTP/1.1 client, else the end of the connection.
 * Hop-by-hop fields of the response (`Connection`, `Keep-Alive`,
 * `Transfer-Encoding`, ...) are dropped; they described another connection.
 *
 * @module
 */

import { writeAll } from "./_buffered_conn.ts";

/** How one response goes out. */
export interface ResponseTarget {
  /** The request was `HEAD`: only the head goes out. */
  headRequest: boolean;
  /** The client speaks HTTP/1.1, so a body of unknown length can be chunked. */
  http11: boolean;
  /** The connection may stay open after this response, if its framing allows. */
  keepAlive: boolean;
}

/**
 * How writing a response ended:
 * - `"keep-alive"`: the whole message went out and the connection may serve
 *   another request;
 * - `"close"`: the message went out, whole or cut short (the body failed,
 *   or did not match its `Content-Length`); the connection must close;
 * - `"unsent"`: the body failed before anything was written, so the caller
 *   may still answer with something else.
 */
export type WriteOutcome = "keep-alive" | "close" | "unsent";

/** Fields that describe one connection, never forwarded to another. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
]);

/** Reason phrases of the statuses a dev server meets; others go without one. */
const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * Whether a field describes one connection and must not be forwarded.
 *
 * @param lowerName The field name in lower case.
 * @returns `true` for `Connection`, `Keep-Alive`, `Transfer-Encoding` and
 *   the other hop-by-hop fields (RFC 9110 §7.6.1).
 */
export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

/**
 * The reason phrase for a status.
 *
 * @param status A status code, e.g. 404.
 * @returns Its phrase, e.g. `"Not Found"`, or `""` for a status not listed
 *   (a status-line may carry an empty reason, RFC 9112 §4).
 */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}

/**
 * A body's errors that only mean it could not be produced: the app closed
 * mid-response (the front's body stream fails with `UnexpectedEof`), or a
 * compressed body does not decode (`DecompressionStream` fails with a
 * `TypeError`). The message is then cut short, and the connection closed.
 */
function isBodyFailure(error: unknown): boolean {
  return error instanceof Deno.errors.UnexpectedEof || error instanceof TypeError;
}

function ignore(): void {}

/**
 * Writes `response` to `conn`.
 *
 * @param conn The client connection.
 * @param response The response; its body is read to the end or cancelled.
 * @param target The request's method and version, and whether the
 *   connection may persist.
 * @returns How it ended ({@linkcode WriteOutcome}).
 * @throws {Deno.errors.BrokenPipe} And the like, when the client goes away
 *   (the body is cancelled first); whatever else the body's stream throws,
 *   except {@linkcode isBodyFailure}'s errors.
 */
export async function writeResponse(
  conn: Deno.Conn,
  response: Response,
  target: ResponseTarget,
): Promise<WriteOutcome> {
  const status = response.status;
  const declared = declaredLength(response.headers);
  if (target.headRequest || status < 200 || status === 204 || status === 304) {
    await response.body?.cancel().catch(ignore);
    const persist = target.keepAlive;
    await writeAll(conn, encodeHead(response, declared, false, persist, target.http11));
    return persist ? "keep-alive" : "close";
  }
  const chunked = declared < 0 && target.http11;
  const persist = target.keepAlive && (declared >= 0 || chunked);
  const head = encodeHead(response, declared, chunked, persist, target.http11);
  const body = response.body;
  if (body === null) {
    await writeAll(conn, concat(head, chunked ? LAST_CHUNK : EMPTY));
    return persist && declared <= 0 ? "keep-alive" : "close";
  }
  return await writeBody(conn, body.getReader(), head, { declared, chunked, persist });
}

const EMPTY = new Uint8Array(0);
const CRLF = new Uint8Array([0x0d, 0x0a]);
const LAST_CHUNK = latin1("0\r\n\r\n");

/**
 * Streams the body after the head, which leaves with the first piece (an
 * in-memory page then takes one write).
 */
async function writeBody(
  conn: Deno.Conn,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  head: Uint8Array,
  framing: { declared: number; chunked: boolean; persist: boolean },
): Promise<WriteOutcome> {
  const { declared, chunked } = framing;
  let unsent: Uint8Array | null = head;
  let written = 0;
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        if (!isBodyFailure(error)) throw error;
        return unsent === null ? "close" : "unsent";
      }
      if (result.done) break;
      let piece = result.value;
      if (declared >= 0 && written + piece.length > declared) {
        piece = piece.subarray(0, declared - written); // more than it said: cut, then close
        await writeAll(conn, concat(unsent ?? EMPTY, piece));
        await reader.cancel().catch(ignore);
        return "close";
      }
      if (piece.length === 0) continue;
      written += piece.length;
      const framed = chunked ? frameChunk(piece) : piece;
      await writeAll(conn, unsent === null ? framed : concat(unsent, framed));
      unsent = null;
    }
  } catch (error) {
    await reader.cancel(error).catch(ignore);
    throw error;
  }
  await writeAll(conn, concat(unsent ?? EMPTY, chunked ? LAST_CHUNK : EMPTY));
  if (declared >= 0 && written !== declared) return "close"; // less than it said
  return framing.persist ? "keep-alive" : "close";
}

/** The Content-Length a response declares, or -1 (absent or not a plain number). */
function declaredLength(headers: Headers): number {
  const value = headers.get("content-length");
  if (value === null || !/^\d{1,15}$/.test(value)) return -1;
  return Number(value);
}

function encodeHead(
  response: Response,
  declared: number,
  chunked: boolean,
  persist: boolean,
  http11: boolean,
): Uint8Array {
  const reason = response.statusText || reasonPhrase(response.status);
  let head = `HTTP/1.1 ${response.status} ${reason}\r\n`;
  for (const [name, value] of response.headers) {
    if (name === "content-length" || HOP_BY_HOP.has(name)) continue;
    head += `${name}: ${value}\r\n`;
  }
  if (declared >= 0) head += `content-length: ${declared}\r\n`;
  if (chunked) head += "transfer-encoding: chunked\r\n";
  if (!persist) head += "connection: close\r\n";
  else if (!http11) head += "connection: keep-alive\r\n";
  return latin1(`${head}\r\n`);
}

function frameChunk(piece: Uint8Array): Uint8Array {
  const size = latin1(`${piece.length.toString(16)}\r\n`);
  const framed = new Uint8Array(size.length + piece.length + CRLF.length);
  framed.set(size);
  framed.set(piece, size.length);
  framed.set(CRLF, size.length + piece.length);
  return framed;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

/** One byte per character: header values are byte strings, not UTF-8. */
function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}
