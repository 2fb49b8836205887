/**
 * The static file server behind `devsrv serve DIR`: files with their
 * content type, validators (`ETag`, `Last-Modified`) and byte ranges,
 * `index.html` for directories or else a listing, and safety against
 * hostile request paths.
 *
 * Every request path goes through {@linkcode parseRequestPath} first; what
 * it lets through is then resolved with `Deno.realPath` and must still lie
 * inside the root's real path, so a symlink can only lead to a file that
 * could have been asked for directly. Responses always carry
 * `Cache-Control: no-cache`: a development server wants every load to
 * revalidate, and answers unchanged files with 304.
 *
 * @module
 */

import { join } from "node:path";
import mime from "npm:mime@4.1.2/lite";
import { readListing, renderListing } from "./dir_listing.ts";
import {
  parseRequestPath,
  rawPathAndQuery,
  type SafePath,
  servableSegmentsBelow,
} from "./path_safety.ts";

/** Options for {@linkcode serveStatic}. */
export interface StaticOptions {
  /** The directory to serve, as an absolute path. */
  root: string;
  /**
   * Serve dotfiles and dot-folders (`.env`, `.git/`) and key material
   * (`*.pem`, `*.key`, `*.crt`, `*.p12`, `*.pfx`) too, and list them.
   * Key material is refused whenever dotfiles are, since both are secrets
   * that end up in a project folder by accident.
   *
   * @default {false}
   */
  dotfiles?: boolean;
}

/** A single byte range of a file, both ends included. */
export interface ByteRange {
  /** Offset of the first byte. */
  start: number;
  /** Offset of the last byte. */
  end: number;
}

/** The methods a static file server answers. */
const ALLOWED_METHODS = ["GET", "HEAD"];

/** Bytes read from a file per chunk of a response body. */
const CHUNK_BYTES = 64 * 1024;

const INDEX_FILE = "index.html";

const FALLBACK_CONTENT_TYPE = "application/octet-stream";

const encoder = new TextEncoder();

/** Non-`text/*` types that are text too and so need a charset. */
const TEXT_LIKE_TYPES = new Set([
  "application/javascript",
  "application/json",
  "application/ld+json",
  "application/manifest+json",
  "application/xml",
  "image/svg+xml",
]);

/**
 * TypeScript sources, which `mime` knows only as MPEG transport streams
 * (`.ts`), in a Deno project would otherwise download as video.
 */
const SOURCE_TYPES: Record<string, string> = {
  ts: "text/typescript",
  mts: "text/typescript",
  cts: "text/typescript",
  tsx: "text/tsx",
};

const STATUS_TEXT: Record<number, string> = {
  301: "Moved Permanently",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  414: "URI Too Long",
  416: "Range Not Satisfiable",
};

/**
 * Serves one request from the directory.
 *
 * Never throws for a client's input: malformed paths get 400, refused or
 * missing ones 404, unreadable ones 403. Only a failure of the server
 * itself (such as an I/O error) is thrown.
 *
 * @param request The request; its path is read raw from `request.url`.
 * @param options The root and whether dotfiles are served.
 * @returns The response, with its body streamed from the file.
 * @throws {Error} When the file system fails in a way no request can cause,
 * such as an I/O error.
 *
 * @example Serve a file from a temporary directory
 * ```ts
 * import { serveStatic } from "./static_files.ts";
 *
 * const root = await Deno.makeTempDir();
 * try {
 *   await Deno.writeTextFile(`${root}/hello.txt`, "hello");
 *   const response = await serveStatic(
 *     new Request("http://localhost/hello.txt"),
 *     { root },
 *   );
 *   if (await response.text() !== "hello") throw new Error();
 *   const type = response.headers.get("content-type");
 *   if (type !== "text/plain; charset=utf-8") throw new Error();
 * } finally {
 *   await Deno.remove(root, { recursive: true });
 * }
 * ```
 */
export async function serveStatic(
  request: Request,
  options: StaticOptions,
): Promise<Response> {
  if (!ALLOWED_METHODS.includes(request.method)) {
    return statusResponse(request, 405, { allow: ALLOWED_METHODS.join(", ") });
  }
  const target = rawPathAndQuery(request.url);
  const path = parseRequestPath(target.path, options);
  if (!path.ok) return statusResponse(request, path.status);
  try {
    return await serveSafePath(request, path, target.query, options);
  } catch (error) {
    const status = statusForFsError(error);
    if (status === undefined) throw error;
    return statusResponse(request, status);
  }
}

/**
 * File system errors that a request can run into: they describe what is
 * (not) at the requested path, not a broken server.
 */
function statusForFsError(error: unknown): 403 | 404 | undefined {
  if (
    error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable
  ) {
    return 403;
  }
  if (
    error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.IsADirectory ||
    error instanceof Deno.errors.FilesystemLoop ||
    isNameTooLong(error)
  ) {
    return 404;
  }
  return undefined;
}

