/**
 * The one entry point of file watching for the reloader:
 * {@linkcode startWatching} scans the roots, watches them with OS events
 * (or stat polling with `poll`, or when OS events fail) and hands over
 * debounced batches of changed files.
 *
 * Which files count is decided by `watch_filter.ts`; what is remembered per
 * file, and how an unchanged save is told from a change, by the private
 * tree and file-state modules; debouncing by `debounce.ts`.
 *
 * @module
 */

import { firstLine } from "../errors.ts";

import { WatchedTree } from "./_watched_tree.ts";
import { Debouncer } from "./debounce.ts";
import type { EarlyWatch } from "./early_watch.ts";
import { Poller } from "./poller.ts";
import { EventWatcher, type WatchFsFunction } from "./watcher.ts";

export { DEFAULT_EXTENSIONS, DEFAULT_IGNORES } from "./watch_filter.ts";
export type { WatchFsFunction } from "./watcher.ts";

/** What to watch and how. */
export interface WatchOptions {
  /** Absolute paths: directories or single files. */
  roots: string[];
  /** Extensions without dot that count; `undefined` means `DEFAULT_EXTENSIONS`. */
  ext: string[] | undefined;
  /** Static-directory mode: every file counts (ignores still apply). @default {false} */
  allFiles?: boolean;
  /** Extra globs in `.gitignore` syntax, relative to each root. */
  ignore: string[];
  /** Honour `.gitignore` files found in the roots (the root's and nested ones). */
  gitignore: boolean;
  /** Quiet period that turns a burst of changes into one batch, in ms. */
  debounceMs: number;
  /** Use stat polling instead of OS events. */
  poll: boolean;
  /** Poll interval in ms (also used when OS events fail). */
  intervalMs: number;
  /** Receives one-line warnings, e.g. the fallback to polling and why. */
  onWarning?: (message: string) => void;
  /**
   * Receives the files of each change as soon as it is seen, before the
   * debounce gathers it into a batch: work that the batch will likely ask
   * for may begin early (a head start), and the batch confirms or drops it.
   */
  onEachChange?: (paths: string[]) => void;
  /**
   * Called when a batch turns out to change nothing (its files are back as
   * they were before it): what `onEachChange` began must end, and a child
   * that read them in the middle of the batch has what is no longer there.
   *
   * @param paths The batch's files.
   * @param seen When its first and last changes were seen.
   */
  onEmptyBatch?: (paths: string[], seen: BatchSeen) => void;
  /**
   * Files whose mtime is this recent (ms since the epoch) when the scan
   * finds them are changes (see `WatchedTree.changedSince`): the program
   * began loading before the watch did.
   */
  changedSince?: number;
  /**
   * The OS watch placed when the program began loading (`changedSince`):
   * every file it names is a change too, whatever its mtime. This watch
   * takes it over and closes it once its own watch is in place and the
   * events already under way have come in.
   */
  earlyWatch?: EarlyWatch;
  /**
   * Places the OS watches (non-recursive). A test hook: pass a function
   * that throws to exercise the fallback to polling.
   * @default {Deno.watchFs}
   */
  watchFs?: WatchFsFunction;
}

/** One changed file of a batch. */
export interface FileChange {
  /** Absolute, under its root as the root was given. */
  path: string;
  /** What happened to it, compared with the state before the batch. */
  kind: "created" | "modified" | "deleted";
  /**
   * The earliest moment the change can have happened, in ms since the
   * epoch: the file's mtime when it has a plausible one, else the moment it
   * was seen less the watcher's latency (a deleted file has no mtime).
   */
  fromMs: number;
  /** The latest moment the change can have happened, in ms since the epoch. */
  toMs: number;
}

/** One debounced batch of changes. */
export interface ChangeBatch {
  /** Absolute, sorted, unique: files created, modified, deleted or renamed. */
  paths: string[];
  /** The same files, in the same order, with what happened and when. */
  changes: FileChange[];
  /** When its first and its last change were seen (`performance.now()`). */
  seen?: BatchSeen;
}

/** When a batch's first and last changes were seen, `performance.now()` in ms. */
export interface BatchSeen {
  first: number;
  last: number;
}

/**
 * How long after a change OS events make it seen at the latest, in ms: the
 * event's trip, and a check that waits behind others.
 */
export const EVENT_LATENCY_MS = 250;
/** How far behind the clock a file system may stamp an mtime (a kernel tick), in ms. */
const MTIME_TICK_MS = 10;
/** How much a file system's clock may differ from this process's, in ms. */
const MTIME_SLACK_MS = 50;
/** A file system that keeps mtimes in whole seconds (FAT: two) rounds them down by up to this. */
const COARSE_MTIME_MS = 2000;

/**
 * When a change can have happened: from its mtime when that is plausible
 * (not older than the watcher could have missed it, not in the future),
 * else from when it was seen less the watcher's latency.
 *
 * @param mtimeMs The file's mtime, `undefined` for a deleted file.
 * @param seenAtMs When the watcher saw the change (`Date.now()`).
 * @param latencyMs How late the watcher may see a change.
 * @returns The earliest and the latest moment, ms since the epoch.
 *
 * @example An mtime a moment before the change was seen
 * ```ts
 * import { changeWindow } from "./watch.ts";
 *
 * const window = changeWindow(1_000_123, 1_000_130, 1000);
 * if (window.fromMs !== 1_000_123 || window.toMs !== 1_000_123) throw new Error();
 * ```
 */
