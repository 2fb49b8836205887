/**
 * The reloader's start: the first child is spawned before the rest of the
 * reloader's code (fronts, watcher, pages, about 40 ms of module loading)
 * is loaded, so that Deno boots the child while the parent loads. This
 * module's own imports are those a child's spawn needs (`first_child.ts`);
 * `supervisor.ts` is imported once the child is on its way.
 *
 * @module
 */

import type { TlsFiles } from "../listen/tls_files.ts";
import { createLogger, phaseTimer } from "../log.ts";
import type { ServeOptions } from "../options.ts";
import { INITIAL_CWD } from "../role.ts";
import type { AppSource } from "../serve/app_source.ts";
import { envFilePaths } from "../watch/startup_files.ts";
import { snapshotEnvFiles } from "./env_files.ts";
import { ChildrenSetup, reloaderCommand } from "./first_child.ts";

/**
 * Runs the reloader until SIGINT or SIGTERM.
 *
 * @param source What the child serves.
 * @param options The serve options.
 * @param tls HTTPS files, when serving HTTPS.
 * @returns The exit code.
 * @throws {DevsrvError} When the address cannot be bound.
 */
export async function runReloader(
  source: AppSource,
  options: ServeOptions,
  tls: TlsFiles | undefined,
): Promise<number> {
  const log = createLogger({ role: "reloader", quiet: options.quiet });
  const phase = phaseTimer(log, options.verbose);
  phase("reloader's start-up modules loaded");
  const command = reloaderCommand(source, options);
  const fromEnvFiles = snapshotEnvFiles(envFilePaths(command.args, INITIAL_CWD));
  const children = new ChildrenSetup({ source, options, command, fromEnvFiles, phase });
  children.children.spawnFirst();
  const { superviseSession } = await import("./supervisor.ts");
  return await superviseSession({ source, options, log, tls, command, fromEnvFiles, children });
}
