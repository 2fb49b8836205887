/**
 * Path safety for the static file server, as pure functions (no file
 * system access): split a request URL into its raw path, decode and
 * normalise that path into segments that are safe to join onto the served
 * directory, and check that a real path (after symlinks) stays inside it.
 *
 * Every inbound path is treated as hostile. A path is refused with 400 when
 * it is malformed (bad percent-encoding, NUL or other control characters,
 * backslashes, an encoded `/` or `\` inside a segment) and with 404 when it
 * is well formed but names something that is never served: a `..` that
 * would leave the root, a dotfile or dot-folder, key material, or a name
 * that Windows would silently rewrite (`file.txt.`, `file.txt::$DATA`,
 * `CON`).
 *
 * @module
 */

import { isAbsolute, relative, sep } from "node:path";

/** Longest raw request path accepted; longer ones get 414 URI Too Long. */
export const MAX_PATH_LENGTH = 4096;

/** Longest file name, in UTF-8 bytes, that common file systems can hold. */
export const MAX_NAME_BYTES = 255;

/** File extensions of private keys and certificates (compared lower case). */
export const KEY_MATERIAL_EXTENSIONS: readonly string[] = [
  ".pem",
  ".key",
  ".crt",
  ".p12",
  ".pfx",
];

/** Windows device names, which name a device in every folder there. */
const WINDOWS_DEVICE_NAME = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** C0 controls and DEL: no legitimate file name served over HTTP has them. */
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/** A `%` that does not start a two-digit hex escape. */
const BROKEN_PERCENT_ESCAPE = /%(?![0-9a-fA-F]{2})/;

const encoder = new TextEncoder();

/** What may be served besides ordinary names. */
export interface PathPolicy {
  /**
   * Serve dotfiles, dot-folders and key material (`*.pem`, `*.key`,
   * `*.crt`, `*.p12`, `*.pfx`) too. Names that Windows rewrites are refused
   * regardless.
   *
   * @default {false}
   */
  dotfiles?: boolean;
}

/** A status the static server answers instead of serving a path. */
export type RefusalStatus = 400 | 404 | 414;

/** A request path that must not be served, and the status to answer. */
export interface PathRefusal {
  /** Always `false`: the path is refused. */
  ok: false;
  /** 400 for malformed paths, 404 for refused names, 414 for long paths. */
  status: RefusalStatus;
  /** Why, for logs and tests; never sent to the client. */
  reason: string;
}

/** A request path reduced to plain names below the served directory. */
export interface SafePath {
  /** Always `true`: the path may be looked up. */
  ok: true;
  /** Decoded names, none empty, `.`, `..`, or refused by the policy. */
  segments: string[];
  /** Whether the raw path ended in `/`, i.e. asked for a directory. */
  trailingSlash: boolean;
}

/** The verdict of {@linkcode parseRequestPath}. */
export type RequestPath = SafePath | PathRefusal;

/** The raw path and query of a request URL, exactly as they arrived. */
export interface RawTarget {
  /** The path, still percent-encoded and not normalised; starts with `/`. */
  path: string;
  /** The query including its `?`, or `""`. */
  query: string;
}

function refuse(status: RefusalStatus, reason: string): PathRefusal {
  return { ok: false, status, reason };
}

/**
 * Takes the path and query out of a request URL without normalising them.
 *
 * `new URL()` would resolve `..`, `%2e%2e` and backslashes before they
 * could be seen and refused; `Deno.serve` hands the request target over as
 * it arrived, so this reads it as a string instead.
 *
 * @param url A request's `url`.
 * @returns The raw path (`"/"` when there is none) and query.
 *
 * @example Keep a dot-segment that `new URL()` would resolve
 * ```ts
 * import { rawPathAndQuery } from "./path_safety.ts";
 *
 * const target = rawPathAndQuery("http://127.0.0.1:8000/a/../b?x=1#top");
 * if (target.path !== "/a/../b" || target.query !== "?x=1") throw new Error();
 * ```
 */
export function rawPathAndQuery(url: string): RawTarget {
  const authorityStart = url.indexOf("://");
  const pathStart = authorityStart === -1 ? -1 : url.indexOf("/", authorityStart + 3);
  if (pathStart === -1) return { path: "/", query: "" };
  const fragmentStart = indexOrEnd(url, "#", pathStart);
  const queryStart = Math.min(indexOrEnd(url, "?", pathStart), fragmentStart);
  return {
    path: url.slice(pathStart, queryStart),
    query: url.slice(queryStart, fragmentStart),
  };
}

function indexOrEnd(text: string, search: string, from: number): number {
  const index = text.indexOf(search, from);
  return index === -1 ? text.length : index;
}

/**
 * Decodes, normalises and checks the path of a request.
 *
 * Empty segments (`//`) are skipped, `.` is dropped and `..` removes the
 * previous name; a `..` with nothing left to remove would leave the root
 * and is refused. Each segment is decoded exactly once, so `%252e` stays
 * the literal name `%2e`.
 *
 * @param pathname The raw path, as from {@linkcode rawPathAndQuery}.
 * @param policy Whether dotfiles and key material are served.
 * @returns Safe segments, or a refusal with the status to answer.
 *
 * @example Refuse a way out of the root and accept a plain path
 * ```ts
 * import { parseRequestPath } from "./path_safety.ts";
 *
 * const escape = parseRequestPath("/%2e%2e/secret");
 * if (escape.ok || escape.status !== 404) throw new Error();
 *
 * const page = parseRequestPath("/docs/caf%C3%A9.html");
 * if (!page.ok || page.segments.join("/") !== "docs/café.html") {
 *   throw new Error();
 * }
 * ```
 */
