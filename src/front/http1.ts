/**
 * Just enough of HTTP/1.1 (RFC 9112) to forward messages without changing
 * them: where a head ends, the few header fields that decide framing and
 * persistence, and where a body ends (Content-Length, chunked with trailers,
 * or at the close of the connection).
 *
 * Everything works on bytes in place. Few header values are turned into
 * strings: the method and the request-target (the supervisor routes by the
 * target and the access log prints both), and the three request fields the
 * front's guard and rewriter look at (`Host`, `Accept`, `Sec-Fetch-Dest`),
 * when present. {@linkcode parseFieldLines} reads every field, for the rare
 * message the front rewrites.
 *
 * @module
 */

/** How a message body is delimited (RFC 9112 §6.3). */
export type BodyKind = "none" | "length" | "chunked" | "close";

/** What forwarding needs to know about a request head. */
export interface RequestHead {
  /** The method, e.g. `"GET"`. */
  method: string;
  /** The request-target as sent, e.g. `"/a?b"`. */
  target: string;
  /** `true` for HTTP/1.1, `false` for HTTP/1.0. */
  http11: boolean;
  /** How the request body is delimited: never `"close"` for a request. */
  bodyKind: "none" | "length" | "chunked";
  /** The body's length when `bodyKind` is `"length"`, else 0. */
  contentLength: number;
  /** The client will not send another request on this connection. */
  close: boolean;
  /** The request carries an `Upgrade` field (e.g. a WebSocket handshake). */
  upgrade: boolean;
  /** The request carries `Expect: 100-continue`. */
  expectContinue: boolean;
  /** The `Host` value (spaces around it dropped), or `null` when absent. */
  host: string | null;
  /** The `Accept` value, or `null` when absent; repeated fields joined with `", "`. */
  accept: string | null;
  /** The `Sec-Fetch-Dest` value, or `null` when absent; repeated fields joined with `", "`. */
  fetchDest: string | null;
}

/** What forwarding needs to know about a response head. */
export interface ResponseHead {
  /** The status code, e.g. 200. */
  status: number;
  /** `true` for HTTP/1.1, `false` for HTTP/1.0. */
  http11: boolean;
  /** A `Transfer-Encoding` field is present. */
  hasTransferEncoding: boolean;
  /** The last transfer coding is `chunked`. */
  chunked: boolean;
  /** The Content-Length value, or -1 when absent. */
  contentLength: number;
  /** The server will close the connection after this response. */
  close: boolean;
}

/** A message that cannot be framed safely. */
export class MalformedMessageError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong, for logs and tests.
   */
  constructor(message: string) {
    super(message);
    this.name = "MalformedMessageError";
  }
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const COMMA = 0x2c;
const SEMICOLON = 0x3b;

/**
 * Finds the end of a message head: the empty line after the header fields.
 * Lines may end in CRLF or, leniently (RFC 9112 §2.2), in a bare LF.
 *
 * @param buf The bytes received so far.
 * @param from Where to start looking; resume a little before the previous
 *   end of data (two bytes) so a terminator split across reads is found.
 * @param end Where the received bytes end.
 * @returns The index just past the empty line, or -1 when it has not arrived.
 *
 * @example Find the end of a head
 * ```ts
 * import { findHeadEnd } from "./http1.ts";
 *
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody");
 * if (findHeadEnd(bytes, 0, bytes.length) !== 27) throw new Error();
 * ```
 */
export function findHeadEnd(buf: Uint8Array, from: number, end: number): number {
  // A plain loop: indexOf would search past `end` into stale buffer bytes.
  for (let i = from; i < end - 1; i++) {
    if (buf[i] !== LF) continue;
    const next = buf[i + 1];
    if (next === LF) return i + 2;
    if (next === CR && i + 2 < end && buf[i + 2] === LF) return i + 3;
  }
  return -1;
}