/** Deno has no class for ENAMETOOLONG; a path that long names nothing. */
function isNameTooLong(error: unknown): boolean {
  return error instanceof Error && "code" in error &&
    error.code === "ENAMETOOLONG";
}

async function serveSafePath(
  request: Request,
  path: SafePath,
  query: string,
  options: StaticOptions,
): Promise<Response> {
  const root = await Deno.realPath(options.root);
  const real = await resolveInside(root, path.segments, options);
  if (real === undefined) return statusResponse(request, 404);
  const info = await Deno.stat(real);
  if (info.isDirectory) {
    if (!path.trailingSlash) {
      return redirectToDirectory(request, path.segments, query);
    }
    return await serveDirectory(request, root, real, path.segments, options);
  }
  if (!info.isFile || path.trailingSlash) return statusResponse(request, 404);
  return await serveFile(request, real, info);
}

/**
 * Follows symlinks and returns the real path, or `undefined` when that
 * leaves the root or passes through a name the policy refuses.
 */
async function resolveInside(
  root: string,
  segments: readonly string[],
  options: StaticOptions,
): Promise<string | undefined> {
  const real = await Deno.realPath(join(root, ...segments));
  return servableSegmentsBelow(root, real, options) ? real : undefined;
}

/**
 * Redirects `/dir` to `/dir/`. The Location is rebuilt from the decoded
 * names, each re-encoded, so it always starts with one `/` followed by a
 * name: a request for `//evil.com/dir` cannot become a protocol-relative
 * redirect to another host.
 */
function redirectToDirectory(
  request: Request,
  segments: readonly string[],
  query: string,
): Response {
  const path = segments.map((segment) => `/${encodeURIComponent(segment)}`);
  const location = `${path.join("")}/${safeQuery(query)}`;
  return statusResponse(request, 301, { location });
}

/** Keeps a query only when it is plain visible ASCII, fit for a header. */
function safeQuery(query: string): string {
  return /^\?[\x21-\x7e]*$/.test(query) ? query : "";
}

async function serveDirectory(
  request: Request,
  root: string,
  directory: string,
  segments: readonly string[],
  options: StaticOptions,
): Promise<Response> {
  const index = await findIndexFile(root, segments, options);
  if (index) return await serveFile(request, index.path, index.info);
  const entries = await readListing(directory, root, options);
  const html = renderListing(segments, entries);
  return new Response(request.method === "HEAD" ? null : html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-length": String(encoder.encode(html).length),
      "cache-control": "no-cache",
    },
  });
}