export function parseRequestPath(
  pathname: string,
  policy: PathPolicy = {},
): RequestPath {
  if (pathname.length > MAX_PATH_LENGTH) {
    return refuse(414, `Path is longer than ${MAX_PATH_LENGTH} characters`);
  }
  if (!pathname.startsWith("/")) {
    return refuse(400, `Path "${pathname}" does not start with "/"`);
  }
  if (pathname.includes("\\")) {
    return refuse(400, `Path "${pathname}" contains a backslash`);
  }
  const segments = normaliseSegments(pathname.split("/"));
  if (!Array.isArray(segments)) return segments;
  for (const segment of segments) {
    const refusal = refusalForName(segment, policy);
    if (refusal) return refusal;
  }
  return { ok: true, segments, trailingSlash: pathname.endsWith("/") };
}

function normaliseSegments(rawSegments: string[]): string[] | PathRefusal {
  const segments: string[] = [];
  for (const raw of rawSegments) {
    if (raw === "") continue;
    const name = decodeSegment(raw);
    if (typeof name !== "string") return name;
    if (name === ".") continue;
    if (name === "..") {
      if (segments.pop() === undefined) {
        return refuse(404, `Path segment "${raw}" leaves the root`);
      }
      continue;
    }
    segments.push(name);
  }
  return segments;
}

function decodeSegment(raw: string): string | PathRefusal {
  if (BROKEN_PERCENT_ESCAPE.test(raw)) {
    return refuse(400, `Path segment "${raw}" has a broken percent escape`);
  }
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch (error) {
    // Escapes that are not UTF-8, such as the overlong "%c0%ae" for ".".
    if (!(error instanceof URIError)) throw error;
    return refuse(400, `Path segment "${raw}" is not UTF-8`);
  }
  if (CONTROL_CHARACTER.test(name)) {
    return refuse(400, `Path segment "${raw}" has a control character`);
  }
  if (name.includes("/") || name.includes("\\")) {
    return refuse(400, `Path segment "${raw}" hides a path separator`);
  }
  return name;
}

/**
 * Tells whether one decoded file name may be served, and if not, why.
 *
 * Used on each segment of a request path, on each segment of a real path
 * below the root (a symlink must not lead to a refused name) and on each
 * entry of a directory listing.
 *
 * @param name One decoded path segment, without separators.
 * @param policy Whether dotfiles and key material are served.
 * @returns `undefined` when the name may be served, else a 404 refusal.
 *
 * @example Hide an env file unless dotfiles are on
 * ```ts
 * import { refusalForName } from "./path_safety.ts";
 *
 * if (refusalForName(".env") === undefined) throw new Error();
 * if (refusalForName(".env", { dotfiles: true }) !== undefined) {
 *   throw new Error();
 * }
 * ```
 */
export function refusalForName(
  name: string,
  policy: PathPolicy = {},
): PathRefusal | undefined {
  if (encoder.encode(name).length > MAX_NAME_BYTES) {
    return refuse(404, `Name "${name.slice(0, 32)}…" is too long`);
  }
  if (CONTROL_CHARACTER.test(name) || name.includes("\\")) {
    // Only reachable from names on disk: a request for them is a 400.
    return refuse(404, `Name "${name}" cannot be requested`);
  }
  if (isWindowsAlias(name)) {
    return refuse(404, `Name "${name}" is rewritten by Windows`);
  }
  if (policy.dotfiles) return undefined;
  if (name.startsWith(".")) {
    return refuse(404, `Name "${name}" is a dotfile`);
  }
  if (isKeyMaterial(name)) {
    return refuse(404, `Name "${name}" looks like key material`);
  }
  return undefined;
}

/**
 * Windows drops trailing dots and spaces, reads `name:stream` as an
 * alternate data stream and maps device names everywhere, so such a name
 * could reach a different file than the one checked.
 */
function isWindowsAlias(name: string): boolean {
  return name.endsWith(".") || name.endsWith(" ") || name.includes(":") ||
    WINDOWS_DEVICE_NAME.test(name);
}

function isKeyMaterial(name: string): boolean {
  const lower = name.toLowerCase();
  return KEY_MATERIAL_EXTENSIONS.some((extension) => lower.endsWith(extension));
}

/**
 * Works out where a real path lies below a root, comparing whole segments
 * (root `/srv/site` does not contain `/srv/site-secret/x`), and checks each
 * of those segments against the policy.
 *
 * @param root The root's real path.
 * @param target A real path, after symlinks were followed.
 * @param policy Whether dotfiles and key material are served.
 * @returns The names from the root down to `target` (empty for the root
 * itself), or `undefined` when `target` is outside the root or passes
 * through a refused name.
 *
 * @example Tell a sibling folder from a subfolder
 * ```ts
 * import { servableSegmentsBelow } from "./path_safety.ts";
 *
 * if (servableSegmentsBelow("/srv/site", "/srv/site-secret/x") !== undefined) {
 *   throw new Error();
 * }
 * const inside = servableSegmentsBelow("/srv/site", "/srv/site/a/b.txt");
 * if (inside?.join("|") !== "a|b.txt") throw new Error();
 * ```
 */
export function servableSegmentsBelow(
  root: string,
  target: string,
  policy: PathPolicy = {},
): string[] | undefined {
  const path = relative(root, target);
  if (path === "") return [];
  if (isAbsolute(path)) return undefined; // another drive on Windows
  const segments = path.split(sep);
  if (segments[0] === "..") return undefined;
  const refused = segments.some((segment) => refusalForName(segment, policy) !== undefined);
  return refused ? undefined : segments;
}
