/**
 * The watched part of the file system: the roots, the directories kept by
 * the filters, and the state of every counted file. Both watchers drive it:
 * the event watcher asks it to check the paths that OS events name, the
 * poller asks it to rescan everything. It answers with what changed.
 *
 * Directories are walked by hand, one level at a time, so that an ignored
 * directory (`node_modules`, `.git`) is never listed, stat'ed or watched.
 * Symlinked files are followed; symlinked directories are not descended, so
 * that a link loop cannot trap the walk.
 *
 * Paths are kept as real paths (so that they match what the OS reports)
 * and handed out under the root as the caller spelled it.
 *
 * The file-system work is synchronous (far cheaper per file than async
 * calls, see `poller.ts`), cut into slices of a few milliseconds with a turn
 * of the event loop in between, so that the process stays responsive while
 * a big tree is scanned.
 *
 * @module
 */

import { firstLine } from "../errors.ts";

import { dirname, resolve, sep as SEPARATOR } from "node:path";
import {
  type FileState,
  fingerprint,
  isGoneError,
  mtimeOf,
  RACY_WINDOW_MS,
  refreshState,
  statOrUndefined,
  statSettles,
} from "./_file_state.ts";
import { WatchFilter, type WatchFilterOptions } from "./watch_filter.ts";

/** The longest stretch of synchronous file-system work between two turns of the event loop. */
const SLICE_MS = 8;
/** How many steps go by between two looks at the clock (a stat takes a few µs). */
const STEPS_PER_CLOCK_CHECK = 32;
/** The file whose rules are honoured when `gitignore` is on. */
const GITIGNORE_NAME = ".gitignore";

/** Options for {@linkcode WatchedTree.open}. */
export interface WatchedTreeOptions extends WatchFilterOptions {
  /** Absolute paths of directories or single files. */
  roots: readonly string[];
  /** Honour `.gitignore` files found in the directory roots. */
  gitignore: boolean;
  /** Told about directories that cannot be read. */
  onWarning?: ((message: string) => void) | undefined;
}

/** What one check of the tree found. */
export interface TreeDelta {
  /** Counted files created, modified, deleted or renamed (caller's spelling). */
  changed: string[];
  /** Directories that appeared and want an OS watch (real paths). */
  addedDirs: string[];
  /**
   * Directories that vanished or were replaced by another directory of the
   * same name (deleted and re-created, renamed, swapped by a checkout):
   * real paths. An OS watch placed on the old one watches nothing now.
   */
  removedDirs: string[];
}

/** One file of a settled batch, see {@linkcode WatchedTree.settle}. */
export interface SettledChange {
  /** The file, spelled under its root as the caller gave it. */
  path: string;
  /** Compared with the state before the batch began. */
  kind: "created" | "modified" | "deleted";
  /** Its mtime now, in ms since the epoch; `undefined` when it is gone. */
  mtimeMs: number | undefined;
  /** `Date.now()` when the first change of the batch to it was seen. */
  seenAtMs: number;
}

/** What a file was before the first change of the current batch. */
interface Baseline {
  /** The real path. */
  path: string;
  /** Whether it existed. */
  existed: boolean;
  /** Its hash then; `undefined` when it was not hashed (or did not exist). */
  hash: string | undefined;
  /** `Date.now()` when the change was seen. */
  seenAtMs: number;
}

function emptyDelta(): TreeDelta {
  return { changed: [], addedDirs: [], removedDirs: [] };
}

interface DirRoot {
  kind: "dir";
  /** The real path. */
  path: string;
  /** The path as the caller gave it. */
  given: string;
  filter: WatchFilter;
}

interface FileRoot {
  kind: "file";
  path: string;
  given: string;
}

type Root = DirRoot | FileRoot;

/** What the poller remembers about a directory, to relist only changed ones. */
interface DirState {
  mtimeMs: number;
  checkedAtMs: number;
  /**
   * The directory's inode and birth time: another directory under the same
   * name has another pair (file systems reuse a freed inode at once).
   */
  ino: number | null;
  birthMs: number | null;
}