async function findIndexFile(
  root: string,
  segments: readonly string[],
  options: StaticOptions,
): Promise<{ path: string; info: Deno.FileInfo } | undefined> {
  try {
    const path = await resolveInside(root, [...segments, INDEX_FILE], options);
    if (path === undefined) return undefined;
    const info = await Deno.stat(path);
    return info.isFile ? { path, info } : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function serveFile(
  request: Request,
  path: string,
  info: Deno.FileInfo,
): Promise<Response> {
  const validators = validatorHeaders(info);
  if (isNotModified(request.headers, validators)) {
    return new Response(null, { status: 304, headers: validators });
  }
  const headers = new Headers(validators);
  headers.set("content-type", contentTypeFor(path));
  headers.set("accept-ranges", "bytes");
  const range = requestedRange(request.headers, info.size, validators);
  if (range === "unsatisfiable") {
    headers.set("content-range", `bytes */${info.size}`);
    return statusResponse(request, 416, Object.fromEntries(headers));
  }
  const { start, end } = range ?? { start: 0, end: info.size - 1 };
  const length = end - start + 1;
  headers.set("content-length", String(length));
  if (range) headers.set("content-range", `bytes ${start}-${end}/${info.size}`);
  const body = request.method === "HEAD" || length === 0
    ? null
    : await openFileSlice(path, start, length);
  return new Response(body, { status: range ? 206 : 200, headers });
}

/** `ETag`, `Last-Modified` and `Cache-Control`, sent with 200, 206 and 304. */
function validatorHeaders(info: Deno.FileInfo): Record<string, string> {
  const modified = info.mtime?.getTime() ?? 0;
  const headers: Record<string, string> = {
    "etag": `W/"${info.size.toString(16)}-${modified.toString(16)}"`,
    "cache-control": "no-cache",
  };
  if (info.mtime) headers["last-modified"] = info.mtime.toUTCString();
  return headers;
}

/**
 * `If-None-Match` wins over `If-Modified-Since` (RFC 9110, 13.2.2); entity
 * tags compare weakly, as a GET may.
 */
function isNotModified(
  requestHeaders: Headers,
  validators: Record<string, string>,
): boolean {
  const ifNoneMatch = requestHeaders.get("if-none-match");
  if (ifNoneMatch !== null) {
    return entityTagListMatches(ifNoneMatch, validators["etag"]!);
  }
  const ifModifiedSince = requestHeaders.get("if-modified-since");
  const lastModified = validators["last-modified"];
  if (ifModifiedSince === null || lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && Date.parse(lastModified) <= since;
}

function entityTagListMatches(list: string, entityTag: string): boolean {
  if (list.trim() === "*") return true;
  const opaque = stripWeakPrefix(entityTag);
  return list.split(",").some((tag) => stripWeakPrefix(tag.trim()) === opaque);
}

function stripWeakPrefix(entityTag: string): string {
  return entityTag.startsWith("W/") ? entityTag.slice(2) : entityTag;
}

/**
 * The range to send: `undefined` for the whole file (no Range, a stale
 * If-Range, or a Range this server does not do), else one range or
 * `"unsatisfiable"`.
 */
function requestedRange(
  requestHeaders: Headers,
  size: number,
  validators: Record<string, string>,
): ByteRange | "unsatisfiable" | undefined {
  const range = requestHeaders.get("range");
  if (range === null) return undefined;
  const ifRange = requestHeaders.get("if-range");
  if (ifRange !== null && !ifRangeHolds(ifRange, validators)) return undefined;
  return parseRange(range, size);
}

/**
 * If-Range needs a strong validator (RFC 9110, 13.1.5). The weak ETag never
 * is one, so only a date equal to Last-Modified lets the range through.
 */
function ifRangeHolds(
  ifRange: string,
  validators: Record<string, string>,
): boolean {
  const lastModified = validators["last-modified"];
  if (ifRange.trimStart().startsWith('"') || lastModified === undefined) {
    return false;
  }
  const date = Date.parse(ifRange);
  return !Number.isNaN(date) && date === Date.parse(lastModified);
}

/**
 * Parses a `Range` header with one byte range: `bytes=a-b`, `bytes=a-` or
 * the suffix form `bytes=-n`.
 *
 * @param header The `Range` header's value.
 * @param size The file's size in bytes.
 * @returns The range clamped to the file; `"unsatisfiable"` when it starts
 * past the end (answer 416); `undefined` when the header is malformed,
 * names another unit or several ranges (answer with the whole file).
 *
 * @example Parse the three forms
 * ```ts
 * import { parseRange } from "./static_files.ts";
 *
 * const check = (header: string, expected: string) => {
 *   const actual = String(JSON.stringify(parseRange(header, 100)));
 *   if (actual !== expected) throw new Error(`${header}: ${actual}`);
 * };
 * check("bytes=10-19", `{"start":10,"end":19}`);
 * check("bytes=90-", `{"start":90,"end":99}`);
 * check("bytes=-5", `{"start":95,"end":99}`);
 * check("bytes=100-", `"unsatisfiable"`);
 * check("bytes=0-1,5-6", "undefined");
 * ```
 */
export function parseRange(
  header: string,
  size: number,
): ByteRange | "unsatisfiable" | undefined {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return undefined;
  const [, first = "", last = ""] = match;
  if (first === "") {
    if (last === "") return undefined;
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Number(last);
  if (end < start) return undefined;
  return { start, end: Math.min(end, size - 1) };
}

function contentTypeFor(path: string): string {
  const extension = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  const type = SOURCE_TYPES[extension] ?? mime.getType(path) ??
    FALLBACK_CONTENT_TYPE;
  const isText = type.startsWith("text/") || TEXT_LIKE_TYPES.has(type);
  return isText ? `${type}; charset=utf-8` : type;
}

/** Opens a file at `start`; the returned stream owns and closes it. */
async function openFileSlice(
  path: string,
  start: number,
  length: number,
): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path, { read: true });
  try {
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
  } catch (error) {
    file.close();
    throw error;
  }
  return fileSliceStream(file, length);
}

/**
 * Streams exactly `length` bytes, so a file that grows while it is sent
 * (an editor saving) cannot overrun the announced Content-Length; one that
 * shrinks errors the stream, which aborts the response.
 */
function fileSliceStream(
  file: Deno.FsFile,
  length: number,
): ReadableStream<Uint8Array> {
  let remaining = length;
  let open = true;
  const closeFile = () => {
    if (open) file.close();
    open = false;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = new Uint8Array(Math.min(CHUNK_BYTES, remaining));
        const read = await file.read(chunk);
        if (read === null) {
          throw new Error(`File ended ${remaining} bytes early`);
        }
        remaining -= read;
        controller.enqueue(chunk.subarray(0, read));
        if (remaining > 0) return;
        closeFile();
        controller.close();
      } catch (error) {
        closeFile();
        controller.error(error);
      }
    },
    cancel: closeFile,
  }, { highWaterMark: 0 }); // read only when the connection asks for more
}

/** A short plain-text response for a status; HEAD gets the headers only. */
function statusResponse(
  request: Request,
  status: number,
  headers: Record<string, string> = {},
): Response {
  const text = `${status} ${STATUS_TEXT[status] ?? ""}\n`;
  return new Response(request.method === "HEAD" ? null : text, {
    status,
    headers: {
      ...headers,
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
    },
  });
}
