/**
 * When the app is at work: starting, answering a request, or devsrv working
 * out its module graph. A file that changes while the app is at work, or
 * just after, was written by the app (a JSON store, a cache, an upload, a
 * rendered page, a log), not by a person at an editor, and must neither
 * restart the app nor reload its pages: that would lose its state, or
 * reload a page whose load wrote the file, again and again.
 *
 * The reloader's front sees every request go to the app and its response
 * come back, so it knows these spans exactly; the supervisor knows when a
 * child starts and when it is ready. They record spans here; the decision
 * about a batch of changes asks {@linkcode activityAt} whether the moment a
 * change was made (its file's mtime) falls into one.
 *
 * A span counts from {@linkcode ACTIVITY_LEAD_MS} before it began (the
 * kernel stamps files with a coarse clock that may lag a few ms) to
 * {@linkcode ACTIVITY_TAIL_MS} after it ended (a write the handler starts
 * but does not await lands just after its response). A request ends at the
 * head of its response: a stream that stays open (server-sent events, a
 * WebSocket) does not keep the app "at work" for hours.
 *
 * @module
 */

/** How long before a span a change still counts as made during it, in ms. */
export const ACTIVITY_LEAD_MS = 10;
/** How long after a span a change still counts as made during it, in ms. */
export const ACTIVITY_TAIL_MS = 100;
/** How long finished spans are kept, in ms: longer than any watcher's delay (`--interval` ≤ 60 s). */
const KEEP_MS = 120_000;
/** At most this many finished spans are kept (spans close together are merged first). */
const MAX_SPANS = 1000;

/** The span devsrv marks while it restarts the app (its shutdown may write files). */
export const RESTART_ACTIVITY = "the app was restarting";
/** The span devsrv marks while `deno info` works out the module graph. */
export const GRAPH_ACTIVITY = "devsrv was working out the module graph";

/** A stretch of time the app (or devsrv for it) was at work. */
export interface ActivitySpan {
  /** What was going on, e.g. `"the app was answering /notes"`. */
  what: string;
  /** `Date.now()` when it began. */
  startMs: number;
  /** `Date.now()` when it ended; `null` while it goes on. */
  endMs: number | null;
}

/**
 * Tells whether the app was at work when a change was made.
 *
 * @param spans The spans recorded, from {@linkcode ActivityLog.spans}.
 * @param fromMs The earliest moment the change can have been made (ms since the epoch).
 * @param toMs The latest moment.
 * @returns What the app was doing then (the latest span that covers the
 * change), or `undefined` when it was idle.
 *
 * @example A write 3 ms after a response
 * ```ts
 * import { activityAt } from "./app_activity.ts";
 *
 * const spans = [{ what: "the app was answering /save", startMs: 1000, endMs: 1020 }];
 * if (activityAt(spans, 1023, 1023) !== "the app was answering /save") throw new Error();
 * if (activityAt(spans, 9000, 9000) !== undefined) throw new Error();
 * ```
 */
export function activityAt(
  spans: readonly ActivitySpan[],
  fromMs: number,
  toMs: number,
): string | undefined {
  let found: ActivitySpan | undefined;
  for (const span of spans) {
    const end = span.endMs ?? Number.POSITIVE_INFINITY;
    const covers = span.startMs - ACTIVITY_LEAD_MS <= toMs && end + ACTIVITY_TAIL_MS >= fromMs;
    if (covers && (found === undefined || span.startMs >= found.startMs)) found = span;
  }
  return found?.what;
}

/**
 * Records the spans during which the app is at work. Spans that overlap,
 * once widened by the lead and the tail, are merged, which changes no
 * answer of {@linkcode activityAt} and keeps a steady load to one span.
 *
 * @example A request, recorded by its start and its end
 * ```ts
 * import { ActivityLog, activityAt } from "./app_activity.ts";
 *
 * let now = 1000;
 * const log = new ActivityLog({ clock: () => now });
 * const end = log.begin("the app was answering /");
 * now = 1005;
 * end();
 * if (activityAt(log.spans(), 1004, 1004) !== "the app was answering /") throw new Error();
 * ```
 */
export class ActivityLog {
  readonly #clock: () => number;
  readonly #open = new Map<number, ActivitySpan>();
  /** Finished spans, in the order they ended; merged when close together. */
  readonly #done: ActivitySpan[] = [];
  #nextId = 0;

  /**
   * @param options Where time comes from. @default {Date.now}
   */
  constructor(options: { clock?: () => number } = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  /** How many spans go on now (requests in flight, a start under way). */
  get inProgress(): number {
    return this.#open.size;
  }

  /**
   * Records that the app began some work.
   *
   * @param what What goes on, for the decision's explanation.
   * @returns Ends the span; later calls do nothing.
   */
  begin(what: string): () => void {
    const id = this.#nextId++;
    this.#open.set(id, { what, startMs: this.#clock(), endMs: null });
    return () => this.#end(id);
  }

  /**
   * The spans of the last two minutes, open ones included.
   *
   * @returns A copy, oldest first.
   */
  spans(): ActivitySpan[] {
    this.#prune();
    return [...this.#done, ...this.#open.values()].map((span) => ({ ...span }));
  }

  #end(id: number): void {
    const span = this.#open.get(id);
    if (span === undefined) return;
    this.#open.delete(id);
    span.endMs = this.#clock();
    const last = this.#done.at(-1);
    const gap = ACTIVITY_LEAD_MS + ACTIVITY_TAIL_MS;
    if (
      last && last.endMs !== null &&
      span.startMs - gap <= last.endMs && span.endMs >= last.startMs - gap
    ) {
      last.startMs = Math.min(last.startMs, span.startMs);
      last.endMs = Math.max(last.endMs, span.endMs);
      last.what = span.what;
    } else {
      this.#done.push(span);
    }
    this.#prune();
  }

  #prune(): void {
    const horizon = this.#clock() - KEEP_MS;
    while (
      this.#done.length > 0 &&
      ((this.#done[0]!.endMs ?? 0) < horizon || this.#done.length > MAX_SPANS)
    ) {
      this.#done.shift();
    }
  }
}
