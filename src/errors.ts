/**
 * The errors devsrv reports to a person: one line that names the problem
 * and the fix, and the exit code the program ends with.
 *
 * @module
 */

/** Exit code for a bad command line (argument or flag). */
export const USAGE_EXIT_CODE = 2;
/** Exit code for everything else that stops devsrv. */
export const FAILURE_EXIT_CODE = 1;

/** A problem a person can fix; printed as `error: <message>; <fix>`. */
export class DevsrvError extends Error {
  /** What to do about it, shown after the message. */
  readonly fix: string | undefined;
  /** The code the program exits with. */
  readonly exitCode: number;

  /**
   * @param message What is wrong, sentence case, values in quotes.
   * @param fix What to do about it.
   * @param exitCode The code the program exits with.
   */
  constructor(
    message: string,
    fix?: string,
    exitCode: number = FAILURE_EXIT_CODE,
  ) {
    super(message);
    this.name = "DevsrvError";
    this.fix = fix;
    this.exitCode = exitCode;
  }
}

/** A bad command line: exit code 2, like every Unix tool. */
export class UsageError extends DevsrvError {
  /**
   * @param message What is wrong with the command line.
   * @param fix What to type instead.
   */
  constructor(message: string, fix = 'see "devsrv serve --help"') {
    super(message, fix, USAGE_EXIT_CODE);
    this.name = "UsageError";
  }
}

/**
 * Formats an error as the one line devsrv prints for it.
 *
 * @param error A {@linkcode DevsrvError}.
 * @returns `error: <message>; <fix>`.
 */
export function formatError(error: DevsrvError): string {
  return error.fix ? `error: ${error.message}; ${error.fix}` : `error: ${error.message}`;
}

/**
 * The first line of an error's message (or of any value as text), without
 * the spaces around it: what a one-line report shows of an error.
 *
 * @param error An error, or any value.
 * @returns Its first line.
 *
 * @example
 * ```ts
 * import { firstLine } from "./errors.ts";
 *
 * if (firstLine(new Error("port in use\n    at listen")) !== "port in use") throw new Error();
 * if (firstLine("\n  deno info failed \nmore") !== "deno info failed") throw new Error();
 * ```
 */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.trim().split("\n")[0] ?? "").trim();
}

// Deno colours module paths in some import errors; the escape is intended.
// deno-lint-ignore no-control-regex
const ANSI_ESCAPES = /\x1b\[[0-9;]*m/g;

/**
 * Removes terminal colour codes, which Deno puts into some error messages.
 *
 * @param text Any text.
 * @returns The text without ANSI colour sequences.
 */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_ESCAPES, "");
}