/** The header fields that matter for framing, collected while scanning. */
interface FramingFields {
  contentLength: number;
  hasTransferEncoding: boolean;
  chunked: boolean;
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  upgrade: boolean;
  expectContinue: boolean;
  /** How many `Host` fields, and where the last one's value lies. */
  hostCount: number;
  hostStart: number;
  hostEnd: number;
  /** How many `Accept` fields, and where the last one's value lies. */
  acceptCount: number;
  acceptStart: number;
  acceptEnd: number;
  /** How many `Sec-Fetch-Dest` fields, and where the last one's value lies. */
  fetchDestCount: number;
  fetchDestStart: number;
  fetchDestEnd: number;
}

/**
 * Parses a request head, from the request-line to the empty line.
 *
 * @param buf Bytes holding the head.
 * @param start Where the request-line starts.
 * @param end Where the head ends, as {@linkcode findHeadEnd} returned it.
 * @returns The head's framing facts.
 * @throws {MalformedMessageError} When the head cannot be framed safely: a
 *   bad request-line, a bad field line, a bad or conflicting Content-Length,
 *   both Content-Length and Transfer-Encoding, or a final coding other than
 *   chunked; or when it has more than one `Host` field (RFC 9112 §3.2).
 *
 * @example Parse a POST head
 * ```ts
 * import { parseRequestHead } from "./http1.ts";
 *
 * const bytes = new TextEncoder().encode("POST /a?b HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
 * const head = parseRequestHead(bytes, 0, bytes.length);
 * if (head.target !== "/a?b" || head.contentLength !== 5) throw new Error();
 * ```
 */
export function parseRequestHead(buf: Uint8Array, start: number, end: number): RequestHead {
  const lineEnd = firstLineEnd(buf, start, end);
  const methodEnd = scanToken(buf, start, lineEnd);
  if (methodEnd === start || buf[methodEnd] !== SP) throw malformed("Bad method");
  const targetStart = methodEnd + 1;
  const targetEnd = scanTarget(buf, targetStart, lineEnd);
  if (targetEnd === targetStart || buf[targetEnd] !== SP) throw malformed("Bad request-target");
  const http11 = parseVersion(buf, targetEnd + 1, contentEnd(buf, targetEnd + 1, lineEnd));
  const fields = scanFields(buf, lineEnd + 1, end);
  if (fields.hostCount > 1) throw malformed("More than one Host field");
  return {
    method: methodName(buf, start, methodEnd),
    target: asciiString(buf, targetStart, targetEnd),
    http11,
    bodyKind: requestBodyKind(fields, http11),
    contentLength: fields.contentLength < 0 ? 0 : fields.contentLength,
    close: fields.connectionClose || (!http11 && !fields.connectionKeepAlive),
    upgrade: fields.upgrade,
    expectContinue: fields.expectContinue,
    host: fields.hostCount === 0 ? null : hosts.decode(buf, fields.hostStart, fields.hostEnd),
    accept: fields.acceptCount === 1
      ? accepts.decode(buf, fields.acceptStart, fields.acceptEnd)
      : joinedValues(buf, lineEnd + 1, end, "accept", fields.acceptCount),
    fetchDest: fields.fetchDestCount === 1
      ? fetchDests.decode(buf, fields.fetchDestStart, fields.fetchDestEnd)
      : joinedValues(buf, lineEnd + 1, end, "sec-fetch-dest", fields.fetchDestCount),
  };
}

/**
 * A field's values joined with `", "`, as `Headers.get` joins them: `null`
 * when there are none. The rare slow path of a repeated field.
 */
function joinedValues(
  buf: Uint8Array,
  start: number,
  end: number,
  lowerName: string,
  count: number,
): string | null {
  if (count === 0) return null;
  const values: string[] = [];
  for (const [name, value] of fieldLines(buf, start, end)) {
    if (name.toLowerCase() === lowerName) values.push(value);
  }
  return values.join(", ");
}

