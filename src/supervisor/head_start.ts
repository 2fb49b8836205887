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
 * The next code runs beside the serving child for a moment, so never for
 * a program that does something as it ends (a shutdown signal handler of
 * its own, an `unload` or Node `exit` listener: it may save state that its
 * next start reads; the child is asked at that moment), or has
 * subprocesses, which may hold what the next one needs; nor for one that
 * serves on a Unix socket path, which the next one would find taken.
 *
 * An editor whose saves come as writes a few milliseconds apart would
 * have most head starts overtaken, each costing a fresh child's boot: the
 * wait before a head start follows the spread of the latest saves
 * ({@linkcode headStartQuietMs}).
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

/** How many of the latest batches' spreads {@linkcode headStartQuietMs} looks at. */
export const SPREADS_KEPT = 8;

/**
 * How long no further change must come before a head start begins, in ms:
 * 1.5 times the widest gap between two changes of one batch among the
 * latest ones, at least {@linkcode HEAD_START_QUIET_MS}; a wait as long as
 * the debounce means no head start (the batch comes as soon).
 *
 * @param spreads The widest gap between two changes of each of the latest
 *   batches, in ms (0 for a batch of one change).
 * @param debounceMs The debounce's quiet period, in ms.
 * @returns The wait, in ms; `>= debounceMs` when a head start buys nothing.
 *
 * @example Single writes, then an editor that spreads its saves over 4 ms
 * ```ts
 * import { headStartQuietMs } from "./head_start.ts";
 *
 * if (headStartQuietMs([0, 0.4, 0], 10) !== 2) throw new Error();
 * if (headStartQuietMs([0, 4, 0], 10) !== 6) throw new Error();
 * if (headStartQuietMs([8], 10) < 10) throw new Error();
 * ```
 */
export function headStartQuietMs(spreads: readonly number[], debounceMs: number): number {
  const widest = Math.max(0, ...spreads.slice(-SPREADS_KEPT));
  return Math.min(debounceMs, Math.max(HEAD_START_QUIET_MS, Math.ceil(1.5 * widest)));
}

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
    /**
     * What its program does as it ends (`"SIGTERM"`, `"unload"`, `"exit"`),
     * `null` for nothing, `undefined` when it did not say.
     */
    hook: string | null | undefined;
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
 *   child: { hook: null, subprocesses: 0, servesUnixSocket: false },
 * };
 * if (!mayStartAhead(input)) throw new Error();
 * const handles = { hook: "SIGTERM", subprocesses: 0, servesUnixSocket: false };
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
  return child.hook === null && child.subprocesses === 0 && !child.servesUnixSocket;
}
