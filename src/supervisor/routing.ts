/**
 * Where one request goes, decided from the lifecycle's phase alone: to the
 * serving child's server for that public port, to the parent's page server
 * (devsrv's own paths, and every request while the app is broken), held
 * while a child starts, or answered at once when the app runs but has no
 * server for that port. The front asks for every request, so a keep-alive
 * client moves to the new child between two requests.
 *
 * @module
 */

import type { BackendAddress, Route } from "../front/front.ts";
import { isDevsrvPath } from "../live_reload/paths.ts";
import type { Phase } from "./lifecycle.ts";

/** What routing needs to know of a child. */
export interface RoutedChild {
  /** Where each of its servers listens (a loopback port or a Unix socket), by server index. */
  readonly servers: ReadonlyMap<number, BackendAddress>;
  /** Its program's main module has been evaluated: its servers so far are all it starts at load. */
  readonly loaded: boolean;
}

/**
 * Decides where one request goes.
 *
 * @param phase Where the child is in its life.
 * @param index The server (public port) the request came in on.
 * @param target The request-target.
 * @param context The page server's address, and the app's name for the
 *   message of a port without a server.
 * @returns Forward to the child or the page server, hold, or answer 503.
 *
 * @example A starting child holds requests; devsrv's pages never wait
 * ```ts
 * import { routeRequest } from "./routing.ts";
 *
 * const context = { pages: { hostname: "127.0.0.1", port: 9000 }, display: "app.ts" };
 * const child = { servers: new Map(), loaded: false };
 * const starting = { kind: "starting", child, abandoned: false } as const;
 * if (routeRequest(starting, 0, "/", context).kind !== "hold") throw new Error();
 * if (routeRequest(starting, 0, "/__devsrv", context).kind !== "forward") throw new Error();
 * ```
 */
export function routeRequest(
  phase: Phase<RoutedChild>,
  index: number,
  target: string,
  context: { pages: BackendAddress; display: string },
): Route {
  if (isDevsrvPath(target)) return { kind: "forward", backend: context.pages };
  switch (phase.kind) {
    case "ready": {
      const backend = phase.child.servers.get(index);
      if (backend !== undefined) return { kind: "forward", backend };
      // The program has loaded and this port's server is not running (it
      // was shut down, or this version does not start it): as a refused
      // connection would, answer at once rather than hold.
      return phase.child.loaded
        ? {
          kind: "unavailable",
          message: `${context.display} has no server running for this port now; ` +
            "devsrv serves it again when the app starts one",
        }
        : { kind: "hold" };
    }
    case "failed":
      return { kind: "forward", backend: context.pages };
    default:
      return { kind: "hold" };
  }
}
