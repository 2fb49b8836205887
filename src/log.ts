/**
 * The one place devsrv writes to the terminal. Status lines start with
 * `" * "` (Werkzeug's habit) and name the process that speaks; the child's
 * lines carry its pid so that the two processes are plain to see.
 *
 * @module
 */

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
  /** Use ANSI colours. @default {colour when stderr is a terminal and NO_COLOR is unset} */
  color?: boolean;
  /** Where lines go. @default {synchronous write to stderr} */
  print?: PrintLine;
}

const encoder = new TextEncoder();

function writeAllToStderr(text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) {
    try {
      bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
    } catch {
      return; // the terminal is gone (parent killed, pipe closed): nothing to tell
    }
  }
}

/** Prints a line to stderr, where Werkzeug and Flask put their logs too. */
export const printToStderr: PrintLine = (line) => writeAllToStderr(line + "\n");

function wantsColor(): boolean {
  try {
    return !Deno.noColor && Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

function paint(code: number, text: string, on: boolean): string {
  return on ? `\x1b[${code}m${text}\x1b[0m` : text;
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