/**
 * Reads every field line of a head that {@linkcode parseRequestHead} or
 * {@linkcode parseResponseHead} accepted, for the rare message the front
 * has to take apart (to rewrite a response).
 *
 * @param buf Bytes holding the head.
 * @param start Where the head starts (its request-line or status-line).
 * @param end Where the head ends, as {@linkcode findHeadEnd} returned it.
 * @returns The first line without its line end (e.g. `"HTTP/1.1 200 OK"`),
 *   and each field's name as sent and its value without surrounding
 *   spaces, in order, one character per byte.
 *
 * @example Read a response head's fields
 * ```ts
 * import { parseFieldLines } from "./http1.ts";
 *
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Type:  text/html \r\n\r\n");
 * const { firstLine, fields } = parseFieldLines(bytes, 0, bytes.length);
 * if (firstLine !== "HTTP/1.1 200 OK") throw new Error();
 * if (fields[0]?.[0] !== "Content-Type" || fields[0][1] !== "text/html") throw new Error();
 * ```
 */
export function parseFieldLines(
  buf: Uint8Array,
  start: number,
  end: number,
): { firstLine: string; fields: [string, string][] } {
  const lineEnd = firstLineEnd(buf, start, end);
  return {
    firstLine: asciiString(buf, start, contentEnd(buf, start, lineEnd)),
    fields: fieldLines(buf, lineEnd + 1, end),
  };
}

/** The field lines from `start` (after the first line) to the empty line. */
function fieldLines(buf: Uint8Array, start: number, end: number): [string, string][] {
  const fields: [string, string][] = [];
  let lineStart = start;
  while (lineStart < end) {
    const lineEnd = buf.indexOf(LF, lineStart);
    if (lineEnd === -1 || lineEnd >= end) break;
    const valueEnd = contentEnd(buf, lineStart, lineEnd);
    if (valueEnd === lineStart) break;
    const colon = buf.indexOf(COLON, lineStart);
    let from = colon + 1;
    let to = valueEnd;
    while (from < to && isWhitespace(buf[from]!)) from++;
    while (to > from && isWhitespace(buf[to - 1]!)) to--;
    fields.push([asciiString(buf, lineStart, colon), asciiString(buf, from, to)]);
    lineStart = lineEnd + 1;
  }
  return fields;
}

/**
 * Parses a response head, from the status-line to the empty line.
 *
 * @param buf Bytes holding the head.
 * @param start Where the status-line starts.
 * @param end Where the head ends, as {@linkcode findHeadEnd} returned it.
 * @returns The head's framing facts.
 * @throws {MalformedMessageError} When the status-line or a field line is
 *   bad, or Content-Length is bad or conflicting.
 *
 * @example Parse a response head
 * ```ts
 * import { parseResponseHead } from "./http1.ts";
 *
 * const bytes = new TextEncoder().encode("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
 * const head = parseResponseHead(bytes, 0, bytes.length);
 * if (head.status !== 404 || head.contentLength !== 0) throw new Error();
 * ```
 */
export function parseResponseHead(buf: Uint8Array, start: number, end: number): ResponseHead {
  const lineEnd = firstLineEnd(buf, start, end);
  const http11 = parseVersion(buf, start, start + 8);
  if (buf[start + 8] !== SP) throw malformed("Bad status-line");
  const status = parseStatus(buf, start + 9);
  const afterStatus = buf[start + 12];
  if (afterStatus !== SP && afterStatus !== CR && afterStatus !== LF) {
    throw malformed("Bad status-line");
  }
  checkFieldValue(buf, start + 12, contentEnd(buf, start + 12, lineEnd));
  const fields = scanFields(buf, lineEnd + 1, end);
  return {
    status,
    http11,
    hasTransferEncoding: fields.hasTransferEncoding,
    chunked: fields.chunked,
    contentLength: fields.contentLength,
    // A response with both framings must not be trusted for the next one.
    close: fields.connectionClose || (!http11 && !fields.connectionKeepAlive) ||
      (fields.hasTransferEncoding && fields.contentLength >= 0),
  };
}

