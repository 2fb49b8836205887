/**
 * Reading requests off a client connection: a head (after the empty lines
 * RFC 9112 §2.2 says to skip), and the rest of a body, either passed on
 * piece by piece to a backend or read and dropped. Every read goes
 * through the connection's one buffer, and each piece is framed by the
 * session's one request framer: nothing is allocated per piece.
 *
 * @module
 */

import { type BufferedConn, END_OF_STREAM, readHead } from "./_buffered_conn.ts";
import type { RequestSender } from "./_request_sender.ts";
import type { BodyFramer, RequestHead } from "./http1.ts";

/**
 * Drops empty lines before a request-line, which RFC 9112 §2.2 says to
 * ignore (some clients send a CRLF after a body).
 *
 * @param client The client connection; its `start` moves past the empty lines.
 * @returns Whether bytes of a request-line are buffered.
 */
export function skipEmptyLines(client: BufferedConn): boolean {
  const buf = client.buf;
  while (client.start < client.end && (buf[client.start] === 0x0a || buf[client.start] === 0x0d)) {
    client.start++;
  }
  return client.start < client.end;
}

/**
 * Reads up to the end of a head, skipping empty lines before it.
 *
 * @param client The client connection.
 * @param limit The largest head accepted, in bytes.
 * @returns Where the head ends in `client.buf`, or `END_OF_STREAM` or
 *   `HEAD_TOO_LARGE` (from `_buffered_conn.ts`).
 * @throws {Deno.errors.ConnectionReset} And the like, when the client fails.
 */
export async function readRequestHead(client: BufferedConn, limit: number): Promise<number> {
  while (!skipEmptyLines(client)) {
    if (!(await client.fill())) return END_OF_STREAM;
  }
  return await readHead(client, limit);
}

/**
 * Reads the rest of a request body from the client, as it comes, and
 * hands each piece to the sender. The framer was reset for this body and
 * has taken the bytes that came with the head.
 *
 * @param client The client connection.
 * @param framer The request's framer.
 * @param sender Where the pieces go.
 * @returns When the whole body is read and sent.
 * @throws {Deno.errors.UnexpectedEof} When the client closes mid-body.
 * @throws {MalformedMessageError} When a chunked body is badly framed.
 * @throws {BackendGoneError} When the backend failed and the body is not kept.
 */
export async function pumpBody(
  client: BufferedConn,
  framer: BodyFramer,
  sender: RequestSender,
): Promise<void> {
  while (!framer.done) {
    if (!(await client.fill())) throw new Deno.errors.UnexpectedEof("The client closed mid-body");
    const count = framer.take(client.buf, client.start, client.end);
    const piece = client.buf.subarray(client.start, client.start + count);
    client.start += count;
    await sender.push(piece);
  }
}

/**
 * Reads a request's body and drops it, so that the connection can serve
 * the next request.
 *
 * @param client The client connection, its head consumed up to `headEnd`.
 * @param framer The session's request framer; it is reset for this body.
 * @param head The request's head.
 * @param headEnd Where the head ends in `client.buf`.
 * @returns `false` when the client closed first.
 * @throws {MalformedMessageError} When a chunked body is badly framed.
 */
export async function dropBody(
  client: BufferedConn,
  framer: BodyFramer,
  head: RequestHead,
  headEnd: number,
): Promise<boolean> {
  framer.reset(head.bodyKind, head.contentLength);
  client.start = headEnd + framer.take(client.buf, headEnd, client.end);
  while (!framer.done) {
    if (!(await client.fill())) return false;
    client.start += framer.take(client.buf, client.start, client.end);
  }
  return true;
}
