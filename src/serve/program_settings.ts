/**
 * What devsrv's code needs when it runs in front of a user's program
 * (`deno run --preload`): there it cannot read devsrv's command line, which
 * the program's own `Deno.args` replaced, so the process that starts it
 * passes these settings as JSON in the environment.
 *
 * @module
 */

import type { ServeOptions } from "../options.ts";
import type { TlsFiles } from "../listen/tls_files.ts";
import { PROGRAM_SETTINGS_ENV, readEnv } from "../role.ts";

/**
 * The exit code of a single process that has printed devsrv's own one-line
 * error itself: its launcher passes the output on as it is and exits 1.
 */
export const REPORTED_EXIT_CODE = 70;

/** How a single process names itself in its banner (its launcher looks for it). */
export const SINGLE_PROCESS_BANNER = "single process pid";

/** The settings for devsrv's code in a program's process. */
export interface ProgramSettings {
  /** `child`: the reloader's child; `single`: `--no-reload`, one serving process. */
  role: "child" | "single";
  /** The entry as the person gave it, for messages, e.g. `"main.ts"`. */
  display: string;
  /** Hide access lines. */
  quiet: boolean;
  /** Log where the time goes, phase by phase. */
  verbose: boolean;
  /** Inject the live-reload client into pages (child only). */
  liveReload: boolean;
  /** `--allowed-host` names. */
  allowedHosts: string[];
  /** `--host`, when given. */
  host: string | null;
  /** `--port`, when given. */
  port: number | null;
  /** How long stopping may take before in-flight requests are cut, in ms. */
  graceMs: number;
  /** Capture `node:http` too (the program's graph may use it). */
  node: boolean;
  /** `--cert` and `--key`, read: HTTPS for the first server of a single process. */
  tls: TlsFiles | null;
  /** Open the browser once the first server listens (single process; the parent does it for a child). */
  open: boolean;
  /**
   * A standby: a child that waits (for a restart) before it is told to
   * start, with time to set Deno's lazily loaded parts up. @default {false}
   */
  standby?: boolean;
}

/**
 * Takes the settings from devsrv's options.
 *
 * @param options The serve options.
 * @param display The entry as shown.
 * @param role The process's role.
 * @param node Whether to capture `node:http` too.
 * @returns The settings.
 */
export function programSettings(
  options: ServeOptions,
  display: string,
  role: ProgramSettings["role"],
  node: boolean,
): ProgramSettings {
  return {
    role,
    display,
    quiet: options.quiet,
    verbose: options.verbose,
    liveReload: options.liveReload,
    allowedHosts: options.allowedHosts,
    host: options.host ?? null,
    port: options.port ?? null,
    graceMs: options.graceMs,
    node,
    tls: null,
    open: options.open,
  };
}

/**
 * Encodes the settings for the environment.
 *
 * @param settings The settings.
 * @returns The variable's name and value.
 */
export function programSettingsEnv(settings: ProgramSettings): Record<string, string> {
  return { [PROGRAM_SETTINGS_ENV]: JSON.stringify(settings) };
}

/**
 * Reads the settings devsrv put into this process's environment.
 *
 * @returns The settings, or `undefined` when this process is not a
 * program that devsrv started.
 * @throws {Error} When the variable is set but is not devsrv's JSON (a bug,
 * or a variable set by hand).
 */
export function readProgramSettings(): ProgramSettings | undefined {
  const text = readEnv(PROGRAM_SETTINGS_ENV);
  if (text === undefined) return undefined;
  const value = JSON.parse(text) as Partial<ProgramSettings>;
  if (
    (value.role !== "child" && value.role !== "single") || typeof value.display !== "string" ||
    !Array.isArray(value.allowedHosts) || typeof value.graceMs !== "number"
  ) {
    throw new Error(`${PROGRAM_SETTINGS_ENV} is not devsrv's settings; do not set it by hand`);
  }
  return value as ProgramSettings;
}
