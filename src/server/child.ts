/**
 * The child's side of the reloader: load the app, serve it on a loopback
 * port, report "ready" (or why it failed) to the parent, stop gracefully on
 * SIGTERM, and exit at once when the parent is gone.
 *
 * @module
 */

import { type ChildMessage, connectToParent, type FailureReport } from "../channel.ts";
import type { ServeOptions } from "../cli/options.ts";
import { DevsrvError, stripAnsi } from "../errors.ts";
import { createLogger } from "../log.ts";
import { onShutdownSignal } from "../signals.ts";
import { AppLoadError } from "./app_loader.ts";
import { startAppServer, stopGracefully } from "./app_server.ts";
import type { AppSource } from "./app_source.ts";
import { detailsPolicy, hostGuardFilter } from "./guard_filters.ts";
import { clientScriptUrl, injectLiveReload } from "./live_reload.ts";

/** Exit code of a child whose app could not be loaded. */
export const LOAD_FAILED_EXIT_CODE = 1;
/** Exit code of a child whose parent disappeared. */
export const PARENT_GONE_EXIT_CODE = 0;

/**
 * Describes a load failure for the parent's terminal and 503 page.
 *
 * @param error What loading threw.
 * @returns The report.
 */
export function failureReport(error: unknown): FailureReport {
  if (error instanceof DevsrvError) {
    const report: FailureReport = {
      message: error.message,
      detail: error instanceof AppLoadError ? error.detail : "",
    };
    if (error.fix) report.fix = error.fix;
    if (error instanceof AppLoadError && error.location) {
      report.file = error.location.file;
      report.line = error.location.line;
      report.column = error.location.column;
    }
    return report;
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return {
    message: stripAnsi(text.split("\n")[0] ?? ""),
    detail: stripAnsi(text),
  };
}

/**
 * Runs as the reloader's child until SIGTERM or the parent's loss.
 *
 * @param source Where the handler comes from.
 * @param options The serve options (the same argv as the parent's).
 * @returns The exit code.
 */
export async function runChild(
  source: AppSource,
  options: ServeOptions,
): Promise<number> {
  const log = createLogger({ role: "child", quiet: options.quiet });
  const link = await connectToParent();
  // A parent killed with SIGKILL cannot stop us; the closed channel says it is gone.
  link.lost.then(() => Deno.exit(PARENT_GONE_EXIT_CODE));
  const { signal } = onShutdownSignal();
  // A standby child waits here, booted, until a restart needs it.
  const go = await Promise.race([link.started.then(() => true), signal.then(() => false)]);
  if (!go) return 0;
  const started = performance.now();
  let handler;
  try {
    handler = await source.load();
  } catch (error) {
    await link.send({ type: "failed", ...failureReport(error) });
    return LOAD_FAILED_EXIT_CODE;
  }
  const script = options.liveReload ? clientScriptUrl(link.generation) : undefined;
  const server = startAppServer({
    hostname: "127.0.0.1",
    port: 0,
    handler,
    log,
    logAccess: false,
    before: [hostGuardFilter(options.allowedHosts)],
    after: script ? [(request, response) => injectLiveReload(request, response, script)] : [],
    showDetails: detailsPolicy(options, false),
    ...(script ? { errorPageScript: script } : {}),
  });
  const ready: ChildMessage = {
    type: "ready",
    port: server.addr.port,
    loadMs: Math.round(performance.now() - started),
  };
  await link.send(ready);
  await signal;
  await stopGracefully(server, options.graceMs);
  return 0;
}
