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

import { WatchedTree } from "./_watched_tree.ts";
import { Debouncer } from "./debounce.ts";
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
   * Places the OS watches (non-recursive). A test hook: pass a function
   * that throws to exercise the fallback to polling.
   * @default {Deno.watchFs}
   */
  watchFs?: WatchFsFunction;
}

/** One debounced batch of changes. */
export interface ChangeBatch {
  /** Absolute, sorted, unique: files created, modified, deleted or renamed. */
  paths: string[];
}

/** A running watch. */
export interface Watching {
  /** How changes are seen now; becomes `"poll"` after a fallback. */
  readonly kind: "watchfs" | "poll";
  /** Watched files that count (after filters), updated as files come and go. */
  readonly fileCount: number;
  /** The roots, as given. */
  readonly roots: string[];
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
  readonly #stopped: Promise<void>[] = [];

  constructor(
    tree: WatchedTree,
    options: WatchOptions,
    onChange: (batch: ChangeBatch) => void,
  ) {
    this.roots = [...options.roots];
    this.#tree = tree;
    this.#options = options;
    this.#debouncer = new Debouncer((paths) => {
      const changed = tree.settle(paths);
      if (changed.length > 0) onChange({ paths: changed });
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
    ]).then(() => {});
  }

  /** Lists the tree, places the watch, fingerprints, then starts reporting. */
  async start(): Promise<void> {
    await this.#tree.scan(() => {
      if (!this.#options.poll) this.#events = this.#tryEvents();
    });
    if (this.#events) this.#events.start();
    else this.#startPolling(false);
  }

  close(): void {
    this.#debouncer.close();
    this.#events?.close();
    this.#poller?.close();
  }

  #tryEvents(): EventWatcher | undefined {
    try {
      return new EventWatcher(this.#tree, {
        onChanges: (paths) => this.#debouncer.add(paths),
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
      onChanges: (paths) => this.#debouncer.add(paths),
      onWorking: (working) => this.#holdBatch(working),
      onWarning: this.#options.onWarning,
    });
    this.#poller.start(immediately);
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
  const message = error instanceof Error ? error.message : String(error);
  const reason = message.split("\n")[0] ?? message;
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