export function changeWindow(
  mtimeMs: number | undefined,
  seenAtMs: number,
  latencyMs: number,
): { fromMs: number; toMs: number } {
  const earliest = seenAtMs - latencyMs;
  const plausible = mtimeMs !== undefined && mtimeMs >= earliest - MTIME_SLACK_MS &&
    mtimeMs <= seenAtMs + MTIME_SLACK_MS;
  if (!plausible) return { fromMs: earliest, toMs: seenAtMs };
  const rounded = mtimeMs % 1000 === 0;
  const latest = rounded
    ? Math.max(mtimeMs, Math.min(mtimeMs + COARSE_MTIME_MS, seenAtMs))
    : mtimeMs;
  return { fromMs: mtimeMs, toMs: latest };
}

/** A running watch. */
export interface Watching {
  /** How changes are seen now; becomes `"poll"` after a fallback. */
  readonly kind: "watchfs" | "poll";
  /** Watched files that count (after filters), updated as files come and go. */
  readonly fileCount: number;
  /** The roots, as given. */
  readonly roots: string[];
  /**
   * Watches these files too: outside the roots (a module the app imports
   * from elsewhere), ignored inside them (a gitignored `.env`), or behind a
   * symlinked directory; files already counted, and missing files, are skipped.
   *
   * @param paths Absolute paths.
   */
  addFiles(paths: readonly string[]): void;
  /** Stops watching; no batch is handed over after this. */
  close(): void;
  /**
   * Resolves once, after {@linkcode Watching.close}, nothing runs any more
   * (for tests and sanitizers; optional so that fakes need not have it).
   */
  readonly finished?: Promise<void>;
}

/**
 * Scans the roots and starts watching them.
 *
 * @param options Roots, filters, debounce and watcher choice.
 * @param onChange Receives each batch of changed files.
 * @returns The running watch, once watching is in place: a change made
 * after the promise resolves is seen.
 * @throws {TypeError} When there is no root or a root is not absolute.
 * @throws {RangeError} When `debounceMs` or `intervalMs` is out of range.
 * @throws {Deno.errors.NotFound} When a root does not exist.
 *
 * @example Watch a folder and receive the batch of a change
 * ```ts
 * import { startWatching } from "./watch.ts";
 *
 * const dir = await Deno.makeTempDir({ prefix: "devsrv_example_" });
 * const batch = Promise.withResolvers<string[]>();
 * const watching = await startWatching({
 *   roots: [dir],
 *   ext: undefined,
 *   ignore: [],
 *   gitignore: true,
 *   debounceMs: 30,
 *   poll: false,
 *   intervalMs: 500,
 * }, ({ paths }) => batch.resolve(paths));
 * try {
 *   await Deno.writeTextFile(`${dir}/app.ts`, "export {};\n");
 *   const paths = await batch.promise;
 *   if (paths[0] !== `${dir}/app.ts`) throw new Error(paths.join());
 * } finally {
 *   watching.close();
 *   await watching.finished;
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function startWatching(
  options: WatchOptions,
  onChange: (batch: ChangeBatch) => void,
): Promise<Watching> {
  assertInterval(options.intervalMs);
  const tree = WatchedTree.open({
    roots: options.roots,
    ext: options.ext,
    ignore: options.ignore,
    gitignore: options.gitignore,
    onWarning: options.onWarning,
    ...(options.allFiles === undefined ? {} : { allFiles: options.allFiles }),
  });
  const session = new WatchSession(tree, options, onChange);
  try {
    await session.start();
  } catch (error) {
    session.close();
    await session.finished;
    throw error;
  }
  return session;
}

/** The watch behind {@linkcode Watching}: the tree, one watcher, the debouncer. */
class WatchSession implements Watching {
  readonly roots: string[];
  readonly #tree: WatchedTree;
  readonly #options: WatchOptions;
  readonly #debouncer: Debouncer;
  #events: EventWatcher | undefined;
  #poller: Poller | undefined;
  #early: EarlyWatch | undefined;
  #earlyTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #stopped: Promise<void>[] = [];
  /** When the batch being gathered saw its first and its latest change. */
  #seen: BatchSeen | undefined;

