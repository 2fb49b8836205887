/**
 * The files Deno reads when a process starts: its configuration
 * (`deno.json(c)`, `package.json`), the lock, an import map, `.env*`, and
 * the files that the flags `--config`, `--import-map`, `--env-file` and
 * `--lock` name. A change to one of them restarts the app (see
 * `change_decision.ts`), and a standby child booted before it would run
 * with the old configuration or environment, so the supervisor replaces it.
 *
 * @module
 */

import { basename, resolve } from "node:path";
import { resolutionFlags } from "./module_graph.ts";

/** File names Deno reads when a process starts. */
const STARTUP_FILE_NAMES =
  /^(deno\.jsonc?|package\.json|import_map\.json|deno\.lock|\.env(\..*)?)$/;

const ENV_FILE_FLAGS = ["--env-file", "--env"];
const DEFAULT_ENV_FILE = ".env";

/**
 * Tells whether Deno reads a file when a process starts.
 *
 * @param path An absolute path.
 * @param named The files the flags name, from {@linkcode startupFilesFrom}.
 * @returns `true` for the usual names and the named files.
 *
 * @example
 * ```ts
 * import { isStartupFile } from "./startup_files.ts";
 *
 * if (!isStartupFile("/app/deno.jsonc", [])) throw new Error();
 * if (!isStartupFile("/app/.env.local", [])) throw new Error();
 * if (!isStartupFile("/app/dev.json", ["/app/dev.json"])) throw new Error();
 * if (isStartupFile("/app/data.json", [])) throw new Error();
 * ```
 */
export function isStartupFile(path: string, named: readonly string[]): boolean {
  return STARTUP_FILE_NAMES.test(basename(path)) || named.includes(path);
}

/**
 * The files named by Deno flags that Deno reads at start: `--config`,
 * `--import-map`, `--env-file`, `--lock`.
 *
 * @param denoArgs The child's Deno arguments.
 * @param cwd The directory relative values start from.
 * @returns Absolute paths.
 *
 * @example The short and the long spellings
 * ```ts
 * import { startupFilesFrom } from "./startup_files.ts";
 *
 * const files = startupFilesFrom(["run", "--env-file", "-c", "dev.json", "main.ts"], "/app");
 * if (files.join() !== "/app/dev.json,/app/.env") throw new Error(files.join());
 * ```
 */
export function startupFilesFrom(denoArgs: readonly string[], cwd: string): string[] {
  const named = resolutionFlags(denoArgs)
    .filter((flag) => flag.startsWith("--config=") || flag.startsWith("--import-map="))
    .map((flag) => resolve(cwd, flag.slice(flag.indexOf("=") + 1)));
  const lock = denoArgs.find((arg) => arg.startsWith("--lock="));
  if (lock !== undefined) named.push(resolve(cwd, lock.slice("--lock=".length)));
  return [...named, ...envFilePaths(denoArgs, cwd)];
}

/**
 * Finds the env files named on a deno command line.
 *
 * @param args Deno's arguments (`run` if given, flags, script, its arguments).
 * @param cwd The directory relative paths start from.
 * @returns Absolute paths, in order.
 *
 * @example Both spellings
 * ```ts
 * import { envFilePaths } from "./startup_files.ts";
 *
 * const paths = envFilePaths(["run", "--env-file", "--env-file=prod.env", "main.ts"], "/app");
 * if (paths.join() !== "/app/.env,/app/prod.env") throw new Error(paths.join());
 * ```
 */
export function envFilePaths(args: readonly string[], cwd: string): string[] {
  const paths: string[] = [];
  for (const arg of args[0] === "run" ? args.slice(1) : args) {
    if (!arg.startsWith("-")) break; // the script: what follows are its own arguments
    for (const flag of ENV_FILE_FLAGS) {
      if (arg === flag) paths.push(resolve(cwd, DEFAULT_ENV_FILE));
      else if (arg.startsWith(`${flag}=`)) paths.push(resolve(cwd, arg.slice(flag.length + 1)));
    }
  }
  return paths;
}