/**
 * Decides how a response body is delimited (RFC 9112 §6.3), which depends on
 * the request it answers.
 *
 * @param response The parsed response head.
 * @param method The request's method.
 * @returns `"none"` for HEAD, 1xx, 204 and 304 (and a successful CONNECT,
 *   whose connection becomes a tunnel); otherwise chunked, length or close.
 *
 * @example A response to HEAD has no body
 * ```ts
 * import { parseResponseHead, responseBodyKind } from "./http1.ts";
 *
 * const bytes = new TextEncoder().encode("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
 * const head = parseResponseHead(bytes, 0, bytes.length);
 * if (responseBodyKind(head, "HEAD") !== "none") throw new Error();
 * if (responseBodyKind(head, "GET") !== "length") throw new Error();
 * ```
 */
export function responseBodyKind(response: ResponseHead, method: string): BodyKind {
  const status = response.status;
  if (method === "HEAD" || status < 200 || status === 204 || status === 304) return "none";
  if (method === "CONNECT" && status < 300) return "none";
  if (response.hasTransferEncoding) return response.chunked ? "chunked" : "close";
  return response.contentLength >= 0 ? "length" : "close";
}

function malformed(message: string): MalformedMessageError {
  return new MalformedMessageError(message);
}

/** Where the first line ends (its LF); a head must hold at least one line. */
function firstLineEnd(buf: Uint8Array, start: number, end: number): number {
  const lineEnd = buf.indexOf(LF, start);
  if (lineEnd === -1 || lineEnd >= end) throw malformed("Incomplete head");
  return lineEnd;
}

/** Where a line's content ends: before its CR LF (or bare LF). */
function contentEnd(buf: Uint8Array, start: number, lineEnd: number): number {
  return lineEnd > start && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
}

/** RFC 9110 tchar: the characters of methods and field names. */
const TOKEN_CHARS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const symbols = "!#$%&'*+-.^_`|~";
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (const symbol of symbols) table[symbol.charCodeAt(0)] = 1;
  return table;
})();

function scanToken(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && TOKEN_CHARS[buf[i]!] === 1) i++;
  return i;
}

/** A request-target is visible ASCII (or obs-text) with no spaces. */
function scanTarget(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const byte = buf[i]!;
    if (byte <= SP || byte === 0x7f) break;
    i++;
  }
  return i;
}

/** Accepts exactly `HTTP/1.x`; returns whether the minor version is ≥ 1. */
function parseVersion(buf: Uint8Array, start: number, end: number): boolean {
  if (
    end - start !== 8 || buf[start] !== 0x48 || buf[start + 1] !== 0x54 ||
    buf[start + 2] !== 0x54 || buf[start + 3] !== 0x50 || buf[start + 4] !== 0x2f ||
    buf[start + 5] !== 0x31 || buf[start + 6] !== 0x2e
  ) {
    throw malformed("Bad HTTP version");
  }
  const minor = buf[start + 7]! - 0x30;
  if (minor < 0 || minor > 9) throw malformed("Bad HTTP version");
  return minor >= 1;
}

function parseStatus(buf: Uint8Array, start: number): number {
  let status = 0;
  for (let i = start; i < start + 3; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) throw malformed("Bad status code");
    status = status * 10 + digit;
  }
  if (status < 100) throw malformed("Bad status code");
  return status;
}

/** Methods that are common enough to hand out without decoding. */
const KNOWN_METHODS = [
  "GET",
  "POST",
  "HEAD",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "CONNECT",
];
const KNOWN_METHOD_BYTES = KNOWN_METHODS.map(asciiBytes);

function methodName(buf: Uint8Array, start: number, end: number): string {
  for (let m = 0; m < KNOWN_METHOD_BYTES.length; m++) {
    if (bytesEqual(buf, start, end, KNOWN_METHOD_BYTES[m]!)) return KNOWN_METHODS[m]!;
  }
  return asciiString(buf, start, end);
}

function bytesEqual(buf: Uint8Array, start: number, end: number, expected: Uint8Array): boolean {
  if (end - start !== expected.length) return false;
  for (let i = 0; i < expected.length; i++) {
    if (buf[start + i] !== expected[i]) return false;
  }
  return true;
}

function asciiBytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Values remembered per field by {@linkcode Interner}. */
const INTERNED_VALUES = 8;
/** Longer values are decoded every time (a host name is at most 253 bytes). */
const MAX_INTERNED_BYTES = 512;

/**
 * Decodes the values of one field, handing out the same string for the
 * same bytes: a client sends the same few `Host`, `Accept` and
 * `Sec-Fetch-Dest` values again and again, so most requests allocate none.
 */
class Interner {
  readonly #bytes: Uint8Array[] = [];
  readonly #strings: string[] = [];
  #next = 0;

  decode(buf: Uint8Array, start: number, end: number): string {
    for (let i = 0; i < this.#bytes.length; i++) {
      if (bytesEqual(buf, start, end, this.#bytes[i]!)) return this.#strings[i]!;
    }
    const text = asciiString(buf, start, end);
    if (end - start <= MAX_INTERNED_BYTES) {
      this.#bytes[this.#next] = buf.slice(start, end);
      this.#strings[this.#next] = text;
      this.#next = (this.#next + 1) % INTERNED_VALUES;
    }
    return text;
  }
}

const hosts = new Interner();
const accepts = new Interner();
const fetchDests = new Interner();

/** Decodes bytes one char per byte, so odd bytes survive unchanged. */
function asciiString(buf: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i += 4096) {
    const chunk = buf.subarray(i, Math.min(end, i + 4096));
    text += String.fromCharCode.apply(null, chunk as unknown as number[]);
  }
  return text;
}

/** Field names and values we look for, lower case, as bytes. */
const CONTENT_LENGTH = asciiBytes("content-length");
const TRANSFER_ENCODING = asciiBytes("transfer-encoding");
const CONNECTION = asciiBytes("connection");
const UPGRADE = asciiBytes("upgrade");
const EXPECT = asciiBytes("expect");
const HOST = asciiBytes("host");
const ACCEPT = asciiBytes("accept");
const SEC_FETCH_DEST = asciiBytes("sec-fetch-dest");
const CLOSE = asciiBytes("close");
const KEEP_ALIVE = asciiBytes("keep-alive");
const CHUNKED = asciiBytes("chunked");
const CONTINUE = asciiBytes("100-continue");

/** Case-insensitive comparison against a lower-case token. */
function isToken(buf: Uint8Array, start: number, end: number, lower: Uint8Array): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    // Field names and tokens hold no bytes that OR 0x20 turns into a letter.
    if ((buf[start + i]! | 0x20) !== lower[i]) return false;
  }
  return true;
}

/**
 * The one {@linkcode FramingFields} every scan fills: a head is parsed in
 * one synchronous call, which reads the fields before any other scan can
 * run, so the front allocates none per message.
 */
const SCRATCH_FIELDS: FramingFields = {
  contentLength: -1,
  hasTransferEncoding: false,
  chunked: false,
  connectionClose: false,
  connectionKeepAlive: false,
  upgrade: false,
  expectContinue: false,
  hostCount: 0,
  hostStart: -1,
  hostEnd: -1,
  acceptCount: 0,
  acceptStart: -1,
  acceptEnd: -1,
  fetchDestCount: 0,
  fetchDestStart: -1,
  fetchDestEnd: -1,
};

/** Walks the field lines, recording those that decide framing (into {@linkcode SCRATCH_FIELDS}). */
function scanFields(buf: Uint8Array, start: number, end: number): FramingFields {
  const fields = SCRATCH_FIELDS;
  fields.contentLength = -1;
  fields.hasTransferEncoding = false;
  fields.chunked = false;
  fields.connectionClose = false;
  fields.connectionKeepAlive = false;
  fields.upgrade = false;
  fields.expectContinue = false;
  fields.hostCount = 0;
  fields.acceptCount = 0;
  fields.fetchDestCount = 0;
  let lineStart = start;
  while (lineStart < end) {
    const lineEnd = buf.indexOf(LF, lineStart);
    if (lineEnd === -1 || lineEnd >= end) throw malformed("Incomplete head");
    const valueEnd = contentEnd(buf, lineStart, lineEnd);
    if (valueEnd === lineStart) break; // the empty line that ends the head
    scanField(buf, lineStart, valueEnd, fields);
    lineStart = lineEnd + 1;
  }
  return fields;
}

