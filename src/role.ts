/**
 * Which process is this? The reloader (parent) re-executes its own program
 * and marks the child with environment variables. Every `DEVSRV_*` name
 * lives here, and the one check that decides a process's role is
 * {@linkcode isRunningFromReloader}.
 *
 * @module
 */

/** Set to `"true"` in the child's environment: the child serves. */
export const RUN_MAIN_ENV = "DEVSRV_RUN_MAIN";
/** `host:port` of the parent's end of the channel, for the child to report to. */
export const CHANNEL_ADDRESS_ENV = "DEVSRV_CHANNEL";
/** The secret the child presents on the channel. */
export const CHANNEL_TOKEN_ENV = "DEVSRV_TOKEN";
/** The child's generation number (1 for the first child). */
export const GENERATION_ENV = "DEVSRV_GENERATION";
/**
 * What devsrv's code needs when it runs in front of a user's program
 * (`deno run --preload`), where it cannot read devsrv's command line: JSON.
 */
export const PROGRAM_SETTINGS_ENV = "DEVSRV_PROGRAM";
/** `"1"`: load and capture `node:http` before the program starts. */
export const NODE_CAPTURE_ENV = "DEVSRV_NODE";
/**
 * `"1"` or `"0"`: whether devsrv's lines in a process whose output devsrv
 * relays (a child) get colour, decided by the process that relays it and
 * sees the terminal.
 */
export const COLOR_ENV = "DEVSRV_COLOR";
/**
 * Set by devsrv for the program's process only: Deno then serves an
 * `export default { fetch }` module under `deno run`, as `deno serve` does.
 */
export const AUTO_SERVE_ENV = "DENO_AUTO_SERVE";

/**
 * The working directory this process started in, read when devsrv's
 * modules are first evaluated: before a library user's script runs its top
 * level, which may change directory. The child starts there, so the
 * script's relative paths and Deno's flags mean what they meant.
 */
export const INITIAL_CWD: string = (() => {
  try {
    return Deno.cwd();
  } catch (error) {
    // Without --allow-read the directory cannot be read; the child starts where the parent is.
    if (error instanceof Deno.errors.NotCapable) return ".";
    throw error;
  }
})();

/**
 * The exit code with which a child asks to be restarted at once
 * (Werkzeug's convention).
 */
export const RESTART_EXIT_CODE = 3;

/**
 * Reads an environment variable, treating a denied permission as unset.
 *
 * @param name The variable's name.
 * @returns Its value, or `undefined` when unset or unreadable.
 */
export function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return undefined;
    throw error;
  }
}

/**
 * Tells whether this process is the child that a devsrv reloader started.
 *
 * Code at the top level of a script that calls `serve(handler, { reload:
 * true })` runs in both processes; guard one-time work with this.
 *
 * @returns `true` in the reloader's child, `false` in the reloader itself
 * and in a process that runs without a reloader.
 *
 * @example Run one-time work only in the serving process
 * ```ts
 * import { isRunningFromReloader } from "./role.ts";
 *
 * if (isRunningFromReloader()) {
 *   // open the database here: only the child serves requests
 * }
 * ```
 */
export function isRunningFromReloader(): boolean {
  return readEnv(RUN_MAIN_ENV) === "true";
}
