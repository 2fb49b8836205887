/**
 * The answers the front gives itself, in place of an app: a line of text
 * saying what went wrong (a bad request, no app in time, an app that
 * closed without answering), and whether a request the screen refused
 * can be read past so that the connection serves the next one.
 *
 * @module
 */

import { reasonPhrase } from "./_response_writer.ts";
import type { RequestHead } from "./http1.ts";

/**
 * A refused request's body up to this size is read and dropped, so that the
 * connection can serve the next request; a larger one (or a chunked one)
 * closes the connection instead.
 */
export const DISCARD_LIMIT_BYTES = 64 * 1024;

/** Why the front answers 502: the app gave no usable response. */
export const BAD_GATEWAY_TEXT = "The app closed the connection without a complete response";

/**
 * Why the front answers 503 after holding a request.
 *
 * @param holdTimeoutMs How long the request was held, in milliseconds.
 * @returns The text, with the wait in seconds.
 */
export function holdTimeoutText(holdTimeoutMs: number): string {
  return `The app did not come up in time (waited ${
    holdTimeoutMs / 1000
  } s); see the devsrv terminal for why`;
}

/**
 * A whole response from the front itself, as bytes: plain text, with
 * `Connection: close` (the front closes after it).
 *
 * @param status The status code, e.g. `502`.
 * @param text What went wrong; the body is `"<status> <reason>: <text>\n"`.
 * @param withBody `false` for a `HEAD` request: the head only.
 * @returns The bytes to write.
 *
 * @example Usage
 * ```ts
 * import { cannedResponse } from "./_canned_response.ts";
 *
 * const text = new TextDecoder().decode(cannedResponse(400, "Bad chunk", true));
 * if (!text.endsWith("\r\n\r\n400 Bad Request: Bad chunk\n")) throw new Error(text);
 * ```
 */
export function cannedResponse(status: number, text: string, withBody: boolean): Uint8Array {
  const reason = reasonPhrase(status);
  const body = `${status} ${reason}: ${text}\n`;
  const head = `HTTP/1.1 ${status} ${reason}\r\n` +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\n` +
    "Connection: close\r\n\r\n";
  return new TextEncoder().encode(withBody ? head + body : head);
}

/**
 * Whether a refused request's body can be read and dropped: none, or a
 * `Content-Length` of at most {@linkcode DISCARD_LIMIT_BYTES} without
 * `Expect: 100-continue` (a client waiting for the go-ahead may never send it).
 *
 * @param head The refused request's head.
 * @returns `true` when the connection may serve another request after it.
 */
export function droppableBody(head: RequestHead): boolean {
  return head.bodyKind === "none" ||
    (head.bodyKind === "length" && head.contentLength <= DISCARD_LIMIT_BYTES &&
      !head.expectContinue);
}
