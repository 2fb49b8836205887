/**
 * Decides, in one place, what this process is: the reloader (parent), the
 * child it re-executed, or a single process with `--no-reload`; and runs
 * that role.
 *
 * @module
 */

import type { ServeOptions } from "./options.ts";
import { createLogger } from "./log.ts";
import { isRunningFromReloader } from "./role.ts";
import type { AppSource } from "./serve/app_source.ts";
import { readTlsFiles, type TlsFiles } from "./listen/tls_files.ts";
import { checkHostBindable } from "./listen/address.ts";
import { UsageError } from "./errors.ts";
// Static, unlike the other roles': the reloader is the usual one, and its
// start-up modules loaded with the rest cost its first child's spawn about
// 7 ms less than a dynamic import after the options (measured on Deno 2.9.6).
import { runReloader } from "./supervisor/reloader.ts";

function tlsFiles(options: ServeOptions): TlsFiles | undefined {
  if (options.cert === undefined || options.key === undefined) return undefined;
  return readTlsFiles(options.cert, options.key);
}

/**
 * Runs devsrv's serving role for this process.
 *
 * @param source Where the handler comes from.
 * @param options The serve options.
 * @returns The exit code.
 * @throws {DevsrvError} For every problem a person can fix.
 */
export async function runServe(
  source: AppSource,
  options: ServeOptions,
): Promise<number> {
  if (isRunningFromReloader()) {
    // Imported lazily: the child never loads the reloader's modules.
    const { runChild } = await import("./serve/child.ts");
    return await runChild(source, options);
  }
  const tls = tlsFiles(options);
  checkBeforeStart(options);
  if (!options.reload && source.path !== undefined && Deno.build.standalone !== true) {
    const { runProgramOnce } = await import("./supervisor/launch_program.ts");
    return await runProgramOnce(source.path, source.display, options, tls);
  }
  if (!options.reload) {
    const { runSingleProcess } = await import("./serve/single.ts");
    return await runSingleProcess(
      source,
      options,
      createLogger({ quiet: options.quiet }),
      tls,
    );
  }
  return await runReloader(source, options, tls);
}

/** What can be checked before any process starts, so that nothing runs first. */
function checkBeforeStart(options: ServeOptions): void {
  if (options.host !== undefined) checkHostBindable(options.host);
  if (!options.reload) return;
  for (const path of options.watch) {
    try {
      Deno.statSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      throw new UsageError(
        `a path to watch does not exist: ${path === "" ? '""' : path}`,
        'give --watch (or DEVSRV_WATCH, or "watch" in deno.json) an existing file or directory',
      );
    }
  }
}
