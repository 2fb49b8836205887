/**
 * devsrv's own paths: the reserved prefix `/__devsrv` (the status page at
 * its root, live reload's event stream and client script below it), and the
 * one check that tells a request for them from a request for the app. The
 * front, the parent's page server and the single process all ask
 * {@linkcode isDevsrvPath}, so they agree on what is devsrv's.
 *
 * @module
 */

/** The reserved path prefix for devsrv's own endpoints. */
export const DEVSRV_PATH = "/__devsrv";
/** Where the parent serves the live-reload client script. */
export const CLIENT_PATH = `${DEVSRV_PATH}/client.js`;
/** Where the parent serves its server-sent events. */
export const EVENTS_PATH = `${DEVSRV_PATH}/events`;

const SLASH = 0x2f;
const QUESTION_MARK = 0x3f;
/** `scheme://authority` at the start of an absolute-form request-target. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * Tells whether a request is for devsrv's own endpoints: its path is
 * `/__devsrv` or lies below it, whatever the query.
 *
 * @param target A request-target as sent (`/__devsrv?x`, or the
 *   absolute form `http://host/__devsrv`), or a URL's path.
 * @returns `true` for devsrv's paths; `false` for the app's, and for an
 *   authority-form or asterisk-form target.
 *
 * @example
 * ```ts
 * import { isDevsrvPath } from "./paths.ts";
 *
 * if (!isDevsrvPath("/__devsrv") || !isDevsrvPath("/__devsrv/events?x=1")) throw new Error();
 * if (!isDevsrvPath("/__devsrv?format=json")) throw new Error();
 * if (!isDevsrvPath("http://localhost:8000/__devsrv/client.js")) throw new Error();
 * if (isDevsrvPath("/__devsrvx") || isDevsrvPath("/app/__devsrv") || isDevsrvPath("*")) {
 *   throw new Error();
 * }
 * ```
 */
export function isDevsrvPath(target: string): boolean {
  let from = 0;
  if (target.charCodeAt(0) !== SLASH) {
    const authority = ABSOLUTE_FORM.exec(target);
    if (authority === null) return false;
    from = authority[0].length;
  }
  if (!target.startsWith(DEVSRV_PATH, from)) return false;
  const next = target.charCodeAt(from + DEVSRV_PATH.length);
  return Number.isNaN(next) || next === SLASH || next === QUESTION_MARK;
}

/**
 * Tells whether a URL path is the status page's, `/__devsrv` (with or
 * without a trailing slash).
 *
 * @param path A URL's path, without the query.
 * @returns `true` for the status page.
 */
export function isStatusPath(path: string): boolean {
  return path === DEVSRV_PATH || path === `${DEVSRV_PATH}/`;
}

/**
 * URL of the client script for a page served by the given child generation.
 *
 * @param generation The child generation that serves the page.
 * @returns The script's same-origin URL, e.g. `/__devsrv/client.js?g=3`.
 *
 * @example The script URL for generation 3
 * ```ts
 * import { clientScriptUrl } from "./paths.ts";
 *
 * if (clientScriptUrl(3) !== "/__devsrv/client.js?g=3") throw new Error(clientScriptUrl(3));
 * ```
 */
export function clientScriptUrl(generation: number): string {
  return `${CLIENT_PATH}?g=${generation}`;
}