  constructor(
    tree: WatchedTree,
    options: WatchOptions,
    onChange: (batch: ChangeBatch) => void,
  ) {
    this.roots = [...options.roots];
    this.#tree = tree;
    this.#options = options;
    this.#early = options.earlyWatch;
    this.#debouncer = new Debouncer((paths) => {
      const latencyMs = this.#poller ? options.intervalMs + EVENT_LATENCY_MS : EVENT_LATENCY_MS;
      const changes = tree.settle(paths).map(({ path, kind, mtimeMs, seenAtMs }) => ({
        path,
        kind,
        ...changeWindow(mtimeMs, seenAtMs, latencyMs),
      }));
      const now = performance.now();
      const seen = this.#seen ?? { first: now, last: now };
      this.#seen = undefined;
      if (changes.length > 0) onChange({ paths: changes.map((c) => c.path), changes, seen });
      else options.onEmptyBatch?.(paths, seen);
    }, {
      quietMs: options.debounceMs,
    });
  }

  get kind(): "watchfs" | "poll" {
    return this.#poller ? "poll" : "watchfs";
  }

  get fileCount(): number {
    return this.#tree.fileCount;
  }

  get finished(): Promise<void> {
    return Promise.all([
      ...this.#stopped,
      this.#events?.finished,
      this.#poller?.finished,
      this.#options.earlyWatch?.finished,
    ]).then(() => {});
  }

  /**
   * Lists the tree, places the watch, fingerprints, then starts reporting:
   * first entries that came between a folder's listing and its watch, and
   * what changed since the program began loading.
   */
  async start(): Promise<void> {
    await this.#tree.scan(() => {
      if (!this.#options.poll) this.#events = this.#tryEvents();
    });
    // The poller finds new entries by itself: it compares folders' mtimes with their listing's.
    if (this.#events) this.#events.start(this.#tree.dirsChangedSinceListing());
    else this.#startPolling(false);
    const since = this.#options.changedSince;
    const early = this.#early;
    // A file system's mtime may lag the clock by a tick (ext4: up to 10 ms).
    if (since !== undefined) {
      this.#changed(this.#tree.changedSince(since - MTIME_TICK_MS, early?.named));
    }
    if (early === undefined) return;
    // An event may tell of a write that came before the fingerprint.
    early.listen((paths) => this.#changed(this.#tree.takeAsChanged(paths)));
    this.#earlyTimer = setTimeout(() => this.#closeEarly(), EVENT_LATENCY_MS);
  }

  addFiles(paths: readonly string[]): void {
    if (this.#tree.addFiles(paths)) this.#events?.watchAgain();
  }

  close(): void {
    this.#debouncer.close();
    this.#events?.close();
    this.#poller?.close();
    this.#closeEarly();
  }

  #closeEarly(): void {
    clearTimeout(this.#earlyTimer);
    this.#early?.close();
    this.#early = undefined;
  }

  #tryEvents(): EventWatcher | undefined {
    try {
      return new EventWatcher(this.#tree, {
        onChanges: (paths) => this.#changed(paths),
        onWorking: (working) => this.#holdBatch(working),
        onFailure: (error) => this.#fallBack(error),
        onWarning: this.#options.onWarning,
        watchFs: this.#options.watchFs,
      });
    } catch (error) {
      this.#warnFallback(error);
      return undefined;
    }
  }

  /** The event watcher failed while running: poll from now on. */
  #fallBack(error: unknown): void {
    this.#warnFallback(error);
    if (this.#events) this.#stopped.push(this.#events.finished);
    this.#events = undefined;
    this.#startPolling(true); // events may have been missed meanwhile
  }

  #startPolling(immediately: boolean): void {
    const { intervalMs, debounceMs } = this.#options;
    this.#poller = new Poller(this.#tree, {
      intervalMs,
      followUpMs: Math.min(intervalMs, Math.max(debounceMs, MIN_FOLLOW_UP_MS)),
      onChanges: (paths) => this.#changed(paths),
      onWorking: (working) => this.#holdBatch(working),
      onWarning: this.#options.onWarning,
    });
    this.#poller.start(immediately);
  }

  #changed(paths: string[]): void {
    if (paths.length === 0) return;
    const now = performance.now();
    this.#seen = { first: this.#seen?.first ?? now, last: now };
    this.#debouncer.add(paths);
    this.#options.onEachChange?.(paths);
  }

  #holdBatch(working: boolean): void {
    if (working) this.#debouncer.hold();
    else this.#debouncer.release();
  }

  #warnFallback(error: unknown): void {
    this.#options.onWarning?.(fallbackMessage(error, this.#options.intervalMs));
  }
}

/**
 * The one line that says why OS events are not used.
 *
 * @param error What `Deno.watchFs` threw.
 * @param intervalMs The poll interval now in use.
 * @returns A line for the log.
 */
export function fallbackMessage(error: unknown, intervalMs: number): string {
  const reason = firstLine(error);
  const hint = Deno.build.os === "linux" && WATCH_LIMIT_PATTERN.test(reason)
    ? " (raise fs.inotify.max_user_watches to use them)"
    : "";
  return `OS file events failed: ${reason}${hint}; using --poll ` +
    `(stat polling every ${intervalMs} ms)`;
}

/**
 * The shortest wait before the poller looks again after finding changes:
 * with a zero debounce, a file that changes all the time must not make it
 * scan back to back.
 */
const MIN_FOLLOW_UP_MS = 20;

/** How the OS says that no more watches can be placed. */
const WATCH_LIMIT_PATTERN = /limit|os error 28|os error 24|no space left/i;

function assertInterval(intervalMs: number): void {
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new RangeError(
      `Cannot watch: "intervalMs" must be more than 0, got ${intervalMs}`,
    );
  }
}
