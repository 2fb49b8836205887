/**
 * The OS-event watcher: `Deno.watchFs` (inotify, FSEvents,
 * ReadDirectoryChangesW) on the kept directories of a
 * {@linkcode WatchedTree}, each watched non-recursively, so that ignored
 * directories such as `node_modules` get no OS watch at all.
 *
 * An event is only a hint that a path may have changed: its kind is not
 * trusted (Deno labels an event "remove" when the file is gone by the time
 * the event is matched), so every named path is stat'ed and compared with
 * what the tree remembers. Access events (a file was opened or read) are
 * skipped at once. When Deno reports that events were lost (an event with
 * the flag `"rescan"`, sent when its queue overflows), the whole tree is
 * rescanned.
 *
 * A directory that appears gets a watch: one `Deno.watchFs` call is made
 * again with every directory, then the new directories are listed once more,
 * so that a file created before its watch was in place is not missed. (In
 * Deno 2.9 all `Deno.watchFs` calls of a process share one inotify instance
 * and a path stays watched while any watcher uses it, so the overlap costs
 * nothing.) The replaced watcher stays open for a moment, so that the
 * events already queued for it are still read.
 *
 * A directory that vanishes, or is replaced by another of the same name
 * (deleted and re-created, renamed, swapped by a `git checkout`), needs
 * more: Deno keeps one OS watch per path, placed on the directory the path
 * led to at the time, for as long as any watcher names the path. Watching
 * the path again while an older watcher still names it watches the old,
 * deleted directory. So then every watcher is closed, and once Deno has let
 * go of the paths a new watcher is placed on the current directories, and
 * the whole tree is rescanned for what happened in between.
 *
 * @module
 */

import { firstLine } from "../errors.ts";

import type { TreeDelta, WatchedTree } from "./_watched_tree.ts";

/**
 * Places non-recursive OS watches on directories, like `Deno.watchFs`.
 *
 * @param paths Absolute directory paths.
 * @param options Always `{ recursive: false }`.
 * @returns A watcher to iterate and close.
 */
export type WatchFsFunction = (
  paths: string[],
  options: { recursive: false },
) => Deno.FsWatcher;

/** Options for {@linkcode EventWatcher}. */
export interface EventWatcherOptions {
  /** Receives the counted files that changed, as soon as they are known. */
  onChanges: (paths: string[]) => void;
  /**
   * Called once when the OS watch cannot be kept up (a new directory hit
   * the watch limit, the event stream failed); the watcher has stopped.
   */
  onFailure: (error: unknown) => void;
  /**
   * Told when checking paths starts (`true`) and ends (`false`), so that a
   * debouncer holds its batch meanwhile.
   */
  onWorking?: ((working: boolean) => void) | undefined;
  /** Told about unexpected errors while checking paths. */
  onWarning?: ((message: string) => void) | undefined;
  /** What places the OS watches. @default {Deno.watchFs} */
  watchFs?: WatchFsFunction | undefined;
}

/** How long a replaced `Deno.FsWatcher` stays open, so its queued events are read. */
const RETIRE_AFTER_MS = 500;
/** How often a watch is placed again when a directory vanished meanwhile. */
const MAX_WATCH_ATTEMPTS = 3;
/** The flag of the event by which Deno says that events were dropped. */
const RESCAN_FLAG = "rescan";
/** The kinds of events by which a directory entry appears, goes or moves. */
const ENTRY_EVENT_KINDS: ReadonlySet<string> = new Set(["create", "remove", "rename"]);

/**
 * Watches a tree with OS events and reports the counted files that changed.
 * The watch is placed by the constructor; reporting starts with
 * {@linkcode EventWatcher.start}, once the tree has its fingerprints.
 */