/** The roots, the kept directories and the counted files, with their state. */
export class WatchedTree {
  readonly #roots: Root[];
  readonly #gitignore: boolean;
  readonly #onWarning: (message: string) => void;
  readonly #files = new Map<string, FileState>();
  readonly #dirs = new Map<string, DirState>();
  /** Folders whose `.gitignore` was read: once per folder, not on every relist. */
  readonly #gitignoreRead = new Set<string>();
  /**
   * For each file reported changed since the last batch (by its outward
   * path): what it was before the first change. A batch is checked against
   * these, so an intermediate state (an editor's truncate before the write)
   * never counts as a change.
   */
  readonly #baselines = new Map<string, Baseline>();

  private constructor(roots: Root[], options: WatchedTreeOptions) {
    this.#roots = roots;
    this.#gitignore = options.gitignore;
    this.#onWarning = options.onWarning ?? (() => {});
  }

  /**
   * Resolves the roots; nothing is listed yet.
   *
   * @param options Roots and filter options.
   * @returns A tree that knows its roots.
   * @throws {TypeError} When there is no root or a root is not absolute.
   * @throws {Deno.errors.NotFound} When a root does not exist.
   */
  static open(options: WatchedTreeOptions): WatchedTree {
    if (options.roots.length === 0) {
      throw new TypeError("Cannot watch without a root");
    }
    return new WatchedTree(options.roots.map((p) => openRoot(p, options)), {
      ...options,
    });
  }

