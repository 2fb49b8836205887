/**
 * Live reload, browser side: the script every HTML page served by devsrv
 * loads from `/__devsrv/client.js`. It is kept here as a string so that a
 * compiled `devsrv` binary needs no asset files.
 *
 * What the script does, in the page:
 * - reads the child generation that served the page from its own URL
 *   (`?g=`) and listens to {@linkcode EVENTS_PATH};
 * - `hello` naming another generation, or `reload`: reloads the page, once;
 * - `css`: swaps the matching `<link rel=stylesheet>` for a fresh copy and
 *   drops the old one once the new one has loaded, so page state survives;
 *   when no link matches (a sheet pulled in by `@import`), it refreshes all
 *   same-origin stylesheets;
 * - a lost stream: retries with its own back-off (250 ms doubling to 5 s,
 *   instead of EventSource's fixed retry) and shows a small
 *   "devsrv: disconnected" badge until it is back.
 *
 * The source carries no comments of its own, to stay under 3 KB; this
 * block is its commentary.
 *
 * It is an external same-origin script with no eval and no style
 * attributes (the badge is styled through CSSOM inside a shadow root), so
 * it runs under `Content-Security-Policy: script-src 'self'`. It defines
 * no globals. A reload caused by `hello` is remembered in sessionStorage
 * per pair of generations, so a page that keeps arriving stale (a cached
 * copy, a wiring mistake) is reloaded once rather than in a loop.
 *
 * @module
 */

import { EVENTS_PATH } from "./paths.ts";

/** The client's JavaScript source. */
export const CLIENT_JS: string = `(() => {
"use strict";
const script = document.currentScript;
if (!script || typeof EventSource !== "function") return;
const own = new URL(script.src, location.href);
const page = own.searchParams.get("g");
const events = new URL(${JSON.stringify(EVENTS_PATH)}, own);
const FIRST_DELAY = 250, MAX_DELAY = 5000;
let delay = FIRST_DELAY, reloading = false, hidden = false, source, badge;
const replaced = new WeakSet();

function reload() {
  if (reloading) return;
  reloading = true;
  source.close();
  location.reload();
}

function read(event) {
  try { return JSON.parse(event.data) || {}; } catch (e) { if (!(e instanceof SyntaxError)) throw e; return {}; }
}

function stale(generation) {
  const key = "devsrv:" + page + ">" + generation;
  try {
    if (sessionStorage.getItem(key)) return;
    sessionStorage.setItem(key, "1");
  } catch {} // storage blocked or full: error types vary by browser
  reload();
}

function showBadge() {
  if (badge) return;
  badge = document.createElement("devsrv-badge");
  const box = document.createElement("div");
  box.textContent = "devsrv: disconnected";
  box.setAttribute("role", "status");
  Object.assign(box.style, {
    position: "fixed", right: "8px", bottom: "8px", zIndex: "2147483647", padding: "4px 8px",
    borderRadius: "4px", background: "#333", color: "#fff", font: "12px sans-serif",
    opacity: ".85", pointerEvents: "none",
  });
  badge.attachShadow({ mode: "closed" }).append(box);
  (document.body || document.documentElement).append(badge);
}

function hideBadge() {
  if (badge) badge.remove();
  badge = undefined;
}

function swapCss(paths) {
  const wanted = paths.map((path) => new URL(path, location.origin).pathname);
  const links = [...document.querySelectorAll('link[rel~="stylesheet" i][href]')]
    .filter((link) => !replaced.has(link) && new URL(link.href).origin === location.origin);
  const hits = links.filter((link) => wanted.includes(new URL(link.href).pathname));
  for (const old of hits.length ? hits : links) {
    const fresh = old.cloneNode();
    const url = new URL(old.href);
    url.searchParams.set("devsrv", Date.now());
    fresh.href = url;
    replaced.add(old);
    fresh.onload = fresh.onerror = () => old.remove();
    old.after(fresh);
  }
}

function connect() {
  source = new EventSource(events);
  source.addEventListener("hello", (event) => {
    delay = FIRST_DELAY;
    hideBadge();
    const generation = read(event).generation;
    if (page !== null && generation !== undefined && String(generation) !== page) stale(generation);
  });
  source.addEventListener("reload", reload);
  source.addEventListener("css", (event) => swapCss(read(event).paths || []));
  source.onerror = () => {
    source.close();
    if (reloading || hidden) return;
    showBadge();
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, MAX_DELAY);
  };
}

addEventListener("pagehide", () => {
  hidden = true;
  source.close();
});
addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  hidden = false;
  connect();
});
connect();
})();
`;

/**
 * Serves {@linkcode CLIENT_JS} (never cached: a new devsrv may bring a new
 * client).
 *
 * @returns The script response.
 *
 * @example Serve the script
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientResponse } from "./client.ts";
 *
 * const response = clientResponse();
 * assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
 * await response.body?.cancel();
 * ```
 */
export function clientResponse(): Response {
  return new Response(CLIENT_JS, {
    headers: {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    },
  });
}
