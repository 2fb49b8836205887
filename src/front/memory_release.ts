/**
 * Gives the parent's memory back after a burst of traffic.
 *
 * Under load V8 grows its young generation to tens of MB, and shrinks it
 * only when its memory reducer runs. That reducer runs once, about 30 s
 * after start-up, and Deno never re-arms it: a parent that served one burst
 * (a page with many assets, a load test) kept the memory for the rest of the
 * session (measured: 50 MB idle, 97 MB after a flood, still 97 MB 40 s
 * later). So once traffic has stopped and the heap holds much more than it
 * uses, the parent asks for one full collection, which returns it, and then
 * has glibc hand back the native heap pages the burst freed (58 MB, the
 * rest being the Deno executable's own pages, shared with the child).
 * `--v8-flags=--max-semi-space-size=1` caps the growth instead, but only for
 * those who start Deno with it.
 *
 * @module
 */

/** How often the parent looks at its traffic and heap. */
export const CHECK_INTERVAL_MS = 2000;
/** Committed but unused heap worth a collection. */
export const SLACK_BYTES = 12 * 1024 * 1024;
/**
 * Requests after which a collection is worth it even with little heap
 * slack: with a small young generation the heap stays lean, but the native
 * heap still keeps what the burst freed.
 */
export const BURST_EXCHANGES = 1000;

/** The counters a release decision reads. */
export interface MemoryReleaseSource {
  /** Grows with every request served; unchanged while there is no traffic. */
  activity(): number;
  /** The heap's committed and used bytes (`Deno.memoryUsage()`). */
  heap(): { heapTotal: number; heapUsed: number };
}

/** Decides, one check at a time, when a collection is worth it. */
export class ReleaseDecider {
  #lastActivity: number;
  /** The activity counter at the last decision to collect or not (or start). */
  #activityAtDecision: number;

  /**
   * @param activity The activity counter at the start.
   */
  constructor(activity: number) {
    this.#lastActivity = activity;
    this.#activityAtDecision = activity;
  }

  /**
   * One check: collect only after traffic, once a whole interval was quiet,
   * and when the heap holds at least {@linkcode SLACK_BYTES} it does not use
   * or the traffic was a burst of {@linkcode BURST_EXCHANGES} requests.
   *
   * @param source The counters now.
   * @returns Whether to collect now.
   */
  check(source: MemoryReleaseSource): boolean {
    const activity = source.activity();
    if (activity !== this.#lastActivity) {
      this.#lastActivity = activity;
      return false; // still busy: a collection now would be undone at once
    }
    const served = activity - this.#activityAtDecision;
    if (served === 0) return false;
    this.#activityAtDecision = activity;
    if (served >= BURST_EXCHANGES) return true;
    const { heapTotal, heapUsed } = source.heap();
    return heapTotal - heapUsed >= SLACK_BYTES;
  }
}

/** A running release loop. */
export interface MemoryRelease {
  /** Stops the checks. */
  stop(): void;
}

/**
 * Checks every {@linkcode CHECK_INTERVAL_MS} and collects when
 * {@linkcode ReleaseDecider} says so. The timer never keeps the process alive.
 *
 * @param activity The parent's request counter.
 * @returns The handle that stops it.
 */
export function startMemoryRelease(activity: () => number): MemoryRelease {
  const decider = new ReleaseDecider(activity());
  const source: MemoryReleaseSource = { activity, heap: () => Deno.memoryUsage() };
  let collecting = false;
  const timer = setInterval(() => {
    if (collecting || !decider.check(source)) return;
    collecting = true;
    collectGarbage().then(trimNativeHeap).finally(() => collecting = false);
  }, CHECK_INTERVAL_MS);
  Deno.unrefTimer(timer);
  return { stop: () => clearInterval(timer) };
}

let gc: (() => void) | null | undefined;

/**
 * Runs one full collection. V8 offers no API for it short of `--expose-gc`,
 * which can still be turned on at run time for contexts created afterwards;
 * the Node modules that do that are loaded only at the first release.
 *
 * @returns Whether a collection ran (`false` where the runtime refuses).
 */
export async function collectGarbage(): Promise<boolean> {
  gc ??= await exposeGc();
  gc?.();
  return gc !== null;
}

async function exposeGc(): Promise<(() => void) | null> {
  try {
    const { setFlagsFromString } = await import("node:v8");
    const { runInNewContext } = await import("node:vm");
    setFlagsFromString("--expose-gc");
    const found: unknown = runInNewContext("gc");
    return typeof found === "function" ? found as () => void : null;
  } catch {
    return null; // a runtime without it: the memory stays, nothing else changes
  }
}

/**
 * Hands the native heap's free pages back to the system, as glibc keeps
 * them mapped after a burst (about 3.5 MB here); `DENO_USR2_MEMORY_TRIM`
 * does the same, but only for a process started with it. Needs FFI
 * permission (`-A` has it); elsewhere, or without glibc, nothing happens.
 *
 * @returns Whether the trim ran.
 */
export function trimNativeHeap(): boolean {
  if (Deno.build.os !== "linux") return false;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
    try {
      libc.symbols.malloc_trim(0n);
    } finally {
      libc.close();
    }
    return true;
  } catch {
    return false; // musl, or no libc.so.6 by that name
  }
}