  /**
   * Adds files that no root holds (a module the app imports from outside
   * the watched directories): each becomes a single-file root, watched from
   * now on. Files under a root (even an ignored part of it) and files that
   * do not exist are skipped.
   *
   * @param paths Absolute paths.
   * @returns Whether a file was added: then the OS watch must be placed
   * again, on the new directories too.
   */
  addFiles(paths: readonly string[]): boolean {
    let added = false;
    for (const given of paths) {
      let path: string;
      try {
        path = Deno.realPathSync(given);
      } catch (error) {
        if (isGoneError(error)) continue;
        throw error;
      }
      // Counted already; else outside the roots, ignored there, or behind a
      // symlinked directory the walk does not follow: watched as a file root.
      if (this.#counts(path)) continue;
      const root: FileRoot = { kind: "file", path, given: resolve(given) };
      this.#roots.push(root);
      const found: string[] = [];
      this.#addFileRoot(root, found);
      const info = found.length > 0 ? statOrUndefined(path) : undefined;
      if (info?.isFile) this.#files.set(path, fingerprint(path, info, Date.now()));
      added = true;
    }
    return added;
  }

  /** How many counted files are known. */
  get fileCount(): number {
    return this.#files.size;
  }

  /**
   * The directories to watch, roots first: Deno matches an event against
   * the watched paths in order, and the root prefix matches every event.
   */
  get directories(): string[] {
    const roots = this.#roots.map((r) => r.kind === "dir" ? r.path : dirname(r.path));
    const first = [...new Set(roots)].filter((dir) => this.#dirs.has(dir));
    return [...new Set([...first, ...this.#dirs.keys()])];
  }

  /**
   * Takes the files changed since a moment as changed, as if events had
   * named them: what was saved after the program began loading, but before
   * the scan fingerprinted it, must still restart it. A file changed when
   * its mtime is this recent, or when an OS event placed at that moment
   * named it (see `early_watch.ts`): a file renamed in, or given an old
   * mtime, has no recent mtime. Since nobody knows what the file was before,
   * its batch counts it whatever its content.
   *
   * @param sinceMs The moment, ms since the epoch.
   * @param named Real paths that OS events named since that moment.
   * @returns Their paths, for the batch.
   */
  changedSince(sinceMs: number, named: ReadonlySet<string> = new Set()): string[] {
    const recent: string[] = [];
    for (const [path, state] of this.#files) {
      if (state.mtimeMs >= sinceMs && !named.has(path)) recent.push(path);
    }
    return [...recent.map((path) => this.#takeKnownAsChanged(path)), ...this.takeAsChanged(named)];
  }

  /**
   * Takes the files that OS events named as changed, whatever a comparison
   * with their fingerprint says: the event may tell of a write that came
   * before the fingerprint. A file that no listing saw (created after its
   * folder was listed) is taken in as created; paths that are gone, or do
   * not count, are skipped.
   *
   * @param paths Real paths.
   * @returns The paths of the changed files, for the batch.
   */
  takeAsChanged(paths: Iterable<string>): string[] {
    const changed: string[] = [];
    for (const path of paths) {
      if (this.#files.has(path)) {
        changed.push(this.#takeKnownAsChanged(path));
        continue;
      }
      const checkedAtMs = Date.now();
      const info = statOrUndefined(path);
      if (!info?.isFile || !this.#counts(path)) continue;
      this.#files.set(path, fingerprint(path, info, checkedAtMs));
      const delta = emptyDelta();
      this.#reportChange(path, undefined, delta);
      changed.push(...delta.changed);
    }
    return changed;
  }

  /**
   * Marks a known file changed with no content to compare with: its batch
   * counts it. A file created within the batch stays created.
   */
  #takeKnownAsChanged(path: string): string {
    const outward = this.#outward(path);
    const baseline = this.#baselines.get(outward);
    if (baseline?.existed === false) return outward;
    const seenAtMs = baseline?.seenAtMs ?? Date.now();
    this.#baselines.set(outward, { path, existed: true, hash: undefined, seenAtMs });
    return outward;
  }

  /**
   * The directories whose entries may have changed since the scan listed
   * them (their mtime moved, or is too recent to tell): an entry created
   * after its folder was listed, but before the folder was watched, has no
   * event. List them again once the watch is in place.
   *
   * @returns Real paths.
   */
  dirsChangedSinceListing(): string[] {
    const changed: string[] = [];
    for (const [dir, listed] of this.#dirs) {
      const now = dirStateOf(dir);
      const racy = listed.mtimeMs + RACY_WINDOW_MS > listed.checkedAtMs;
      if (racy || now.mtimeMs !== listed.mtimeMs || !isSameDir(listed, now)) changed.push(dir);
    }
    return changed;
  }

  /** The counted files (real paths), for tests and diagnostics. */
  get files(): string[] {
    return [...this.#files.keys()];
  }

  /**
   * Walks every root and remembers its directories and counted files, then
   * fingerprints the files. Call once, before watching starts to report.
   *
   * @param beforeHashing Runs once the directories are known and before the
   * (slower) hashing: the event watcher places its watches there, so that no
   * change made during hashing is missed.
   */
  async scan(beforeHashing: () => void = () => {}): Promise<void> {
    const found: string[] = [];
    for (const root of this.#roots) {
      if (root.kind === "dir") this.#walk(root.path, found, []);
      else this.#addFileRoot(root, found);
    }
    beforeHashing();
    await this.#fingerprintAll(found, new Slicer());
  }

  /**
   * Checks the paths that OS events named.
   *
   * @param paths Absolute paths, as the events carry them.
   * @param signal Stops the check between slices.
   * @param recreated Paths that events said were created, removed or
   * renamed: a known directory among them was replaced, even when the new
   * one has the old one's inode and birth time (a re-creation within the
   * same millisecond).
   * @returns What changed.
   */
  async checkPaths(
    paths: Iterable<string>,
    signal?: AbortSignal,
    recreated: ReadonlySet<string> = new Set(),
  ): Promise<TreeDelta> {
    const delta = emptyDelta();
    const slicer = new Slicer(signal);
    for (const path of paths) {
      if (slicer.due()) await slicer.pause();
      const found = this.#checkPath(path, delta, recreated.has(path));
      await this.#takeNewFiles(found, delta, slicer);
    }
    return delta;
  }

  /**
   * Lists directories again (after they got an OS watch, or when their
   * mtime changed) and takes in what is new in them.
   *
   * @param dirs Real paths of known directories.
   * @returns What changed.
   */
  async relist(
    dirs: Iterable<string>,
    signal?: AbortSignal,
  ): Promise<TreeDelta> {
    const delta = emptyDelta();
    const found: string[] = [];
    for (const dir of dirs) this.#relistDir(dir, found, delta.addedDirs);
    await this.#takeNewFiles(found, delta, new Slicer(signal));
    return delta;
  }

  /**
   * Stats every known directory and file: relists directories whose mtime
   * moved, drops what disappeared, compares files. Lets the event loop run
   * between slices so that a big tree does not stall the process.
   *
   * @param signal Stops the rescan between slices.
   * @returns What changed.
   */
  async rescan(signal?: AbortSignal): Promise<TreeDelta> {
    const delta = emptyDelta();
    const slicer = new Slicer(signal);
    const { moved, replaced } = await this.#statDirs(delta, slicer);
    const found: string[] = [];
    this.#reviveRoots(found, delta.addedDirs);
    for (const dir of replaced) if (this.#keepsDir(dir)) this.#walk(dir, found, delta.addedDirs);
    for (const dir of moved) this.#relistDir(dir, found, delta.addedDirs);
    await this.#statFiles(delta, slicer);
    await this.#takeNewFiles(found, delta, slicer);
    return delta;
  }

  /**
   * Forgets directories that no longer exist (an OS watch cannot be placed
   * on them), reporting the files that went with them.
   *
   * @returns The counted files and the directories that were removed.
   */
  dropMissingDirs(): TreeDelta {
    const delta = emptyDelta();
    for (const dir of [...this.#dirs.keys()]) {
      if (statOrUndefined(dir)?.isDirectory !== true) this.#forget(dir, delta);
    }
    return delta;
  }

  /** Checks one path; returns the files found in a new directory, to take in. */
  #checkPath(path: string, delta: TreeDelta, recreated: boolean): string[] {
    const found: string[] = [];
    if (!this.#isUnderARoot(path)) return found;
    const checkedAtMs = Date.now();
    const info = statOrUndefined(path);
    if (info === undefined || !info.isDirectory) this.#forgetDir(path, delta);
    if (info === undefined) this.#forgetFile(path, delta);
    else if (info.isFile) this.#checkFile(path, info, checkedAtMs, delta);
    else if (info.isDirectory) {
      this.#forgetFile(path, delta);
      const known = this.#dirs.get(path);
      if (known !== undefined && (recreated || !isSameDir(known, info))) {
        this.#forgetDir(path, delta); // replaced: walked afresh below
      }
      if (!this.#dirs.has(path) && this.#keepsDir(path)) {
        this.#walk(path, found, delta.addedDirs);
      }
    }
    return found;
  }

  #checkFile(
    path: string,
    info: Deno.FileInfo,
    checkedAtMs: number,
    delta: TreeDelta,
  ): void {
    const known = this.#files.get(path);
    if (known === undefined) {
      if (!this.#counts(path)) return;
      this.#files.set(path, fingerprint(path, info, checkedAtMs));
      this.#reportChange(path, undefined, delta);
      return;
    }
    const { changed, state } = refreshState(path, known, info, checkedAtMs);
    this.#files.set(path, state);
    if (changed) this.#reportChange(path, known, delta);
  }

  /** Reports a changed file; `before` is its state before the change, `undefined` if it is new. */
  #reportChange(path: string, before: FileState | undefined, delta: TreeDelta): void {
    const outward = this.#outward(path);
    if (!this.#baselines.has(outward)) {
      this.#baselines.set(outward, {
        path,
        existed: before !== undefined,
        hash: before?.hash,
        seenAtMs: Date.now(),
      });
    }
    delta.changed.push(outward);
  }

  /**
   * Keeps the paths of a batch whose content really differs from what it
   * was before the batch began, and starts the next batch afresh.
   *
   * @param paths The paths of a finished batch, as reported.
   * @returns Those that changed (created, deleted, or with other content),
   * in the given order, with what happened to each and when.
   */
  settle(paths: string[]): SettledChange[] {
    const settled: SettledChange[] = [];
    for (const outward of paths) {
      const change = this.#settleOne(outward);
      if (change !== undefined) settled.push(change);
      this.#baselines.delete(outward);
    }
    return settled;
  }

  #settleOne(outward: string): SettledChange | undefined {
    const baseline = this.#baselines.get(outward);
    const real = baseline?.path ?? outward;
    const seenAtMs = baseline?.seenAtMs ?? Date.now();
    const checkedAtMs = Date.now();
    const info = statOrUndefined(real);
    if (!info?.isFile) {
      if (baseline?.existed === false) return undefined; // came and went within the batch
      return { path: outward, kind: "deleted", mtimeMs: undefined, seenAtMs };
    }
    const mtimeMs = mtimeOf(info);
    if (baseline === undefined || !baseline.existed) {
      return { path: outward, kind: "created", mtimeMs, seenAtMs };
    }
    const same = baseline.hash !== undefined &&
      fingerprint(real, info, checkedAtMs).hash === baseline.hash;
    return same ? undefined : { path: outward, kind: "modified", mtimeMs, seenAtMs };
  }

  /** Walks a kept directory and the kept directories below it. */
  #walk(start: string, found: string[], addedDirs: string[]): void {
    const stack = [start];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      if (this.#dirs.has(dir)) continue; // reached from another root already
      const state = dirStateOf(dir); // before listing: a later entry moves the mtime
      const entries = this.#readDir(dir);
      if (entries === undefined) continue;
      this.#dirs.set(dir, state);
      addedDirs.push(dir);
      for (const entry of entries) {
        const path = `${dir}${SEPARATOR}${entry.name}`;
        const kind = entryKind(entry, path);
        if (kind === "dir" && this.#keepsDir(path)) stack.push(path);
        if (kind === "file" && !this.#files.has(path) && this.#counts(path)) {
          found.push(path);
        }
      }
    }
  }

  #relistDir(dir: string, found: string[], addedDirs: string[]): void {
    const entries = this.#dirs.has(dir) ? this.#readDir(dir) : undefined;
    if (entries === undefined) return;
    for (const entry of entries) {
      const path = `${dir}${SEPARATOR}${entry.name}`;
      if (this.#dirs.has(path) || this.#files.has(path)) continue;
      const kind = entryKind(entry, path);
      if (kind === "dir" && this.#keepsDir(path)) {
        this.#walk(path, found, addedDirs);
      }
      if (kind === "file" && this.#counts(path)) found.push(path);
    }
  }

  /** Lists a directory, reading its `.gitignore` first when asked to. */
  #readDir(dir: string): Deno.DirEntry[] | undefined {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch (error) {
      if (!isGoneError(error)) throw error;
      if (error instanceof Deno.errors.PermissionDenied) {
        this.#onWarning(`Cannot watch "${dir}": ${firstLine(error)}`);
      }
      return undefined;
    }
    if (
      this.#gitignore && !this.#gitignoreRead.has(dir) &&
      entries.some((e) => e.name === GITIGNORE_NAME)
    ) {
      this.#gitignoreRead.add(dir);
      this.#loadGitignore(dir);
    }
    return entries;
  }

  #loadGitignore(dir: string): void {
    let text: string;
    try {
      text = Deno.readTextFileSync(`${dir}${SEPARATOR}${GITIGNORE_NAME}`);
    } catch (error) {
      if (isGoneError(error) || error instanceof Deno.errors.IsADirectory) {
        return;
      }
      throw error;
    }
    for (const root of this.#roots) {
      if (root.kind === "dir" && isInside(root.path, dir)) {
        root.filter.addGitignore(relativeTo(root.path, dir), text);
      }
    }
  }

  #addFileRoot(root: FileRoot, found: string[]): void {
    const dir = dirname(root.path);
    const state = dirStateOf(dir);
    if (state.mtimeMs < 0) return;
    if (!this.#dirs.has(dir)) this.#dirs.set(dir, state);
    if (statOrUndefined(root.path)?.isFile) found.push(root.path);
  }

  /** Fingerprints files not known yet; returns those that were taken in. */
  async #fingerprintAll(
    paths: readonly string[],
    slicer: Slicer,
  ): Promise<string[]> {
    const added: string[] = [];
    for (const path of paths) {
      if (slicer.due()) await slicer.pause();
      if (this.#files.has(path)) continue;
      const checkedAtMs = Date.now();
      const info = statOrUndefined(path);
      if (!info?.isFile) continue;
      this.#files.set(path, fingerprint(path, info, checkedAtMs));
      added.push(path);
    }
    return added;
  }

  /** Remembers files found by a walk or relist: each one is a creation. */
  async #takeNewFiles(
    paths: readonly string[],
    delta: TreeDelta,
    slicer: Slicer,
  ): Promise<void> {
    if (paths.length === 0) return;
    for (const path of await this.#fingerprintAll(paths, slicer)) {
      this.#reportChange(path, undefined, delta);
    }
  }

  /** Walks again a root that vanished and came back (poll only: nothing watches it). */
  #reviveRoots(found: string[], addedDirs: string[]): void {
    for (const root of this.#roots) {
      if (root.kind === "dir" && !this.#dirs.has(root.path)) {
        this.#walk(root.path, found, addedDirs);
      }
      if (root.kind === "file" && !this.#dirs.has(dirname(root.path))) {
        this.#addFileRoot(root, found);
      }
    }
  }

  /**
   * Stats every directory: returns those to relist (their mtime moved) and
   * those replaced by another directory of the same name (forgotten, to
   * walk afresh); forgets vanished ones.
   */
  async #statDirs(
    delta: TreeDelta,
    slicer: Slicer,
  ): Promise<{ moved: string[]; replaced: string[] }> {
    const moved: string[] = [];
    const replaced: string[] = [];
    for (const [dir, known] of [...this.#dirs]) {
      if (slicer.due()) await slicer.pause();
      if (!this.#dirs.has(dir)) continue; // forgotten with an ancestor
      const fresh = dirStateOf(dir);
      if (fresh.mtimeMs < 0 || fresh.ino !== known.ino || fresh.birthMs !== known.birthMs) {
        this.#forget(dir, delta);
        if (fresh.mtimeMs >= 0) replaced.push(dir);
        continue;
      }
      this.#dirs.set(dir, fresh);
      const racy = known.mtimeMs + RACY_WINDOW_MS > known.checkedAtMs;
      if (fresh.mtimeMs !== known.mtimeMs || racy) moved.push(dir);
    }
    return { moved, replaced };
  }

  /** Stats every file; the few whose stat does not settle it are compared by content. */
  async #statFiles(delta: TreeDelta, slicer: Slicer): Promise<void> {
    for (const [path, known] of this.#files) {
      if (slicer.due()) await slicer.pause();
      const checkedAtMs = Date.now();
      const info = statOrUndefined(path);
      if (!info?.isFile) this.#forgetFile(path, delta); // safe while iterating a Map
      else if (!statSettles(known, info)) {
        this.#checkFile(path, info, checkedAtMs, delta);
      }
    }
  }

  /** Forgets a vanished path, whether it was a file or a directory. */
  #forget(path: string, delta: TreeDelta): void {
    this.#forgetFile(path, delta);
    this.#forgetDir(path, delta);
  }

  #forgetFile(path: string, delta: TreeDelta): void {
    const known = this.#files.get(path);
    if (known && this.#files.delete(path)) this.#reportChange(path, known, delta);
  }

  /** Forgets a directory and everything known below it. */
  #forgetDir(dir: string, delta: TreeDelta): void {
    if (!this.#dirs.delete(dir)) return;
    this.#gitignoreRead.delete(dir);
    delta.removedDirs.push(dir);
    const prefix = `${dir}${SEPARATOR}`;
    for (const path of [...this.#dirs.keys()]) {
      if (!path.startsWith(prefix)) continue;
      this.#dirs.delete(path);
      this.#gitignoreRead.delete(path);
      delta.removedDirs.push(path);
    }
    for (const path of [...this.#files.keys()]) {
      if (path.startsWith(prefix)) this.#forgetFile(path, delta);
    }
  }

  #isUnderARoot(path: string): boolean {
    return this.#roots.some((root) =>
      root.kind === "file" ? root.path === path : isInside(root.path, path)
    );
  }

  /** A directory is kept when a directory root holds it and does not ignore it. */
  #keepsDir(dir: string): boolean {
    return this.#roots.some((root) =>
      root.kind === "dir" && isInside(root.path, dir) &&
      !root.filter.isIgnoredDir(relativeTo(root.path, dir))
    );
  }

