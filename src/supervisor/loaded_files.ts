/**
 * What a child found in the files that keep changing, as it was told to
 * start. A save's OS event may come after a child that started for an
 * earlier save has already read the file (a fresh child spawns for tens of
 * milliseconds after its batch): that event's batch would run the same code
 * a second time, with its side effects (a log line, a seeded database, a
 * page reload). The reloader keeps the bytes of the recently changed files
 * as each child is told to start, and a batch whose files all still hold
 * those bytes is already in that child.
 *
 * Only bytes are compared, never times: `Deno.stat` gives `ctime` in whole
 * seconds on Linux, and an mtime may be set back (`cp -p`, `rsync -t`).
 *
 * @module
 */

/** The most files kept: the recently changed ones, typically one or two. */
export const MAX_FILES = 16;
/** A file larger than this is not kept: its change always restarts. */
export const MAX_FILE_BYTES = 1024 * 1024;

/** The bytes of some files at one moment. */
export class LoadedFiles {
  readonly #bytes: ReadonlyMap<string, Uint8Array>;

  private constructor(bytes: ReadonlyMap<string, Uint8Array>) {
    this.#bytes = bytes;
  }

  /**
   * Reads the files now (a file that is missing, unreadable or too large is
   * left out).
   *
   * @param paths Absolute paths; the first {@linkcode MAX_FILES} are read.
   * @returns The snapshot.
   */
  static read(paths: Iterable<string>): LoadedFiles {
    const bytes = new Map<string, Uint8Array>();
    for (const path of paths) {
      if (bytes.size >= MAX_FILES) break;
      const content = readSmallFile(path);
      if (content !== undefined) bytes.set(path, content);
    }
    return new LoadedFiles(bytes);
  }

  /**
   * Tells whether every file still holds the bytes it held in the snapshot.
   *
   * @param paths Absolute paths, at least one.
   * @returns `false` when any is not in the snapshot, is gone, or differs.
   *
   * @example A file saved again with the same content
   * ```ts
   * import { LoadedFiles } from "./loaded_files.ts";
   *
   * const path = await Deno.makeTempFile();
   * await Deno.writeTextFile(path, "v1");
   * const loaded = LoadedFiles.read([path]);
   * if (!loaded.unchanged([path])) throw new Error();
   * await Deno.writeTextFile(path, "v2");
   * if (loaded.unchanged([path])) throw new Error();
   * await Deno.remove(path);
   * ```
   */
  unchanged(paths: readonly string[]): boolean {
    if (paths.length === 0) return false;
    return paths.every((path) => {
      const kept = this.#bytes.get(path);
      const now = kept && readSmallFile(path);
      return kept !== undefined && now !== undefined && sameBytes(kept, now);
    });
  }
}

function readSmallFile(path: string): Uint8Array | undefined {
  try {
    if (Deno.statSync(path).size > MAX_FILE_BYTES) return undefined;
    return Deno.readFileSync(path);
  } catch (error) {
    // Gone, a folder, or not ours to read: a change to it restarts as usual.
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied ||
      error instanceof Deno.errors.IsADirectory || error instanceof Deno.errors.NotCapable
    ) return undefined;
    throw error;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
