/**
 * The head start: the booted standby begins loading the changed code as
 * soon as a change is seen, while the debounce still gathers the rest of
 * an editor's save. When the batch then decides to restart, the head start
 * is the restart's next child, already loaded or nearly; Deno's loading
 * of the program overlaps the debounce instead of following it. When
 * the batch decides otherwise, or another change that would restart comes
 * after the head start began (its code may be half a save), it is
 * discarded, unseen: its output is kept back until it is taken.
 *
 * The next code runs beside the serving child for a moment, as it does
 * when a restart overlaps the old child's stop (`startsBeforeExit()` in
 * `lifecycle.ts`), and under the same rule: never for a program that
 * handles a shutdown signal itself or has subprocesses, which may hold
 * what the next one needs or leave files it reads; nor for one that serves
 * on a Unix socket path, which the next one would find taken.
 *
 * @module
 */

import type { ChangeAction } from "../watch/change_decision.ts";
import type { Phase } from "./lifecycle.ts";

/**
 * How long no further change must come before the head start begins, in
 * ms: the writes of one save (a truncate and a write, a rename and a
 * chmod) come within a millisecond or two, and a head start that began
 * between them is wasted.
 */
export const HEAD_START_QUIET_MS = 2;

/** What decides whether a change gets a head start. */
export interface HeadStartInput {
  /** The child runs the user's program as its main module (`runsProgram()`). */
  runsProgram: boolean;
  /** The lifecycle's phase. */
  phase: Phase<unknown>["kind"];
  /** A restart is under way or waits. */
  restartUnderWay: boolean;
  /** What the change would do if its batch ended now (`WatchPolicy.preview`). */
  action: ChangeAction;
  /** A file Deno reads at start changed: the standby booted with the old one. */
  startupFileChanged: boolean;
  /** The serving child, if one runs. */
  child?: {
    /** The shutdown signal its program listens for; `undefined` if not known. */
    handler: string | null | undefined;
    /** How many subprocesses it has. */
    subprocesses: number;
    /** It serves on a Unix socket path, which the next one would find taken. */
    servesUnixSocket: boolean;
  };
}

/**
 * Whether a change gets a head start: the change would restart the app
 * (or, while the app fails, any change would), no restart is under way,
 * the standby's boot is still good, and the serving child (if any) is
 * known to hold nothing of its own.
 *
 * @param input What is known when the change is seen.
 * @returns `true` when the standby may begin loading the changed code now.
 *
 * @example A change to a module of a serving app with no handlers
 * ```ts
 * import { mayStartAhead } from "./head_start.ts";
 *
 * const input = {
 *   runsProgram: true,
 *   phase: "ready" as const,
 *   restartUnderWay: false,
 *   action: "restart" as const,
 *   startupFileChanged: false,
 *   child: { handler: null, subprocesses: 0, servesUnixSocket: false },
 * };
 * if (!mayStartAhead(input)) throw new Error();
 * const handles = { handler: "SIGTERM", subprocesses: 0, servesUnixSocket: false };
 * if (mayStartAhead({ ...input, child: handles })) {
 *   throw new Error();
 * }
 * ```
 */
export function mayStartAhead(input: HeadStartInput): boolean {
  if (!input.runsProgram || input.restartUnderWay || input.startupFileChanged) return false;
  const failing = input.phase === "failed";
  if (input.phase !== "ready" && !failing) return false;
  if (input.action !== "restart" && !(failing && input.action === "reload")) return false;
  const child = input.child;
  if (child === undefined) return failing;
  return child.handler === null && child.subprocesses === 0 && !child.servesUnixSocket;
}