  /** A file counts when any root counts it: an explicit root wins over the others' ignores. */
  #counts(path: string): boolean {
    return this.#roots.some((root) => {
      if (root.kind === "file") return root.path === path;
      return isInside(root.path, path) && path !== root.path &&
        root.filter.counts(relativeTo(root.path, path));
    });
  }

  /** Spells a real path under the root the way the caller gave that root. */
  #outward(path: string): string {
    for (const root of this.#roots) {
      if (root.path === path) return root.given;
      if (root.kind === "dir" && isInside(root.path, path)) {
        return root.given + path.slice(root.path.length);
      }
    }
    return path;
  }
}

function openRoot(given: string, options: WatchFilterOptions): Root {
  if (!isAbsolutePath(given)) {
    throw new TypeError(`Cannot watch "${given}": the path is not absolute`);
  }
  let path: string;
  try {
    path = Deno.realPathSync(given);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(`Cannot watch "${given}": not found`);
    }
    throw error;
  }
  const spelled = resolve(given); // "/app/./src/" is handed out as "/app/src"
  if (!Deno.statSync(path).isDirectory) {
    return { kind: "file", path, given: spelled };
  }
  const filter = new WatchFilter({
    ext: options.ext,
    ignore: options.ignore,
    ...(options.allFiles === undefined ? {} : { allFiles: options.allFiles }),
    ...(options.ignoreCase === undefined ? {} : { ignoreCase: options.ignoreCase }),
  });
  return { kind: "dir", path, given: spelled, filter };
}

