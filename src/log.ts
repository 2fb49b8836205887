/**
 * The one place devsrv writes to the terminal. Status lines start with
 * `" * "` (Werkzeug's habit) and name the process that speaks; the child's
 * lines carry its pid so that the two processes are plain to see.
 *
 * @module
 */

import { COLOR_ENV, readEnv } from "./role.ts";

/** Writes one finished line (without its newline). */
export type PrintLine = (line: string) => void;

/** Where a line comes from, shown in front of the child's lines. */
export type LogRole = "reloader" | "child" | "server";

/** What every part of devsrv logs through. */
export interface Logger {
  /** A status line: `" * message"`. */
  info(message: string): void;
  /** A warning line, in yellow where colour is on. */
  warn(message: string): void;
  /** An error line, in red where colour is on. */
  error(message: string): void;
  /** One request's access line; silenced by `--quiet`. */
  access(line: string): void;
  /** Raw text as it is, for multi-line error reports. */
  raw(text: string): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** The role that speaks. @default {"server"} */
  role?: LogRole;
  /** Hide access lines. @default {false} */
  quiet?: boolean;
  /** Use ANSI colours. @default {as {@linkcode colorWanted} decides for stderr} */
  color?: boolean;
  /** Where lines go. @default {synchronous write to stderr} */
  print?: PrintLine;
}

const encoder = new TextEncoder();

/**
 * Writes all of a text or bytes to stdout or stderr, synchronously (a
 * single `writeSync` may take only part of it).
 *
 * @param sink `Deno.stdout` or `Deno.stderr`.
 * @param data What to write.
 */
export function writeAllSync(
  sink: { writeSync(bytes: Uint8Array): number },
  data: string | Uint8Array,
): void {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.length > 0) bytes = bytes.subarray(sink.writeSync(bytes));
}

function writeAllToStderr(text: string): void {
  try {
    writeAllSync(Deno.stderr, text);
  } catch {
    // Any error: the terminal is gone (parent killed, pipe closed, or EIO after
    // a hang-up, a plain Error), and a log line has nowhere else to go.
    return;
  }
}

/** Prints a line to stderr, where Werkzeug and Flask put their logs too. */
export const printToStderr: PrintLine = (line) => writeAllToStderr(line + "\n");

/** The environment variables that decide colour. */
export interface ColorEnv {
  /** devsrv's own: `"1"` or `"0"`, set for a process whose output devsrv relays. */
  [COLOR_ENV]?: string | undefined;
  /** Non-empty: colour, even when not a terminal (and over NO_COLOR, as Deno does). */
  FORCE_COLOR?: string | undefined;
  /** Non-empty: no colour. */
  NO_COLOR?: string | undefined;
}

/**
 * Decides whether devsrv's lines get colour, as Deno decides for its own:
 * `FORCE_COLOR` (any non-empty value) turns it on, else `NO_COLOR` (any
 * non-empty value) turns it off, else there is colour only when the output
 * is a terminal. A process whose output devsrv relays (a child) follows the
 * decision of the process that relays it, which sees the terminal.
 *
 * @param env The variables.
 * @param isTerminal Whether the output is a terminal.
 * @returns Whether to colour.
 *
 * @example Piped output gets colour only when forced
 * ```ts
 * import { colorWanted } from "./log.ts";
 *
 * if (colorWanted({}, false)) throw new Error();
 * if (!colorWanted({ FORCE_COLOR: "1" }, false)) throw new Error();
 * if (colorWanted({ NO_COLOR: "1" }, true)) throw new Error();
 * ```
 */
export function colorWanted(env: ColorEnv, isTerminal: boolean): boolean {
  const relayed = env[COLOR_ENV];
  if (relayed === "1" || relayed === "0") return relayed === "1";
  if (env.FORCE_COLOR) return true;
  if (env.NO_COLOR) return false;
  return isTerminal;
}

function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch (error) {
    if (error instanceof Deno.errors.BadResource) return false; // stderr is closed
    throw error;
  }
}

function wantsColor(): boolean {
  return colorWanted({
    [COLOR_ENV]: readEnv(COLOR_ENV),
    FORCE_COLOR: readEnv("FORCE_COLOR"),
    NO_COLOR: readEnv("NO_COLOR"),
  }, stderrIsTerminal());
}

/**
 * The variable for a process whose output this one relays to its stderr:
 * it colours its lines when this one would.
 *
 * @returns `{ DEVSRV_COLOR: "1" }` or `{ DEVSRV_COLOR: "0" }`.
 */
export function relayedColorEnv(): Record<string, string> {
  return { [COLOR_ENV]: wantsColor() ? "1" : "0" };
}

function paint(code: number, text: string, on: boolean): string {
  return on ? `\x1b[${code}m${text}\x1b[0m` : text;
}

/**
 * Marks the phases of a start or a restart in the log, with the time since
 * this process started (`performance.now()`), when `--verbose` asks: where
 * the time goes.
 *
 * @param log Where the lines go.
 * @param enabled Whether to print at all.
 * @returns Call with each phase as it is reached.
 *
 * @example
 * ```ts
 * import { createLogger, phaseTimer } from "./log.ts";
 *
 * const lines: string[] = [];
 * const phase = phaseTimer(createLogger({ print: (line) => lines.push(line), color: false }), true);
 * phase("modules loaded");
 * if (!/^ \* \[\d+\.\d ms\] modules loaded$/.test(lines[0] ?? "")) throw new Error(lines[0]);
 * ```
 */
export function phaseTimer(log: Logger, enabled: boolean): (phase: string) => void {
  if (!enabled) return () => {};
  return (phase) => log.info(`[${performance.now().toFixed(1)} ms] ${phase}`);
}

/**
 * Creates a logger for one process.
 *
 * @param options Role, quietness, colour and output.
 * @returns A {@linkcode Logger}.
 *
 * @example Log a status line into an array
 * ```ts
 * import { createLogger } from "./log.ts";
 *
 * const lines: string[] = [];
 * const log = createLogger({ print: (line) => lines.push(line), color: false });
 * log.info("Running on http://127.0.0.1:8000");
 * if (lines[0] !== " * Running on http://127.0.0.1:8000") throw new Error();
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const print = options.print ?? printToStderr;
  const color = options.color ?? wantsColor();
  const tag = options.role === "child" ? `child ${Deno.pid} · ` : "";
  const line = (text: string) => ` * ${tag}${text}`;
  return {
    info: (message) => print(line(message)),
    warn: (message) => print(paint(33, line(message), color)),
    error: (message) => print(paint(31, line(message), color)),
    access: (text) => {
      if (!options.quiet) print(text);
    },
    raw: (text) => print(text.replace(/\n$/, "")),
  };
}
