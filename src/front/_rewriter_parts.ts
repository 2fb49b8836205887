/**
 * What a response rewriter gets of a forwarded exchange: a `Request` made
 * of the kept request head, and a `Response` made of the backend's head
 * whose body streams from the backend connection as it is read. Only the
 * few responses a rewriter wants are taken apart like this; every other
 * response is forwarded as its bytes.
 *
 * @module
 */

import type { BufferedConn } from "./_buffered_conn.ts";
import { isHopByHop } from "./_response_writer.ts";
import { BodyFramer, type BodyKind, parseFieldLines, type RequestHead } from "./http1.ts";

/**
 * Final statuses whose responses a rewriter is offered: 200 to 599 except
 * those that never have content (204, 205, 304), which a `Response` with a
 * body cannot even carry.
 *
 * @param status The final status.
 * @returns `true` when the response may be offered.
 */
export function mayRewrite(status: number): boolean {
  return status >= 200 && status <= 599 && status !== 204 && status !== 205 && status !== 304;
}

/**
 * The reason phrase and the end-to-end fields of a response head.
 *
 * @param reader The backend connection, its head at `reader.start`.
 * @param headEnd Where the head ends in `reader.buf`.
 * @returns The reason phrase and the fields without the hop-by-hop ones.
 */
export function responseFields(
  reader: BufferedConn,
  headEnd: number,
): { reason: string; headers: Headers } {
  const { firstLine, fields } = parseFieldLines(reader.buf, reader.start, headEnd);
  const headers = new Headers();
  for (const [name, value] of fields) {
    if (!isHopByHop(name.toLowerCase())) headers.append(name, value);
  }
  return { reason: firstLine.slice("HTTP/1.1 200 ".length), headers };
}

/**
 * The request a rewriter gets: the method, a URL from the scheme, `Host`
 * and target (an absolute-form target as it is), and every header field.
 * No body: the request's body went to the backend.
 *
 * @param head The request head as parsed.
 * @param headBytes A copy of the request head's bytes.
 * @param scheme The scheme clients use.
 * @returns The request, or `null` when no URL can be made of it (no
 *   `Host`, or one that does not parse) or the method is one a `Request`
 *   refuses (`CONNECT`, `TRACE`).
 */
export function rewriterRequest(
  head: RequestHead,
  headBytes: Uint8Array,
  scheme: "http" | "https",
): Request | null {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(head.target);
  if (!absolute && (head.host === null || !head.target.startsWith("/"))) return null;
  const url = URL.parse(absolute ? head.target : `${scheme}://${head.host}${head.target}`);
  if (url === null) return null;
  const headers = new Headers();
  for (const [name, value] of parseFieldLines(headBytes, 0, headBytes.length).fields) {
    headers.append(name, value);
  }
  try {
    return new Request(url, { method: head.method, headers });
  } catch (error) {
    if (error instanceof TypeError) return null;
    throw error;
  }
}

/** What a content stream tells its session. */
export interface ContentStreamHooks {
  /** The stream is about to wait for more bytes from the backend. */
  waiting(): void;
  /** The stream was cancelled: the backend connection is out of step. */
  cancelled(): void;
}

/**
 * The content of a response body as a stream, read from the backend
 * connection as the consumer asks for it, with its own framer (a stream
 * left unread must not disturb the next exchange's).
 *
 * @param reader The backend connection, its body at `reader.start`.
 * @param kind How the body is framed.
 * @param length The `Content-Length`, for `"length"`.
 * @param hooks Told before each wait for the backend, and on cancel.
 * @returns The stream (chunked framing undone), and whether it was read
 *   to the end of the body. The stream fails with
 *   `Deno.errors.UnexpectedEof` when the backend closes mid-body, and
 *   with `MalformedMessageError` on broken chunked framing.
 */
export function contentStream(
  reader: BufferedConn,
  kind: BodyKind,
  length: number,
  hooks: ContentStreamHooks,
): { stream: ReadableStream<Uint8Array>; complete: () => boolean } {
  const framer = new BodyFramer();
  framer.reset(kind, length);
  let complete = false;
  const pull = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
    for (;;) {
      const buf = reader.buf;
      let pieces = 0;
      reader.start += framer.take(buf, reader.start, reader.end, (from, to) => {
        controller.enqueue(buf.slice(from, to));
        pieces++;
      });
      if (framer.done) {
        complete = true;
        return controller.close();
      }
      if (pieces > 0) return;
      hooks.waiting();
      if (!(await reader.fillOrEnd())) {
        if (kind !== "close") throw new Deno.errors.UnexpectedEof("The app closed mid-response");
        complete = true;
        return controller.close();
      }
    }
  };
  const cancel = () => hooks.cancelled();
  const stream = new ReadableStream<Uint8Array>({ pull, cancel }, { highWaterMark: 0 });
  return { stream, complete: () => complete };
}