function isAbsolutePath(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) ||
    path.startsWith("\\\\");
}

/** Tells whether `path` is `dir` itself or below it. */
function isInside(dir: string, path: string): boolean {
  if (path === dir) return true;
  const prefix = dir.endsWith(SEPARATOR) ? dir : `${dir}${SEPARATOR}`;
  return path.startsWith(prefix);
}

/**
 * The path below a root in the filters' form: `/` separators, no `./`.
 * A slice, not `path.relative()`: it runs for every file of every scan, and
 * both paths are already normalized.
 */
function relativeTo(root: string, path: string): string {
  if (path === root) return "";
  const rel = path.slice(root.endsWith(SEPARATOR) ? root.length : root.length + 1);
  return SEPARATOR === "/" ? rel : rel.replaceAll(SEPARATOR, "/");
}

/** Whether a directory entry is a file, a directory or neither; symlinks are resolved. */
function entryKind(entry: Deno.DirEntry, path: string): "file" | "dir" | "other" {
  if (entry.isFile) return "file";
  if (entry.isDirectory) return "dir";
  if (!entry.isSymlink) return "other";
  return statOrUndefined(path)?.isFile ? "file" : "other"; // linked folders are not descended
}

/** A directory's mtime now; `mtimeMs` is -1 when it is gone. */
function dirStateOf(dir: string): DirState {
  const checkedAtMs = Date.now();
  const info = statOrUndefined(dir);
  if (info?.isDirectory !== true) return { mtimeMs: -1, checkedAtMs, ino: null, birthMs: null };
  return {
    mtimeMs: mtimeOf(info),
    checkedAtMs,
    ino: info.ino,
    birthMs: info.birthtime?.getTime() ?? null,
  };
}

/** Whether a fresh stat (or a fresh state) shows the same directory that a state remembers. */
function isSameDir(known: DirState, info: Deno.FileInfo | DirState): boolean {
  const birthMs = "birthMs" in info ? info.birthMs : info.birthtime?.getTime() ?? null;
  return known.ino === info.ino && known.birthMs === birthMs;
}

/**
 * Cuts synchronous work into slices of {@linkcode SLICE_MS}: other work
 * runs in between (the front forwards connections in this process).
 */
class Slicer {
  readonly #signal: AbortSignal | undefined;
  #sliceStart = performance.now();
  #steps = 0;

  constructor(signal?: AbortSignal) {
    this.#signal = signal;
  }

  /** Whether the current slice is used up; called once per step. */
  due(): boolean {
    if (++this.#steps % STEPS_PER_CLOCK_CHECK !== 0) return false;
    return performance.now() - this.#sliceStart >= SLICE_MS;
  }

  /** Lets the event loop run, then starts a new slice; throws once aborted. */
  async pause(): Promise<void> {
    this.#signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.#signal?.throwIfAborted();
    this.#sliceStart = performance.now();
  }
}
