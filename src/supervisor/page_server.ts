/**
 * The parent's own small HTTP server on a loopback port. The front sends it
 * devsrv's endpoints (`/__devsrv...`: the status page, and live reload's
 * event stream and client script) and, while the app is broken, every
 * other request, which gets the 503 page with the error. Behind the front
 * every request comes from 127.0.0.1, so it applies the Host guard itself
 * and shows error details as the details policy says for a client it
 * cannot see.
 *
 * @module
 */

import { clientResponse } from "../live_reload/client.ts";
import type { LiveReloadHub } from "../live_reload/hub.ts";
import {
  CLIENT_PATH,
  clientScriptUrl,
  EVENTS_PATH,
  isDevsrvPath,
  isStatusPath,
} from "../live_reload/paths.ts";
import type { Logger } from "../log.ts";
import type { ServeOptions } from "../options.ts";
import { type AppFailure, failureResponse } from "../pages/failure_page.ts";
import { type DevsrvStatus, statusResponse } from "../pages/status_page.ts";
import { detailsPolicy } from "../security/guard_filters.ts";
import { guardDevsrvEndpoint, guardRequest } from "../security/request_guard.ts";

/** What the page server reads from the supervisor. */
export interface PageServerState {
  /** `--host` and `--allowed-host` (the guard and the details policy), `--no-live-reload`. */
  options: Pick<ServeOptions, "host" | "allowedHosts" | "liveReload">;
  /** What `/__devsrv` shows now. */
  status(): DevsrvStatus;
  /** Why the app cannot be served, or `undefined` while it starts. */
  failure(): AppFailure | undefined;
  /** The generation that serves now, for the live-reload script of the 503 page. */
  generation(): number;
  /** The live-reload event stream. */
  hub: LiveReloadHub;
}

/**
 * Starts the page server.
 *
 * @param state The supervisor's view.
 * @param log For unexpected errors.
 * @returns The server, on 127.0.0.1 and an ephemeral port.
 */
export function startPageServer(
  state: PageServerState,
  log: Logger,
): Deno.HttpServer<Deno.NetAddr> {
  const { options } = state;
  const guard = { allowedHosts: options.allowedHosts };
  const showDetails = detailsPolicy(options, false);
  return Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: (error) => {
      log.error(`Page server error: ${String(error)}`);
      return new Response("Internal Server Error", { status: 500 });
    },
  }, (request) => {
    // A hostile Host can make Deno's request.url unparseable; the guard
    // refuses such a request, so any path will do to get it there.
    const path = URL.parse(request.url)?.pathname ?? "/";
    const devsrvPath = isDevsrvPath(path);
    const refused = devsrvPath ? guardDevsrvEndpoint(request, guard) : guardRequest(request, guard);
    if (refused) return refused;
    if (options.liveReload && path === EVENTS_PATH) return state.hub.handle(request);
    if (options.liveReload && path === CLIENT_PATH) return clientResponse();
    if (isStatusPath(path)) return statusResponse(request, state.status());
    if (devsrvPath) return new Response("Not Found\n", { status: 404 });
    return failureResponse(request, state.failure(), {
      showDetails: showDetails(request),
      scriptSrc: options.liveReload ? clientScriptUrl(state.generation()) : undefined,
    });
  });
}