function scanField(buf: Uint8Array, start: number, end: number, fields: FramingFields): void {
  const nameEnd = scanToken(buf, start, end);
  // A space before the colon or a folded line (RFC 9112 §5.1, §5.2) is refused.
  if (nameEnd === start || buf[nameEnd] !== COLON) throw malformed("Bad field line");
  let valueStart = nameEnd + 1;
  let valueEnd = end;
  while (valueStart < valueEnd && isWhitespace(buf[valueStart]!)) valueStart++;
  while (valueEnd > valueStart && isWhitespace(buf[valueEnd - 1]!)) valueEnd--;
  checkFieldValue(buf, valueStart, valueEnd);
  switch (nameEnd - start) {
    case CONTENT_LENGTH.length: // also SEC_FETCH_DEST.length
      if (isToken(buf, start, nameEnd, CONTENT_LENGTH)) {
        const length = parseContentLength(buf, valueStart, valueEnd);
        if (fields.contentLength >= 0 && fields.contentLength !== length) {
          throw malformed("Conflicting Content-Length");
        }
        fields.contentLength = length;
      } else if (isToken(buf, start, nameEnd, SEC_FETCH_DEST)) {
        fields.fetchDestCount++;
        fields.fetchDestStart = valueStart;
        fields.fetchDestEnd = valueEnd;
      }
      break;
    case HOST.length:
      if (isToken(buf, start, nameEnd, HOST)) {
        fields.hostCount++;
        fields.hostStart = valueStart;
        fields.hostEnd = valueEnd;
      }
      break;
    case TRANSFER_ENCODING.length:
      if (isToken(buf, start, nameEnd, TRANSFER_ENCODING)) {
        fields.hasTransferEncoding = true;
        // Only the last coding decides; a later field line continues the list.
        fields.chunked = lastListItemIs(buf, valueStart, valueEnd, CHUNKED, fields.chunked);
      }
      break;
    case CONNECTION.length:
      if (isToken(buf, start, nameEnd, CONNECTION)) {
        scanConnection(buf, valueStart, valueEnd, fields);
      }
      break;
    case UPGRADE.length:
      if (isToken(buf, start, nameEnd, UPGRADE)) fields.upgrade = true;
      break;
    case EXPECT.length: // also ACCEPT.length
      if (isToken(buf, start, nameEnd, EXPECT)) {
        fields.expectContinue = isToken(buf, valueStart, valueEnd, CONTINUE);
      } else if (isToken(buf, start, nameEnd, ACCEPT)) {
        fields.acceptCount++;
        fields.acceptStart = valueStart;
        fields.acceptEnd = valueEnd;
      }
      break;
  }
}

function isWhitespace(byte: number): boolean {
  return byte === SP || byte === HTAB;
}

/** Control characters other than HTAB never belong in a field value. */
function checkFieldValue(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const byte = buf[i]!;
    if ((byte < SP && byte !== HTAB) || byte === 0x7f) throw malformed("Bad field value");
  }
}

/** Digits only: a sign, a list or an empty value is refused. */
function parseContentLength(buf: Uint8Array, start: number, end: number): number {
  if (start === end || end - start > 15) throw malformed("Bad Content-Length");
  let length = 0;
  for (let i = start; i < end; i++) {
    const digit = buf[i]! - 0x30;
    if (digit < 0 || digit > 9) throw malformed("Bad Content-Length");
    length = length * 10 + digit;
  }
  return length;
}

