/**
 * The child's side of the reloader when devsrv itself is the main module:
 * serve a static directory, a library user's handler, or (in a compiled
 * binary) an app module imported here, through the captured `Deno.serve`;
 * report each server (or why loading failed) to the parent, stop
 * gracefully on SIGTERM, and exit at once when the parent is gone.
 *
 * @module
 */

import { connectToParent } from "../channel/child_end.ts";
import type { FailureReport } from "../channel/messages.ts";
import type { Handler, ServeOptions } from "../options.ts";
import { DevsrvError, firstLine, stripAnsi } from "../errors.ts";
import { createLogger } from "../log.ts";
import { captureForChild, exitWhenParentIsGone, stopOnSignal } from "./program.ts";
import { programSettings } from "./program_settings.ts";
import { onShutdownSignal } from "../signals.ts";
import { AppLoadError, NoHandlerError } from "./app_loader.ts";
import type { AppSource } from "./app_source.ts";

/** Exit code of a child whose app could not be loaded. */
export const LOAD_FAILED_EXIT_CODE = 1;

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
    message: stripAnsi(firstLine(text)),
    detail: stripAnsi(text),
  };
}

/**
 * Runs as the reloader's child until SIGTERM or the parent's loss: for a
 * static directory, a library user's handler, or (in a compiled binary) an
 * app module imported here. A user's program otherwise runs as its own
 * main module with devsrv in front (see `../serve/program.ts`).
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
  exitWhenParentIsGone(link);
  const { signal, cancel } = onShutdownSignal();
  // A standby child waits here, booted, until a restart needs it.
  const start = await Promise.race([link.started, signal.then(() => undefined)]);
  if (!start) return 0;
  const settings = programSettings(options, source.display, "child", false);
  const servers = await captureForChild(link, start, settings, log);
  const { registry } = servers;
  let handler: Handler | undefined;
  try {
    handler = await source.load();
  } catch (error) {
    // A module that started its own server needs no handler.
    if (!(error instanceof NoHandlerError && registry.anyStarted)) {
      await link.send({ type: "failed", ...failureReport(error) });
      return LOAD_FAILED_EXIT_CODE;
    }
  }
  // Served through the captured Deno.serve: reported like a program's server.
  if (handler) Deno.serve({ onListen: () => {} }, handler);
  await link.send({ type: "loaded" });
  cancel();
  stopOnSignal(servers, options.graceMs, (report) => void link.send(report));
  // Runs until a signal stops it (the process ends there) or the parent is gone.
  return await new Promise<never>(() => {});
}
