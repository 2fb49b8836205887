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

/** What {@linkcode HeadStarts} needs from the supervisor. `C` is its handle of a child. */
export interface HeadStartHooks<C> {
  /** The session's debounce, in ms. */
  debounceMs: number;
  /** Whether changed files would do anything at all (restart or reload pages). */
  matters(paths: string[]): boolean;
  /**
   * Whether changed files may have a head start now (see
   * {@linkcode mayStartAhead}); `hook` as the serving child answered.
   */
  allowed(paths: string[], hook: string | null | undefined): boolean;
  /** Asks the serving child what its program does as it ends; `null` when none serves. */
  askHook(): Promise<string | null | undefined>;
  /** Takes the booted standby and tells it to start; `undefined` when there is none. */
  start(): C | undefined;
  /** Ends a head start that no restart takes. */
  discard(child: C, why: string): void;
  /** Marks a step in the log with `--verbose`. */
  step(line: string): void;
}

/**
 * The head starts of one session: the changes seen since the last batch,
 * the wait before a head start, the one under way, and whether the session
 * still has them.
 */
export class HeadStarts<C> {
  readonly #hooks: HeadStartHooks<C>;
  #current: C | undefined;
  /** The changes seen since the last batch, until the head start begins. */
  #paths: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When each change of the batch being gathered was seen (`performance.now()`). */
  #times: number[] = [];
  /** The widest gap between two changes of each of the latest batches, in ms. */
  #spreads: number[] = [];
  /** Batches decided so far. */
  #batches = 0;
  /** Why this session has no more head starts. */
  #off: string | undefined;

  /**
   * @param hooks What it needs from the supervisor.
   * @param enabled `--head-start`: when `false`, there is none.
   */
  constructor(hooks: HeadStartHooks<C>, enabled: boolean) {
    this.#hooks = hooks;
    if (!enabled) this.#off = "--no-head-start";
  }

  /** The child loading a change's code before its batch is decided, if any. */
  get current(): C | undefined {
    return this.#current;
  }

  /**
   * A change is seen, before its batch: once no other has come for
   * {@linkcode headStartQuietMs}, the standby may begin loading the code.
   * A change that matters and comes after the head start began makes it
   * out of date: it is discarded, and the batch's restart starts a child
   * of its own.
   *
   * @param paths The changed files.
   */
  seen(paths: string[]): void {
    this.#times.push(performance.now());
    const head = this.#current;
    if (head !== undefined) {
      if (!this.#hooks.matters(paths)) return;
      this.#current = undefined;
      this.#hooks.discard(head, "overtaken by another change");
      return;
    }
    this.#paths.push(...paths);
    clearTimeout(this.#timer);
    const { debounceMs } = this.#hooks;
    const quietMs = headStartQuietMs(this.#spreads, debounceMs);
    if (this.#off !== undefined || quietMs >= debounceMs) return;
    this.#timer = setTimeout(() => void this.#begin(), quietMs);
  }

  /**
   * A batch is decided: remembers how widely its changes were spread, and
   * hands over the head start, if any (the caller takes or discards it).
   *
   * @returns The head start, if any.
   */
  endBatch(): C | undefined {
    const times = this.#times.splice(0);
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    this.#spreads = [...this.#spreads, Math.max(0, ...gaps)].slice(-SPREADS_KEPT);
    this.#batches++;
    const head = this.#current;
    this.#current = undefined;
    this.#paths = [];
    clearTimeout(this.#timer);
    return head;
  }

  /**
   * Ends head starts for the rest of the session: the app holds something
   * of its own that its next start needs (see `overlap.ts`), so every head
   * start would fail beside the old child and cost a fresh one.
   *
   * @param why What the log says.
   */
  turnOff(why: string): void {
    this.#off ??= why;
  }

  /**
   * Discards the head start under way, if any, and the one about to begin.
   *
   * @param why What the log says.
   */
  drop(why: string): void {
    clearTimeout(this.#timer);
    this.#paths = [];
    const head = this.#current;
    this.#current = undefined;
    if (head !== undefined) this.#hooks.discard(head, why);
  }

  /** Tells the booted standby to load the app now, once the serving child has said it may. */
  async #begin(): Promise<void> {
    const paths = this.#paths.splice(0);
    const hooks = this.#hooks;
    if (paths.length === 0 || this.#current !== undefined || !hooks.allowed(paths, null)) return;
    const batch = this.#batches;
    const hook = await hooks.askHook();
    // The batch came meanwhile, or more changes (which have a wait of their own).
    if (batch !== this.#batches || this.#current !== undefined || this.#paths.length > 0) return;
    if (!hooks.allowed(paths, hook)) {
      if (hook) {
        hooks.step(`no head start: the app has ${describeHook(hook)}, which may save state`);
      }
      return;
    }
    this.#current = hooks.start();
  }
}

/** A shutdown hook as the log names it: `a SIGTERM handler`, `an unload listener`, ... */
function describeHook(hook: string): string {
  if (hook === "unload") return "an unload listener";
  if (hook === "exit") return "a process 'exit' listener";
  return `a ${hook} handler`;
}
