/**
 * `--no-reload` for a user's program under `deno run`: start the program
 * once as Deno's main module, with devsrv's code in front of it, and wait
 * for it. The program then runs exactly as `deno run main.ts` runs it
 * (its `deno.json`, `import.meta.main`), binding its public port itself;
 * this process only passes signals on and ends with the program's exit
 * code.
 *
 * @module
 */

import type { ServeOptions } from "../cli/options.ts";
import { currentReexecInput, programCommand } from "../reloader/reexec.ts";
import { AUTO_SERVE_ENV, NODE_CAPTURE_ENV } from "../role.ts";
import type { TlsFiles } from "../server/tls_files.ts";
import { SHUTDOWN_SIGNALS } from "../signals.ts";
import { programSettings, programSettingsEnv } from "./program_settings.ts";

/** The exit code of a process killed by a signal, as shells report it. */
const SIGNAL_EXIT_BASE = 128;
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** devsrv's code that runs in front of a user's program. */
export const PRELOAD_MODULE: URL = new URL("./preload.ts", import.meta.url);

/**
 * The preload module as a command-line argument: a path for a local file,
 * else its URL.
 *
 * @returns The path or URL.
 */
export function preloadSpecifier(): string {
  return PRELOAD_MODULE.protocol === "file:"
    ? decodeURIComponent(PRELOAD_MODULE.pathname)
    : PRELOAD_MODULE.href;
}

/**
 * Runs a program once, in its own process, until it ends.
 *
 * @param entry The program's absolute path.
 * @param display The entry as the person gave it.
 * @param options The serve options.
 * @param tls `--cert` and `--key`, read.
 * @returns The program's exit code (128 + the signal's number if a signal ended it).
 */
export async function runProgramOnce(
  entry: string,
  display: string,
  options: ServeOptions,
  tls: TlsFiles | undefined,
): Promise<number> {
  const command = programCommand(currentReexecInput(), {
    preload: preloadSpecifier(),
    entry,
    args: options.args,
  });
  const settings = { ...programSettings(options, display, "single", true), tls: tls ?? null };
  const program = new Deno.Command(command.command, {
    args: command.args,
    env: { ...programSettingsEnv(settings), [AUTO_SERVE_ENV]: "1", [NODE_CAPTURE_ENV]: "1" },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const forward = SHUTDOWN_SIGNALS.map((name) => {
    const listener = () => {
      try {
        program.kill(name);
      } catch (error) {
        // It ended between the signal and the kill.
        if (!(error instanceof TypeError)) throw error;
      }
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  const status = await program.status;
  for (const [name, listener] of forward) Deno.removeSignalListener(name, listener);
  if (status.signal) return SIGNAL_EXIT_BASE + (SIGNAL_NUMBERS[status.signal] ?? 0);
  return status.code;
}
