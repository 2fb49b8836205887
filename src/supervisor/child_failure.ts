/**
 * Why a child ended, in the words a person needs: a program that Deno
 * could not load (a syntax error, a module that cannot be found) or that
 * threw, read from Deno's own report in the child's output; a program that
 * ended without starting a server; or a bare exit code.
 *
 * @module
 */

import type { FailureReport } from "../channel/messages.ts";
import { stripAnsi } from "../errors.ts";
import { classifyLoadFailure, type LoadFailureText, SERVABLE_SHAPES } from "../serve/app_loader.ts";

/** Deno's report of an uncaught error, read from a process's output. */
export interface DenoErrorReport extends LoadFailureText {
  /** It was an uncaught exception (`error: Uncaught ...`), not a load error. */
  uncaught: boolean;
}

/**
 * Finds the last error report Deno printed (`error: ...` and the lines
 * after it) in a process's output.
 *
 * @param output The output, possibly with colour codes.
 * @returns The report, or `undefined` when there is none.
 *
 * @example A syntax error
 * ```ts
 * import { denoErrorInOutput } from "./child_failure.ts";
 *
 * const report = denoErrorInOutput(
 *   "error: SyntaxError: Expression expected\n    at file:///app/main.ts:1:9\n",
 * );
 * if (report?.name !== "SyntaxError" || report.message !== "Expression expected") throw new Error();
 * ```
 */
export function denoErrorInOutput(output: string): DenoErrorReport | undefined {
  const plain = stripAnsi(output);
  const at = plain.startsWith("error: ") ? 0 : plain.lastIndexOf("\nerror: ") + 1;
  if (at === 0 && !plain.startsWith("error: ")) return undefined;
  const block = plain.slice(at).split(/\nStack backtrace:/)[0]!.trimEnd();
  const first = block.slice("error: ".length).split("\n")[0]!.trim();
  const uncaught = /^Uncaught /.test(first);
  const rest = first.replace(/^Uncaught (\(in promise\) )?/, "");
  const named = rest.match(/^([A-Z]\w*): (.*)$/);
  return {
    name: named?.[1] ?? "Error",
    message: named?.[2] ?? rest,
    text: block,
    uncaught,
  };
}

function describeExit(status: Deno.CommandStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

/**
 * Explains a child's exit.
 *
 * @param status How it ended.
 * @param output The latest output of the child.
 * @param display The entry as the person gave it.
 * @param wasReady Whether it had served (a crash) or not (a failed start).
 * @returns The report for the terminal and the 503 page.
 */
export function failureFromExit(
  status: Deno.CommandStatus,
  output: string,
  display: string,
  wasReady: boolean,
): FailureReport {
  const report = denoErrorInOutput(output);
  if (report && (!wasReady || report.uncaught)) {
    const error = classifyLoadFailure(report, display);
    const message = wasReady
      ? `app "${display}" crashed: ${report.name}: ${report.message}`
      : error.message;
    return {
      kind: wasReady ? "crash" : "load",
      message,
      ...(error.fix ? { fix: wasReady ? "fix it and save; devsrv restarts it" : error.fix } : {}),
      ...(error.location
        ? { file: error.location.file, line: error.location.line, column: error.location.column }
        : {}),
      detail: error.detail,
    };
  }
  if (!wasReady && status.success) {
    return {
      kind: "load",
      message: `app "${display}" ended (exit code 0) without starting a server`,
      fix: SERVABLE_SHAPES,
      detail: "",
    };
  }
  return {
    kind: "exit",
    message: `the child ${describeExit(status)}${wasReady ? "" : " before it was ready"}`,
    fix: "devsrv restarts it on the next change",
    detail: "",
  };
}

/** Failures in the code itself: a second start of the same code fails the same way. */
const CODE_FAILURES = [
  / has a syntax error/,
  / imports a module that cannot be found/,
  /^the project configuration cannot be read/,
  / starts no server and exports no request handler/,
  / without starting a server/,
];

/**
 * Whether a failed start may have been caused by the old child, which was
 * still stopping (it held a port of the app's own, an exclusive lock, a
 * file created with `createNew`): an exception at the top level, a taken
 * address, an exit. A syntax error, a module that cannot be found, a
 * broken configuration and a program without a server are the code's own.
 *
 * @param failure The failed start's report.
 * @returns `true` when starting again once the old child has exited may help.
 *
 * @example
 * ```ts
 * import { mayBeOldChildsFault } from "./child_failure.ts";
 *
 * const threw = { message: 'app "a.ts" threw while loading: AddrInUse: …', detail: "" };
 * const syntax = { message: 'app "a.ts" has a syntax error at a.ts:2:11: …', detail: "" };
 * if (!mayBeOldChildsFault(threw) || mayBeOldChildsFault(syntax)) throw new Error();
 * ```
 */
export function mayBeOldChildsFault(failure: Pick<FailureReport, "message">): boolean {
  return !CODE_FAILURES.some((pattern) => pattern.test(failure.message));
}