/** Calls `visit` with the bounds of each item of a comma-separated list. */
function forEachListItem(
  buf: Uint8Array,
  start: number,
  end: number,
  visit: (itemStart: number, itemEnd: number) => void,
): void {
  let itemStart = start;
  while (itemStart <= end) {
    let itemEnd = buf.indexOf(COMMA, itemStart);
    if (itemEnd === -1 || itemEnd > end) itemEnd = end;
    let from = itemStart;
    let to = itemEnd;
    while (from < to && isWhitespace(buf[from]!)) from++;
    while (to > from && isWhitespace(buf[to - 1]!)) to--;
    if (from < to) visit(from, to);
    itemStart = itemEnd + 1;
  }
}

function lastListItemIs(
  buf: Uint8Array,
  start: number,
  end: number,
  lower: Uint8Array,
  previous: boolean,
): boolean {
  let last = previous;
  forEachListItem(buf, start, end, (from, to) => {
    last = isToken(buf, from, to, lower);
  });
  return last;
}

function scanConnection(buf: Uint8Array, start: number, end: number, fields: FramingFields): void {
  forEachListItem(buf, start, end, (from, to) => {
    if (isToken(buf, from, to, CLOSE)) fields.connectionClose = true;
    else if (isToken(buf, from, to, KEEP_ALIVE)) fields.connectionKeepAlive = true;
  });
}

/** RFC 9112 §6.3 for requests: no Content-Length and no chunked means no body. */
function requestBodyKind(fields: FramingFields, http11: boolean): RequestHead["bodyKind"] {
  if (fields.hasTransferEncoding) {
    if (fields.contentLength >= 0) throw malformed("Both Content-Length and Transfer-Encoding");
    if (!http11) throw malformed("Transfer-Encoding in an HTTP/1.0 request");
    if (!fields.chunked) throw malformed("Final transfer coding is not chunked");
    return "chunked";
  }
  return fields.contentLength > 0 ? "length" : "none";
}

/** The states of the chunked-coding parser. */
const Chunk = {
  size: 0,
  sizeExtension: 1,
  sizeLF: 2,
  data: 3,
  dataCR: 4,
  dataLF: 5,
  trailerStart: 6,
  trailerLine: 7,
  trailerLF: 8,
  finalLF: 9,
  done: 10,
} as const;
type ChunkState = typeof Chunk[keyof typeof Chunk];

/** Chunk sizes beyond this are refused rather than risk lost precision. */
const MAX_CHUNK_SIZE = Number.MAX_SAFE_INTEGER / 16;

/**
 * Follows a message body through a byte stream, piece by piece, telling how
 * many bytes of each piece belong to the body. One instance is reused for
 * every message of a connection.
 *
 * @example Find where a chunked body ends, one byte at a time
 * ```ts
 * import { BodyFramer } from "./http1.ts";
 *
 * const bytes = new TextEncoder().encode("3\r\nabc\r\n0\r\n\r\nNEXT");
 * const framer = new BodyFramer();
 * framer.reset("chunked", 0);
 * let taken = 0;
 * while (!framer.done) taken += framer.take(bytes, taken, taken + 1);
 * if (taken !== 13) throw new Error();
 * ```
 */
export class BodyFramer {
  #kind: BodyKind = "none";
  #remaining = 0;
  #state: ChunkState = Chunk.done;
  #digits = 0;

