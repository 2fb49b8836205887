/**
 * Turns a stream of changed paths into batches: a batch is handed over once
 * no change has come for a quiet period, so that an editor's save (several
 * events) or a `git checkout` (hundreds) causes one reload, not many. A
 * steady stream of changes (a watcher in another tool rewriting a file every
 * few ms) must still reload, so no batch is held longer than a maximum wait.
 *
 * A watcher that is still checking paths it has been told about (stat,
 * hash, listing a new directory) holds the batch: a quiet period that ends
 * while it works does not cut the batch in two; the batch goes out when the
 * work is done (or at the maximum wait).
 *
 * @module
 */

/** The maximum wait is this many quiet periods... */
export const MAX_WAIT_FACTOR = 10;
/** ...but at least this long, so that a short quiet period still gathers a checkout. */
export const MIN_MAX_WAIT_MS = 1000;

/** A handle of a scheduled call, as `setTimeout` returns it. */
export type TimerHandle = ReturnType<typeof setTimeout>;

/** The clock a {@linkcode Debouncer} runs on; tests pass a manual one. */
export interface DebounceClock {
  /** Current time in ms. */
  now(): number;
  /** Schedules a call; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a scheduled call. */
  clearTimeout(handle: TimerHandle): void;
}

/** Options for {@linkcode Debouncer}. */
export interface DebounceOptions {
  /** The quiet period after the last change, in ms. */
  quietMs: number;
  /**
   * The longest a batch is held after its first change, in ms.
   * @default {maxWaitFor(quietMs)}
   */
  maxWaitMs?: number;
  /** Where time comes from. @default {the real timers} */
  clock?: DebounceClock;
}

const realClock: DebounceClock = {
  now: () => performance.now(),
  setTimeout: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimeout: (handle) => clearTimeout(handle),
};

/**
 * The maximum wait that goes with a quiet period.
 *
 * @param quietMs The quiet period in ms.
 * @returns `max(MAX_WAIT_FACTOR × quietMs, MIN_MAX_WAIT_MS)`.
 *
 * @example A 30 ms quiet period holds a batch at most 1 s
 * ```ts
 * import { maxWaitFor } from "./debounce.ts";
 *
 * if (maxWaitFor(30) !== 1000) throw new Error();
 * if (maxWaitFor(200) !== 2000) throw new Error();
 * ```
 */
export function maxWaitFor(quietMs: number): number {
  return Math.max(MAX_WAIT_FACTOR * quietMs, MIN_MAX_WAIT_MS);
}

/**
 * Collects changed paths in a set and hands them over as one sorted batch
 * after a quiet period, or after the maximum wait at the latest.
 *
 * @example Two changes in quick succession make one batch
 * ```ts
 * import { Debouncer } from "./debounce.ts";
 *
 * const batches: string[][] = [];
 * const debouncer = new Debouncer((paths) => batches.push(paths), { quietMs: 10 });
 * debouncer.add(["/app/b.ts"]);
 * debouncer.add(["/app/a.ts", "/app/b.ts"]);
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * debouncer.close();
 * if (JSON.stringify(batches) !== '[["/app/a.ts","/app/b.ts"]]') throw new Error();
 * ```
 */
export class Debouncer {
  readonly #onBatch: (paths: string[]) => void;
  readonly #quietMs: number;
  readonly #maxWaitMs: number;
  readonly #clock: DebounceClock;
  readonly #paths = new Set<string>();
  #firstAt = 0;
  #timer: TimerHandle | undefined;
  #holds = 0;
  #dueWhileHeld = false;
  #closed = false;

  /**
   * Creates a debouncer.
   *
   * @param onBatch Receives each batch: sorted, unique, never empty.
   * @param options The quiet period, the maximum wait and the clock.
   * @throws {RangeError} When a period is negative or not a number.
   */
  constructor(onBatch: (paths: string[]) => void, options: DebounceOptions) {
    const maxWaitMs = options.maxWaitMs ?? maxWaitFor(options.quietMs);
    assertPeriod("quietMs", options.quietMs);
    assertPeriod("maxWaitMs", maxWaitMs);
    this.#onBatch = onBatch;
    this.#quietMs = options.quietMs;
    this.#maxWaitMs = maxWaitMs;
    this.#clock = options.clock ?? realClock;
  }

  /** How many distinct paths wait in the current batch. */
  get pending(): number {
    return this.#paths.size;
  }

  /**
   * Adds changed paths and restarts the quiet period.
   *
   * @param paths Changed paths; an empty list changes nothing, a path
   * already in the batch restarts the quiet period all the same.
   */
  add(paths: Iterable<string>): void {
    if (this.#closed) return;
    const before = this.#paths.size;
    let given = 0;
    for (const path of paths) {
      this.#paths.add(path);
      given++;
    }
    if (given === 0) return;
    const now = this.#clock.now();
    if (before === 0) this.#firstAt = now;
    this.#dueWhileHeld = false;
    const due = Math.min(now + this.#quietMs, this.#maxWaitDue());
    this.#schedule(due - now);
  }

  /**
   * Holds the batch while the caller works on changes it has already been
   * told about; pair every call with {@linkcode Debouncer.release}.
   */
  hold(): void {
    this.#holds++;
  }

  /** Ends a {@linkcode Debouncer.hold}; a batch whose quiet period ended meanwhile goes out now. */
  release(): void {
    if (this.#holds === 0) return;
    this.#holds--;
    if (this.#holds === 0 && this.#dueWhileHeld) this.flush();
  }

  /** Hands over the current batch now, if there is one. */
  flush(): void {
    this.#cancelTimer();
    this.#dueWhileHeld = false;
    if (this.#paths.size === 0) return;
    const batch = [...this.#paths].sort();
    this.#paths.clear();
    this.#onBatch(batch);
  }

  /** Drops the current batch and stops; later `add` calls do nothing. */
  close(): void {
    this.#closed = true;
    this.#cancelTimer();
    this.#paths.clear();
  }

  #maxWaitDue(): number {
    return this.#firstAt + this.#maxWaitMs;
  }

  #schedule(delayMs: number): void {
    this.#cancelTimer();
    this.#timer = this.#clock.setTimeout(
      () => this.#onTimer(),
      Math.max(0, delayMs),
    );
  }

  /** The quiet period (or the maximum wait) is over. */
  #onTimer(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    if (this.#holds > 0 && now < this.#maxWaitDue()) {
      this.#dueWhileHeld = true; // release() flushes; the maximum wait still does
      this.#schedule(this.#maxWaitDue() - now);
      return;
    }
    this.flush();
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function assertPeriod(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`Cannot debounce: "${name}" must be 0 or more, got ${value}`);
  }
}
