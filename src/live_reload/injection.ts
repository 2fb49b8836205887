/**
 * Live reload, server side: adds the client's `<script>` to HTML documents
 * on their way out of the app.
 *
 * The body is handled as bytes, never decoded, so any ASCII-compatible
 * charset passes through untouched. A response whose length is known and
 * small is read whole, changed, and sent with its new `Content-Length`;
 * anything else is changed as a stream, so a page that streams its shell
 * early still arrives early. The tag goes before the last `</body>`, or at
 * the end when there is none (browsers accept a script there too).
 *
 * @module
 */

import { escapeHtml } from "../pages/html.ts";
import { CLIENT_PATH } from "./paths.ts";

/** Responses up to this length are read whole and get a new Content-Length. */
const BUFFER_LIMIT_BYTES = 1024 * 1024;
/**
 * A streamed body is a document when a marker shows up within this many
 * bytes; past that it is passed through as a fragment. Held back until then.
 */
const SNIFF_LIMIT_BYTES = 8 * 1024;
/**
 * Bytes after a `</body>` that are held back in case another `</body>`
 * follows. Past this, the tag goes before the `</body>` already seen, so a
 * page streaming lots of content after it is not delayed to its end.
 */
const HOLD_LIMIT_BYTES = 64 * 1024;

/** Statuses whose body must not be changed: no content, or a byte range. */
const UNTOUCHED_STATUSES = new Set([204, 205, 206, 304]);

/** Encodings DecompressionStream can undo; others are left alone. */
const DECODABLE_ENCODINGS: Record<string, CompressionFormat> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
};

const encoder = new TextEncoder();

/** The start of a document: any of these (followed by a tag boundary). */
const DOCUMENT_MARKERS = ["<!doctype", "<html", "<head", "<body"].map(ascii);
const BODY_CLOSE = ascii("</body");
const ALREADY_INJECTED = ascii(CLIENT_PATH);
/** Kept back between chunks so a marker split across them is still found. */
const CARRY_BYTES = Math.max(BODY_CLOSE.length, ALREADY_INJECTED.length);

function ascii(text: string): Uint8Array {
  return encoder.encode(text);
}

function lowerByte(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}

function matchesAt(haystack: Uint8Array, at: number, needle: Uint8Array): boolean {
  for (let i = 0; i < needle.length; i++) {
    if (lowerByte(haystack[at + i]!) !== needle[i]) return false;
  }
  return true;
}

/** Whether the byte ends a tag name: whitespace, `>` or `/`. */
function isTagBoundary(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0c ||
    byte === 0x0d || byte === 0x3e || byte === 0x2f;
}

/**
 * Finds a lower-case ASCII needle, case-insensitively. With `tag`, the
 * match must be followed by a tag boundary, so `<head` does not match
 * `<header`; a match at the very end does not count yet.
 */
