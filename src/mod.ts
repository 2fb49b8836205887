/**
 * devsrv as a library, Flask's `app.run(debug=True)` for Deno: a script
 * hands its handler to {@linkcode serve} and gets the reloader.
 *
 * With `reload: true` the script is re-executed as the child, so its top
 * level runs twice: once in the reloader (which only watches) and once in
 * the child (which serves). Guard one-time work with
 * {@linkcode isRunningFromReloader}.
 *
 * ```ts
 * import { isRunningFromReloader, serve } from "@devsrv/devsrv";
 *
 * if (import.meta.main) {
 *   if (isRunningFromReloader()) console.log("child: opening the database");
 *   await serve(() => new Response("Hello"), { reload: true, port: 8000 });
 * }
 * ```
 *
 * @module
 */

import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultServeOptions, type Handler, type ServeOptions } from "./options.ts";
import { DevsrvError, FAILURE_EXIT_CODE, formatError } from "./errors.ts";
import { createLogger, printToStderr } from "./log.ts";
import { eventlessWatchRoot } from "./cli/config.ts";
import { readMounts } from "./watch/mounts.ts";
import { INITIAL_CWD, isRunningFromReloader } from "./role.ts";
import { runServe } from "./run.ts";
import { sourceFromHandler } from "./serve/app_source.ts";

export { isRunningFromReloader, RESTART_EXIT_CODE, RUN_MAIN_ENV } from "./role.ts";
export type { Handler, ServeOptions } from "./options.ts";

/**
 * Options for {@linkcode serve}: any of `devsrv serve`'s, by name, except
 * those that only a static directory or a program has (`cors`, the entry,
 * its arguments). The environment and deno.json do not apply here: the
 * script decides.
 */
export type LibraryServeOptions = Partial<Omit<ServeOptions, "entry" | "args" | "cors">>;

function scriptName(): string {
  try {
    return relative(Deno.cwd(), fileURLToPath(Deno.mainModule));
  } catch (error) {
    if (
      // A main module that is not a file: URL; or a working directory that
      // was removed, or may not be read.
      error instanceof TypeError || error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
    ) {
      return "handler";
    }
    throw error;
  }
}

/**
 * Serves a handler like `devsrv serve` does, and ends the process when the
 * server stops (Ctrl+C or SIGTERM), with exit code 0.
 *
 * @param handler The request handler, as for `Deno.serve`.
 * @param options What `devsrv serve` accepts as flags; `reload` defaults to
 * `false` here, as Flask's `debug` does.
 * @returns Never: the process exits when serving ends.
 *
 * @example Serve with the reloader when run as a script
 * ```ts
 * import { serve } from "@devsrv/devsrv";
 *
 * if (import.meta.main) {
 *   await serve(() => new Response("Hello"), { reload: true });
 * }
 * ```
 */
export async function serve(
  handler: Handler,
  options: LibraryServeOptions = {},
): Promise<never> {
  const merged: ServeOptions = {
    ...defaultServeOptions(),
    reload: false,
    ...options,
    entry: undefined,
    args: [],
    cors: [],
  };
  if (options.poll === undefined && merged.reload && !isRunningFromReloader()) {
    const found = eventlessWatchRoot(merged, INITIAL_CWD, readMounts());
    if (found) {
      merged.poll = true;
      createLogger({ role: "reloader" }).info(found.line);
    }
  }
  let code: number;
  try {
    code = await runServe(sourceFromHandler(handler, scriptName()), merged);
  } catch (error) {
    printToStderr(
      error instanceof DevsrvError ? formatError(error) : `error: ${String(error).split("\n")[0]}`,
    );
    code = error instanceof DevsrvError ? error.exitCode : FAILURE_EXIT_CODE;
  }
  Deno.exit(code);
}