  /** Whether the whole body has been taken. */
  get done(): boolean {
    if (this.#kind === "length") return this.#remaining === 0;
    if (this.#kind === "chunked") return this.#state === Chunk.done;
    return this.#kind === "none";
  }

  /**
   * Starts following a new body.
   *
   * @param kind How the body is delimited.
   * @param length The Content-Length when `kind` is `"length"`.
   */
  reset(kind: BodyKind, length: number): void {
    this.#kind = kind;
    this.#remaining = kind === "length" ? length : 0;
    this.#state = Chunk.size;
    this.#digits = 0;
  }

  /**
   * Takes the body's bytes from the start of `buf[start..end)`.
   *
   * @param buf The buffer holding the received bytes.
   * @param start Where the unread bytes start.
   * @param end Where they end.
   * @param onData Called with the bounds, in `buf`, of each run of content
   *   among the bytes taken: all of them, except for a chunked body, whose
   *   chunk sizes, line ends and trailers are left out. For a reader that
   *   needs the content rather than the message (the front's rewriter).
   * @returns How many bytes from `start` belong to the body; fewer than
   *   offered once the body is {@linkcode BodyFramer.done}.
   * @throws {MalformedMessageError} When the chunked framing is broken.
   */
  take(
    buf: Uint8Array,
    start: number,
    end: number,
    onData?: (from: number, to: number) => void,
  ): number {
    let count: number;
    switch (this.#kind) {
      case "none":
        return 0;
      case "close":
        count = end - start;
        break;
      case "length":
        count = Math.min(this.#remaining, end - start);
        this.#remaining -= count;
        break;
      case "chunked":
        return this.#takeChunked(buf, start, end, onData) - start;
    }
    if (onData !== undefined && count > 0) onData(start, start + count);
    return count;
  }

  /** Runs the chunked-coding state machine; returns where it stopped. */
  #takeChunked(
    buf: Uint8Array,
    start: number,
    end: number,
    onData: ((from: number, to: number) => void) | undefined,
  ): number {
    let i = start;
    while (i < end && this.#state !== Chunk.done) {
      if (this.#state === Chunk.data) {
        const count = Math.min(this.#remaining, end - i);
        this.#remaining -= count;
        if (onData !== undefined && count > 0) onData(i, i + count);
        i += count;
        if (this.#remaining === 0) this.#state = Chunk.dataCR;
        continue;
      }
      this.#step(buf[i]!);
      i++;
    }
    return i;
  }

  /** Consumes one byte of chunk framing (sizes, line ends, trailers). */
  #step(byte: number): void {
    switch (this.#state) {
      case Chunk.size:
        return this.#stepSize(byte);
      case Chunk.sizeExtension:
        // chunk-ext is not interpreted, only kept on one line.
        if (byte === CR) this.#state = Chunk.sizeLF;
        else if (byte === LF || (byte < SP && byte !== HTAB)) {
          throw malformed("Bad chunk extension");
        }
        return;
      case Chunk.sizeLF:
        return this.#expectLF(byte, this.#remaining === 0 ? Chunk.trailerStart : Chunk.data);
      case Chunk.dataCR:
        if (byte !== CR) throw malformed("Chunk data longer than its size");
        this.#state = Chunk.dataLF;
        return;
      case Chunk.dataLF:
        this.#digits = 0;
        return this.#expectLF(byte, Chunk.size);
      case Chunk.trailerStart:
        this.#state = byte === CR ? Chunk.finalLF : Chunk.trailerLine;
        if (byte === LF) throw malformed("Bad trailer section");
        return;
      case Chunk.trailerLine:
        if (byte === CR) this.#state = Chunk.trailerLF;
        else if (byte === LF) throw malformed("Bad trailer line");
        return;
      case Chunk.trailerLF:
        return this.#expectLF(byte, Chunk.trailerStart);
      case Chunk.finalLF:
        return this.#expectLF(byte, Chunk.done);
    }
  }

  #stepSize(byte: number): void {
    const digit = hexValue(byte);
    if (digit >= 0) {
      if (this.#remaining > MAX_CHUNK_SIZE) throw malformed("Chunk size too large");
      this.#remaining = this.#remaining * 16 + digit;
      this.#digits++;
      return;
    }
    if (this.#digits === 0) throw malformed("Bad chunk size");
    if (byte === CR) this.#state = Chunk.sizeLF;
    else if (byte === SEMICOLON || isWhitespace(byte)) this.#state = Chunk.sizeExtension;
    else throw malformed("Bad chunk size");
  }

  #expectLF(byte: number, next: ChunkState): void {
    if (byte !== LF) throw malformed("Expected CR LF in chunked body");
    this.#state = next;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