function findAscii(
  haystack: Uint8Array,
  needle: Uint8Array,
  options: { last?: boolean; tag?: boolean } = {},
): number {
  const end = haystack.length - needle.length;
  const found = (at: number) =>
    matchesAt(haystack, at, needle) &&
    (!options.tag || isTagBoundary(haystack[at + needle.length]));
  if (options.last) {
    for (let at = end; at >= 0; at--) if (found(at)) return at;
  } else {
    for (let at = 0; at <= end; at++) if (found(at)) return at;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function looksLikeDocument(bytes: Uint8Array): boolean {
  return DOCUMENT_MARKERS.some((marker) => findAscii(bytes, marker, { tag: true }) >= 0);
}

/** What the injector is doing with the bytes it gets. */
type InjectorState = "sniffing" | "searching" | "passing";

/**
 * Puts the tag into a body fed to it in pieces: holds back the start until
 * it knows the body is a document, and everything from the latest
 * `</body>` on until it knows no later one follows.
 */
class Injector {
  #state: InjectorState = "sniffing";
  #pending: Uint8Array = new Uint8Array(0);
  /** Whether `#pending` starts with a `</body>` the tag should precede. */
  #holdingClose = false;
  #tag: Uint8Array;
  #injected = false;
  #sniffLimit: number;

  constructor(tag: string, sniffLimit: number) {
    this.#tag = encoder.encode(tag);
    this.#sniffLimit = sniffLimit;
  }

  /** Whether the tag went out. */
  get injected(): boolean {
    return this.#injected;
  }

  /** Takes a piece of the body; returns what can be sent now. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#state === "passing") return [chunk];
    this.#pending = concat(this.#pending, chunk);
    if (this.#state === "sniffing") return this.#sniff(false);
    return this.#search();
  }

  /** The body ended; returns the rest. */
  end(): Uint8Array[] {
    const out = this.#state === "sniffing" ? this.#sniff(true) : [];
    if (this.#state === "passing") return [...out, ...this.#release()];
    this.#state = "passing";
    const rest = this.#release();
    // Before the held `</body>`, else at the very end.
    this.#injected = true;
    return this.#holdingClose ? [...out, this.#tag, ...rest] : [...out, ...rest, this.#tag];
  }

  #release(): Uint8Array[] {
    const out = this.#pending;
    this.#pending = new Uint8Array(0);
    return out.length > 0 ? [out] : [];
  }

  #pass(): Uint8Array[] {
    this.#state = "passing";
    return this.#release();
  }

  #sniff(final: boolean): Uint8Array[] {
    if (findAscii(this.#pending, ALREADY_INJECTED) >= 0) return this.#pass();
    if (looksLikeDocument(this.#pending)) {
      this.#state = "searching";
      return this.#search();
    }
    if (final || this.#pending.length >= this.#sniffLimit) return this.#pass();
    return [];
  }

  #search(): Uint8Array[] {
    const pending = this.#pending;
    if (findAscii(pending, ALREADY_INJECTED) >= 0) return this.#pass();
    const close = findAscii(pending, BODY_CLOSE, { last: true, tag: true });
    if (close >= 0) {
      this.#holdingClose = true;
      this.#pending = pending.subarray(close);
      return close > 0 ? [pending.subarray(0, close)] : [];
    }
    if (this.#holdingClose) {
      if (pending.length <= HOLD_LIMIT_BYTES) return [];
      this.#state = "passing";
      this.#injected = true;
      return [this.#tag, ...this.#release()];
    }
    const sendable = pending.length - CARRY_BYTES;
    if (sendable <= 0) return [];
    this.#pending = pending.subarray(sendable);
    return [pending.subarray(0, sendable)];
  }
}

function mediaType(headers: Headers): string {
  return (headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}

function contentEncoding(headers: Headers): string {
  return (headers.get("content-encoding") ?? "identity").trim().toLowerCase();
}

/**
 * Whether a response to this request could get the client: a browser
 * loading a page (only a page needs the client), with a method whose
 * response has a body. `fetch()` from a script, curl and API clients get the
 * app's response as it is. Takes raw values, so that the reloader's front
 * can ask before it builds a `Request`.
 *
 * @param method The request method, e.g. `"GET"`.
 * @param fetchDest The `Sec-Fetch-Dest` value, or `null` when absent.
 * @param accept The `Accept` value, or `null` when absent.
 * @returns `true` for a page load (`Sec-Fetch-Dest: document` or `iframe`,
 *   or without `Sec-Fetch-Dest` an `Accept` naming `text/html`) that is not
 *   `HEAD`.
 *
 * @example A navigation qualifies, a script's fetch does not
 * ```ts
 * import { isPageLoadRequest } from "./injection.ts";
 *
 * if (!isPageLoadRequest("GET", "document", null)) throw new Error();
 * if (isPageLoadRequest("GET", "empty", "text/html")) throw new Error();
 * if (isPageLoadRequest("HEAD", null, "text/html")) throw new Error();
 * ```
 */
export function isPageLoadRequest(
  method: string,
  fetchDest: string | null,
  accept: string | null,
): boolean {
  if (method === "HEAD") return false;
  if (fetchDest !== null) return fetchDest === "document" || fetchDest === "iframe";
  return (accept ?? "").includes("text/html");
}

/**
 * Whether a response could get the client, from its status and headers
 * alone (the body decides the rest: a fragment, or a page that already
 * loads {@linkcode CLIENT_PATH}, is left alone).
 *
 * @param status The response status.
 * @param headers The response headers.
 * @returns `true` for a `text/html` response with content (not 1xx, 204,
 *   205, 206 or 304) in an encoding that can be undone (identity, gzip,
 *   deflate).
 *
 * @example An HTML page qualifies, a 304 does not
 * ```ts
 * import { isInjectableResponse } from "./injection.ts";
 *
 * const headers = new Headers({ "content-type": "text/html; charset=utf-8" });
 * if (!isInjectableResponse(200, headers)) throw new Error();
 * if (isInjectableResponse(304, headers)) throw new Error();
 * ```
 */
export function isInjectableResponse(status: number, headers: Headers): boolean {
  if (status < 200 || UNTOUCHED_STATUSES.has(status)) return false;
  if (mediaType(headers) !== "text/html") return false;
  const encoding = contentEncoding(headers);
  return encoding === "identity" || encoding in DECODABLE_ENCODINGS;
}

function mayInject(request: Request, response: Response): boolean {
  // Response headers first: after a WebSocket upgrade (101) the request can
  // no longer be read, and reading `response.body` turns a string body into
  // a stream, which would cost every non-HTML response its Content-Length.
  if (!isInjectableResponse(response.status, response.headers)) return false;
  const headers = request.headers;
  return isPageLoadRequest(request.method, headers.get("sec-fetch-dest"), headers.get("accept")) &&
    !response.bodyUsed &&
    response.body !== null;
}

/** The directives that govern a `<script src>`, most specific first. */
const SCRIPT_DIRECTIVES = ["script-src-elem", "script-src", "default-src"];

/**
 * Finds the nonce a response's Content-Security-Policy allows scripts with.
 *
 * @param headers The response headers.
 * @returns The nonce, or `undefined` when the policy has none.
 */
export function scriptNonce(headers: Headers): string | undefined {
  const policies = (headers.get("content-security-policy") ?? "").split(",");
  for (const policy of policies) {
    const directives = new Map(
      policy.split(";").map((directive) => {
        const [name = "", ...sources] = directive.trim().split(/\s+/);
        return [name.toLowerCase(), sources] as const;
      }),
    );
    const governing = SCRIPT_DIRECTIVES.find((name) => directives.has(name));
    const sources = governing ? directives.get(governing)! : [];
    const nonce = sources.map((source) => /^'nonce-([^']+)'$/i.exec(source)?.[1]).find(Boolean);
    if (nonce) return nonce;
  }
  return undefined;
}

function scriptTag(scriptUrl: string, nonce: string | undefined): string {
  const nonceAttribute = nonce ? ` nonce="${escapeHtml(nonce)}"` : "";
  return `<script src="${escapeHtml(scriptUrl)}"${nonceAttribute} defer></script>`;
}

/**
 * The headers of the changed response. Validators go: they describe the
 * app's bytes, and a 304 answered from them would bring back a cached page
 * whose script names an older child generation, which then reloads again.
 */
function injectedHeaders(response: Response, decoded: boolean): Headers {
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  headers.delete("etag");
  headers.delete("last-modified");
  if (decoded) headers.delete("content-encoding");
  return headers;
}

function decodedBody(response: Response): ReadableStream<Uint8Array> {
  const format = DECODABLE_ENCODINGS[contentEncoding(response.headers)];
  const body = response.body!;
  return format ? body.pipeThrough(new DecompressionStream(format)) : body;
}

function isBuffered(response: Response): boolean {
  const length = Number(response.headers.get("content-length") ?? NaN);
  return Number.isInteger(length) && length <= BUFFER_LIMIT_BYTES;
}

function joinChunks(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const joined = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

function rebuilt(response: Response, body: BodyInit | null, headers: Headers): Response {
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers,
  });
}

/** Undoes a body's Content-Encoding; `undefined` when it does not decode. */
async function decodeWhole(
  raw: Uint8Array<ArrayBuffer>,
  format: CompressionFormat | undefined,
): Promise<Uint8Array | undefined> {
  if (!format) return raw;
  try {
    const decoded = new Response(raw).body!.pipeThrough(new DecompressionStream(format));
    return new Uint8Array(await new Response(decoded).arrayBuffer());
  } catch (error) {
    if (error instanceof TypeError) return undefined; // a corrupt or truncated body
    throw error;
  }
}

async function injectBuffered(response: Response, tag: string): Promise<Response> {
  return await injectWhole(response, new Uint8Array(await response.arrayBuffer()), tag);
}

async function injectWhole(
  response: Response,
  raw: Uint8Array<ArrayBuffer>,
  tag: string,
): Promise<Response> {
  const format = DECODABLE_ENCODINGS[contentEncoding(response.headers)];
  const bytes = await decodeWhole(raw, format);
  const injector = new Injector(tag, Infinity);
  const body = bytes && joinChunks([...injector.push(bytes), ...injector.end()]);
  // A fragment, a page that has the script, or a body that does not decode:
  // send the app's bytes as they came.
  if (!body || !injector.injected) return rebuilt(response, raw, new Headers(response.headers));
  const headers = injectedHeaders(response, format !== undefined);
  headers.set("content-length", String(body.length));
  return rebuilt(response, body, headers);
}

const NOT_YET = Symbol("not yet");
/**
 * Microtask hops within which a read of a body held in memory settles (it
 * takes 2 in Deno 2.9); a body still arriving from I/O never does.
 */
const IN_MEMORY_HOPS = 8;

/** Resolves with the promise's outcome if it settles within a few microtasks, else NOT_YET. */
async function settlesAtOnce<T>(promise: Promise<T>): Promise<T | typeof NOT_YET> {
  let outcome: { value: T } | { error: unknown } | undefined;
  promise.then((value) => outcome = { value }, (error) => outcome = { error });
  for (let hop = 0; hop < IN_MEMORY_HOPS && !outcome; hop++) await null;
  if (!outcome) return NOT_YET;
  if ("error" in outcome) throw outcome.error;
  return outcome.value;
}

/**
 * A body without Content-Length: a `Response` made from a string or bytes
 * (most pages) has its whole body in memory, and its reads settle at once;
 * such a body is injected whole and keeps a Content-Length. A body that is
 * still arriving after a few microtasks is streamed.
 */
async function injectUnknownLength(response: Response, tag: string): Promise<Response> {
  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let pending = reader.read();
  while (size <= BUFFER_LIMIT_BYTES) {
    const result = await settlesAtOnce(pending);
    if (result === NOT_YET) break;
    if (result.done) return await injectWhole(response, joinChunks(chunks), tag);
    chunks.push(result.value);
    size += result.value.length;
    pending = reader.read();
  }
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
    },
    async pull(controller) {
      const result = await pending;
      if (result.done) {
        controller.close();
        return;
      }
      controller.enqueue(result.value);
      pending = reader.read();
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return injectStreaming(rebuilt(response, rest, new Headers(response.headers)), tag);
}

function injectStreaming(response: Response, tag: string): Response {
  const injector = new Injector(tag, SNIFF_LIMIT_BYTES);
  const emit = (controller: TransformStreamDefaultController<Uint8Array>, out: Uint8Array[]) => {
    for (const piece of out) controller.enqueue(piece);
  };
  const body = decodedBody(response).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => emit(controller, injector.push(chunk)),
      flush: (controller) => emit(controller, injector.end()),
    }),
  );
  const decoded = contentEncoding(response.headers) !== "identity";
  return rebuilt(response, body, injectedHeaders(response, decoded));
}