export class EventWatcher {
  readonly #tree: WatchedTree;
  readonly #options: EventWatcherOptions;
  readonly #watchFs: WatchFsFunction;
  readonly #abort = new AbortController();
  readonly #retiring = new Map<
    Deno.FsWatcher,
    ReturnType<typeof setTimeout>
  >();
  /** The task that reads each open watcher's events. */
  readonly #pumps = new Map<Deno.FsWatcher, Promise<void>>();
  readonly #pending = new Set<string>();
  /** Pending paths that an event said were created, removed or renamed. */
  readonly #recreated = new Set<string>();
  /** Known directories to list again, for entries that came before their watch. */
  readonly #toRelist = new Set<string>();
  #current: Deno.FsWatcher | undefined;
  #rescanRequested = false;
  /** A directory vanished: the OS watches must be placed afresh. */
  #releaseRequested = false;
  #draining: Promise<void> | undefined;
  #started = false;
  #closed = false;

  /**
   * Places the OS watches on every directory the tree knows.
   *
   * @param tree The listed tree.
   * @param options Callbacks and the watch function.
   * @throws {Error} What `Deno.watchFs` throws, e.g. when the OS watch limit
   * is reached.
   */
  constructor(tree: WatchedTree, options: EventWatcherOptions) {
    this.#tree = tree;
    this.#options = options;
    this.#watchFs = options.watchFs ?? Deno.watchFs;
    this.#watch();
  }

  /**
   * Starts checking and reporting; events that came before are kept for it.
   *
   * @param relist Known directories to list again first: their entries may
   * have changed between their listing and the watch (see
   * `WatchedTree.dirsChangedSinceListing`).
   */
  start(relist: readonly string[] = []): void {
    for (const dir of relist) this.#toRelist.add(dir);
    this.#started = true;
    this.#kick();
  }

