/**
 * devsrv's rules at the edge: the Host guard and the live-reload injection
 * as the front's `screen` and `rewriter` options, so that they hold for
 * whatever server the app starts in the child (`Deno.serve`, or Express,
 * Koa and Fastify through `node:http`). The rules themselves are
 * `security/` and `live_reload/` (`guardHost` in `request_guard.ts`; `isPageLoadRequest`,
 * `isInjectableResponse` and `injectLiveReload` in `injection.ts`); this
 * module only feeds them what the front reads from the heads.
 *
 * @module
 */

import type { ServeOptions } from "../options.ts";
import {
  injectLiveReload,
  isInjectableResponse,
  isPageLoadRequest,
} from "../live_reload/injection.ts";
import { guardHost } from "../security/request_guard.ts";
import { isDevsrvPath } from "../live_reload/paths.ts";
import type { FrontOptions, RequestHead, ResponseRewriter } from "../front/front.ts";

/** The front's options that carry devsrv's rules. */
export type FrontPolicy = Pick<FrontOptions, "screen" | "rewriter">;

/** Hosts remembered as allowed; the memo starts over when it is full. */
const ALLOWED_HOSTS_REMEMBERED = 16;
const SLASH = 0x2f;

/**
 * Builds the front's `screen` (the Host allow-list, on every request) and,
 * with live reload on, its `rewriter` (the client script added to HTML page
 * loads).
 *
 * The screen answers exactly as `guardRequest` does in a server (400 without
 * `Host`, 403 for a host not allowed, judged on the raw `Host` and an
 * absolute-form target). It remembers the last few hosts it allowed with an
 * origin-form target (`/...`), whose verdict depends on the host alone, so
 * that an ordinary request costs a string comparison.
 *
 * The rewriter takes page loads (not `HEAD`) whose response is a `text/html`
 * page with content, except devsrv's own pages under `/__devsrv` (which
 * carry the script when they need it), and hands them to
 * `injectLiveReload`, which leaves fragments and pages that already load
 * the client alone.
 *
 * @param options `allowedHosts` (`--allowed-host`) and `liveReload`.
 * @param scriptUrl Returns the client script URL for a page being served
 *   now, e.g. `clientScriptUrl(generation)`; asked once per rewritten page.
 * @returns The options to spread into `startFront`'s.
 *
 * @example Refuse a foreign Host, pass a local one
 * ```ts
 * import { frontPolicy } from "./front_policy.ts";
 * import { parseRequestHead } from "../front/http1.ts";
 *
 * const { screen } = frontPolicy({ allowedHosts: [], liveReload: true }, () => "/s.js");
 * const head = (host: string) => {
 *   const bytes = new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
 *   return parseRequestHead(bytes, 0, bytes.length);
 * };
 * if (screen?.(head("evil.example"))?.status !== 403) throw new Error();
 * if (screen?.(head("localhost:8000")) !== undefined) throw new Error();
 * ```
 */
export function frontPolicy(
  options: Pick<ServeOptions, "allowedHosts" | "liveReload">,
  scriptUrl: () => string,
): FrontPolicy {
  const screen = hostScreen(options.allowedHosts);
  return options.liveReload ? { screen, rewriter: liveReloadRewriter(scriptUrl) } : { screen };
}

function hostScreen(allowedHosts: string[]): (head: RequestHead) => Response | undefined {
  const guard = { allowedHosts };
  const allowed = new Set<string>();
  return (head) => {
    const originForm = head.target.charCodeAt(0) === SLASH;
    if (originForm && head.host !== null && allowed.has(head.host)) return undefined;
    const refusal = guardHost(head.host, head.target, guard);
    if (refusal !== null) return refusal;
    if (originForm && head.host !== null) {
      if (allowed.size >= ALLOWED_HOSTS_REMEMBERED) allowed.clear();
      allowed.add(head.host);
    }
    return undefined;
  };
}

function liveReloadRewriter(scriptUrl: () => string): ResponseRewriter {
  return {
    wantsRequest: (head) =>
      isPageLoadRequest(head.method, head.fetchDest, head.accept) && !isDevsrvPath(head.target),
    wantsResponse: (status, headers) => isInjectableResponse(status, headers),
    rewrite: (request, response) => injectLiveReload(request, response, scriptUrl()),
  };
}