/**
 * Adds one `<script src=... defer>` to HTML responses; returns other
 * responses unchanged.
 *
 * Only `text/html` responses with a body (not HEAD, 204, 205, 206, 304,
 * 1xx) that look like a document get it: one with a doctype, `<html`,
 * `<head` or `<body`, but not an HTML fragment (htmx), and not one that
 * already loads {@linkcode CLIENT_PATH}. gzip and deflate bodies are
 * decompressed and sent without `Content-Encoding`; other encodings are
 * left alone. A nonce in the response's Content-Security-Policy goes on
 * the tag. The original body is either returned untouched, read whole, or
 * piped (so cancelling the new body cancels it).
 *
 * @param request The request (its method decides).
 * @param response The app's response.
 * @param scriptUrl The script to add, from {@linkcode clientScriptUrl}.
 * @returns The response, changed or not; a promise when the body is read whole.
 *
 * @example Add the script to a page
 * ```ts
 * import assert from "node:assert/strict";
 * import { injectLiveReload } from "./injection.ts";
 *
 * const page = new Response("<!doctype html><body>hi</body>", {
 *   headers: { "content-type": "text/html" },
 * });
 * const navigation = new Request("http://localhost/", { headers: { accept: "text/html" } });
 * const injected = await injectLiveReload(navigation, page, "/s.js");
 * assert.match(await injected.text(), /<script src="\/s.js" defer><\/script><\/body>$/);
 * ```
 */
export function injectLiveReload(
  request: Request,
  response: Response,
  scriptUrl: string,
): Response | Promise<Response> {
  if (!mayInject(request, response)) return response;
  const tag = scriptTag(scriptUrl, scriptNonce(response.headers));
  return isBuffered(response) ? injectBuffered(response, tag) : injectUnknownLength(response, tag);
}