  /**
   * Places the OS watch again, on every directory the tree knows now (it
   * gained roots). A failure ends the watcher as `onFailure` says.
   */
  watchAgain(): void {
    if (this.#closed) return;
    try {
      this.#watch();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Removes the OS watches and stops; see {@linkcode EventWatcher.finished}. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    for (const [watcher, timer] of this.#retiring) {
      clearTimeout(timer);
      closeQuietly(watcher);
    }
    this.#retiring.clear();
    if (this.#current) closeQuietly(this.#current);
    this.#current = undefined;
  }

  /** Resolves when, after {@linkcode EventWatcher.close}, no work is left running. */
  get finished(): Promise<void> {
    return this.#settle();
  }

  async #settle(): Promise<void> {
    while (this.#pumps.size > 0 || this.#draining) {
      await Promise.allSettled([...this.#pumps.values(), this.#draining]);
    }
  }

  /** Places one watch on all directories, retrying when some vanished. */
  #watch(): void {
    for (let attempt = 1;; attempt++) {
      try {
        const paths = this.#tree.directories;
        if (paths.length === 0) throw new Deno.errors.NotFound("Every watched directory is gone");
        this.#replace(this.#watchFs(paths, { recursive: false }));
        return;
      } catch (error) {
        const vanished = error instanceof Deno.errors.NotFound;
        if (!vanished || attempt >= MAX_WATCH_ATTEMPTS) throw error;
        const dropped = this.#tree.dropMissingDirs();
        if (dropped.removedDirs.length > 0) this.#releaseRequested = true;
        this.#report(dropped.changed);
      }
    }
  }

  /**
   * Closes every watcher and waits until Deno has let go of their paths,
   * then watches the current directories afresh and asks for a rescan,
   * which finds what changed while nothing watched.
   */
  async #watchAfresh(): Promise<void> {
    this.#releaseRequested = false;
    for (const [watcher, timer] of this.#retiring) {
      clearTimeout(timer);
      closeQuietly(watcher);
    }
    this.#retiring.clear();
    if (this.#current) closeQuietly(this.#current);
    this.#current = undefined;
    // A closed watcher's paths are released once its pending read has ended.
    await Promise.allSettled([...this.#pumps.values()]);
    if (this.#closed) return;
    this.#rescanRequested = true;
    this.#watchOrThrowWatchError();
  }

  #replace(next: Deno.FsWatcher): void {
    const previous = this.#current;
    this.#current = next;
    this.#pump(next);
    if (previous) this.#retire(previous);
  }

  #retire(watcher: Deno.FsWatcher): void {
    const timer = setTimeout(() => {
      this.#retiring.delete(watcher);
      closeQuietly(watcher);
    }, RETIRE_AFTER_MS);
    this.#retiring.set(watcher, timer);
  }

  /** Reads one watcher's events until it is closed. */
  #pump(watcher: Deno.FsWatcher): void {
    const pumping = (async () => {
      try {
        for await (const event of watcher) this.#onEvent(event);
      } catch (error) {
        if (!this.#closed && !isClosedError(error)) this.#fail(error);
      }
    })();
    this.#pumps.set(watcher, pumping);
    pumping.finally(() => this.#pumps.delete(watcher));
  }

  #onEvent(event: Deno.FsEvent): void {
    if (event.flag === RESCAN_FLAG) this.#rescanRequested = true;
    else if (event.kind === "access") return; // opened or read: nothing to check
    else {
      for (const path of event.paths) this.#pending.add(path);
      if (ENTRY_EVENT_KINDS.has(event.kind)) {
        for (const path of event.paths) this.#recreated.add(path);
      }
    }
    this.#kick();
  }

  /** Starts draining the pending paths unless a drain is running. */
  #kick(): void {
    if (!this.#started || this.#closed || this.#draining) return;
    if (!this.#hasWork()) return;
    this.#options.onWorking?.(true);
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      this.#options.onWorking?.(false);
      this.#kick();
    });
  }

  async #drain(): Promise<void> {
    try {
      while (!this.#closed && this.#hasWork()) {
        if (this.#releaseRequested) await this.#watchAfresh();
        else await this.#apply(await this.#nextDelta());
      }
    } catch (error) {
      if (this.#closed) return;
      if (isWatchError(error)) this.#fail(error);
      else this.#warn(`File watcher: ${firstLine(error)}`);
    }
  }

  #hasWork(): boolean {
    return this.#pending.size > 0 || this.#toRelist.size > 0 || this.#rescanRequested ||
      this.#releaseRequested;
  }

  #nextDelta(): Promise<TreeDelta> {
    if (this.#rescanRequested) {
      this.#rescanRequested = false;
      this.#pending.clear(); // the rescan covers them
      this.#recreated.clear();
      this.#toRelist.clear();
      return this.#tree.rescan(this.#abort.signal);
    }
    if (this.#toRelist.size > 0) {
      const dirs = [...this.#toRelist];
      this.#toRelist.clear();
      return this.#tree.relist(dirs, this.#abort.signal);
    }
    const paths = [...this.#pending];
    const recreated = new Set(this.#recreated);
    this.#pending.clear();
    this.#recreated.clear();
    return this.#tree.checkPaths(paths, this.#abort.signal, recreated);
  }

  /**
   * Reports changes; watches new directories, then lists them again. When
   * directories vanished, the watch is placed afresh first.
   */
  async #apply(delta: TreeDelta): Promise<void> {
    this.#report(delta.changed);
    if (delta.removedDirs.length > 0) await this.#watchAfresh();
    let added = delta.addedDirs;
    while (added.length > 0 && !this.#closed) {
      this.#watchOrThrowWatchError();
      const relisted = await this.#tree.relist(added, this.#abort.signal);
      this.#report(relisted.changed);
      if (relisted.removedDirs.length > 0) this.#releaseRequested = true;
      added = relisted.addedDirs;
    }
  }

  #watchOrThrowWatchError(): void {
    try {
      this.#watch();
    } catch (error) {
      throw new WatchError(error);
    }
  }

  #report(paths: string[]): void {
    if (paths.length > 0 && !this.#closed) this.#options.onChanges(paths);
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.close();
    this.#options.onFailure(error instanceof WatchError ? error.cause : error);
  }

  #warn(message: string): void {
    this.#options.onWarning?.(message);
  }
}

/** Marks a failure to place a watch, as opposed to a failure to check a path. */
class WatchError extends Error {
  constructor(cause: unknown) {
    super(firstLine(cause), { cause });
  }
}

function isWatchError(error: unknown): error is WatchError {
  return error instanceof WatchError;
}

/** The errors with which iterating a watcher ends when it was closed. */
function isClosedError(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

function closeQuietly(watcher: Deno.FsWatcher): void {
  try {
    watcher.close();
  } catch (error) {
    if (!isClosedError(error)) throw error;
  }
}
