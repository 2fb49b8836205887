/**
 * `--no-reload`: one process that loads the app and binds the public port
 * itself, exactly as production would run it.
 *
 * @module
 */

import { type Handler, hostOrDefault, portOrDefault, type ServeOptions } from "../options.ts";
import type { Logger } from "../log.ts";
import { onShutdownSignal } from "../signals.ts";
import { VERSION } from "../version.ts";
import { bindError } from "../listen/address.ts";
import { type RequestFilter, startAppServer, stopGracefully } from "./app_server.ts";
import type { AppSource } from "./app_source.ts";
import { printRunning } from "../listen/banner.ts";
import { statusResponse } from "../pages/status_page.ts";
import { isDevsrvPath, isStatusPath } from "../live_reload/paths.ts";
import { detailsPolicy, hostGuardFilter } from "../security/guard_filters.ts";
import { guardDevsrvEndpoint } from "../security/request_guard.ts";
import { openBrowser } from "../open_browser.ts";
import type { TlsFiles } from "../listen/tls_files.ts";

/**
 * Answers devsrv's own paths in a single process, as the reloader's page
 * server does: `/__devsrv` shows the status, the rest of the reserved
 * prefix is not found, and all of it is same-origin only.
 *
 * @param display The entry as shown.
 * @param allowedHosts `--allowed-host` names.
 * @returns A request filter.
 */
export function singleStatusFilter(display: string, allowedHosts: string[]): RequestFilter {
  return (request) => {
    const path = URL.parse(request.url)?.pathname ?? "/";
    if (!isDevsrvPath(path)) return undefined;
    const refused = guardDevsrvEndpoint(request, { allowedHosts });
    if (refused) return refused;
    if (!isStatusPath(path)) return new Response("Not Found\n", { status: 404 });
    return statusResponse(request, {
      version: VERSION,
      mode: "single",
      parentPid: null,
      childPid: Deno.pid,
      standbyPid: null,
      generation: 1,
      state: "ready",
      entry: display,
      reloader: "none",
      watchRoots: [],
      watchedFiles: 0,
      lastRestart: null,
      error: null,
    });
  };
}

/**
 * Serves in this process until SIGINT or SIGTERM.
 *
 * @param source Where the handler comes from.
 * @param options The serve options.
 * @param log The logger.
 * @param tls HTTPS files, already read.
 * @returns The exit code.
 * @throws {DevsrvError} When the address cannot be bound or the app fails to load.
 */
export async function runSingleProcess(
  source: AppSource,
  options: ServeOptions,
  log: Logger,
  tls: TlsFiles | undefined,
): Promise<number> {
  const handler = await source.load();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = startAppServer({
      hostname: hostOrDefault(options),
      port: portOrDefault(options),
      handler: handler as Handler,
      log,
      logAccess: true,
      ...(tls ? { tls } : {}),
      before: [
        hostGuardFilter(options.allowedHosts),
        singleStatusFilter(source.display, options.allowedHosts),
      ],
      showDetails: detailsPolicy(options, true),
    });
  } catch (error) {
    throw bindError(error, hostOrDefault(options), portOrDefault(options));
  }
  log.info(
    `devsrv ${VERSION} · single process pid ${Deno.pid} (--no-reload) · serving ${source.display}`,
  );
  const [url] = printRunning(log, hostOrDefault(options), server.addr.port, tls !== undefined);
  if (options.open && url) openBrowser(url, (message) => log.warn(message));
  const { signal } = onShutdownSignal();
  const received = await signal;
  log.info(`${received} received · shutting down`);
  await stopGracefully(server, options.graceMs);
  return 0;
}
