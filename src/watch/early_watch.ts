/**
 * The watch of the first start. The whole tree is listed, fingerprinted and
 * watched only once the first child serves (see `watch.ts`), so that the
 * first response does not wait for it; the program's files are read before
 * that. An {@linkcode EarlyWatch} is placed as the first child is told to
 * load the program, on a few directories only (the roots themselves and the
 * folders of the program's own modules): one cheap `Deno.watchFs` call,
 * without listing anything. Every file an event names until the full watch
 * has taken over is a change of the first start, whatever its mtime says: a
 * temporary file renamed over a module keeps the mtime of its write, which
 * may be older than the start, and `cp -p`, `rsync -t` or `tar` set an old
 * one on purpose.
 *
 * A file outside these directories is judged by its mtime alone (see
 * `WatchedTree.changedSince`): a write that keeps an old mtime there, between
 * the first start and the scan, is not seen.
 *
 * @module
 */

import { dirname } from "node:path";
import { isGoneError } from "./_file_state.ts";
import type { WatchFsFunction } from "./watcher.ts";

/**
 * A non-recursive OS watch on a few directories that remembers every path
 * its events name.
 *
 * @example Place one, save a file, see it named
 * ```ts
 * import { EarlyWatch } from "./early_watch.ts";
 *
 * const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devsrv_example_" }));
 * const early = EarlyWatch.place([dir]);
 * try {
 *   await Deno.writeTextFile(`${dir}/app.ts`, "export {};\n");
 *   const start = Date.now();
 *   while (!early.named.has(`${dir}/app.ts`)) {
 *     if (Date.now() - start > 5000) throw new Error("no event");
 *     await new Promise((resolve) => setTimeout(resolve, 10));
 *   }
 * } finally {
 *   early.close();
 *   await early.finished;
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export class EarlyWatch {
  readonly #named = new Set<string>();
  #watcher: Deno.FsWatcher | undefined;
  #pumping: Promise<void> = Promise.resolve();
  #onNamed: ((paths: string[]) => void) | undefined;

  private constructor() {}

  /**
   * Places the watch on the directories that exist, as real paths (a file
   * stands for its folder). It never throws: when the OS watch cannot be
   * placed (the watch limit), it names nothing, and every file is judged by
   * its mtime, as without it.
   *
   * @param paths Absolute paths of directories or files.
   * @param watchFs What places the watch. @default {Deno.watchFs}
   * @returns The running watch.
   */
  static place(paths: readonly string[], watchFs: WatchFsFunction = Deno.watchFs): EarlyWatch {
    const early = new EarlyWatch();
    const dirs = new Set<string>();
    for (const path of paths) {
      const dir = realDirOrUndefined(path);
      if (dir !== undefined) dirs.add(dir);
    }
    if (dirs.size === 0) return early;
    let watcher: Deno.FsWatcher;
    try {
      watcher = watchFs([...dirs], { recursive: false });
    } catch {
      // Whatever it is (the watch limit, a folder gone meanwhile), the full
      // watch meets it again and says so; until then, mtimes decide.
      return early;
    }
    early.#watcher = watcher;
    early.#pumping = early.#pump(watcher);
    return early;
  }

  /** The paths (real) that events have named so far: entries created, written, renamed, removed. */
  get named(): ReadonlySet<string> {
    return this.#named;
  }

  /**
   * Hands each path named from now on to a listener, until
   * {@linkcode EarlyWatch.close}: an event may arrive after the full watch
   * has fingerprinted the file it is about.
   *
   * @param onNamed Receives the paths of each event.
   */
  listen(onNamed: (paths: string[]) => void): void {
    this.#onNamed = onNamed;
  }

  /** Removes the OS watch; see {@linkcode EarlyWatch.finished}. */
  close(): void {
    this.#onNamed = undefined;
    const watcher = this.#watcher;
    this.#watcher = undefined;
    try {
      watcher?.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  /** Resolves once, after {@linkcode EarlyWatch.close}, no event is read any more. */
  get finished(): Promise<void> {
    return this.#pumping;
  }

  async #pump(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue; // opened or read: nothing changed
        for (const path of event.paths) this.#named.add(path);
        if (event.paths.length > 0) this.#onNamed?.(event.paths);
      }
    } catch {
      // Closed (BadResource, Interrupted), or the stream failed: either way
      // nothing more is named, and a file not named is judged by its mtime.
    }
  }
}

/** A directory's real path, or a file's folder's; `undefined` when it is missing. */
function realDirOrUndefined(path: string): string | undefined {
  try {
    const real = Deno.realPathSync(path);
    return Deno.statSync(real).isDirectory ? real : dirname(real);
  } catch (error) {
    if (isGoneError(error)) return undefined;
    throw error;
  }
}
