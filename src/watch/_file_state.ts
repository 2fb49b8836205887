/**
 * What the reloader remembers about one watched file (size, mtime and a
 * content hash) and how it tells a real change from a save that left the
 * content as it was. Both watchers use it.
 *
 * The check is the one Git uses for its index: a stat whose size and mtime
 * match is trusted, unless the file was modified so close to the moment it
 * was last looked at that a second write in the same clock tick could hide
 * behind the same mtime ("racily clean"); such a file is hashed again.
 *
 * Reading and hashing are synchronous: a plain JavaScript hash of a small
 * file takes about a microsecond, where `crypto.subtle.digest` costs tens
 * of microseconds per call, and an async read per file several times more
 * than a synchronous one (10,000 source files: about 80 ms against 300 ms).
 * Callers slice long runs so that the event loop still gets its turns.
 *
 * @module
 */

import { contentHash } from "./content_hash.ts";
import { DEFAULT_EXTENSIONS, hasCountedExtension } from "./watch_filter.ts";

/** Files up to this size are hashed; bigger ones are compared by stat only. */
export const MAX_HASHED_BYTES = 2 * 1024 * 1024;

/**
 * The extensions whose files are hashed: sources, markup, styles, settings
 * and lock files, where an unchanged save must not count. Other files
 * (images, fonts, databases, logs, uploads) are compared by size and mtime,
 * so that an app writing a database on every request costs the reloader no
 * read of it.
 */
const HASHED_EXTENSIONS: readonly string[] = [...DEFAULT_EXTENSIONS, "lock"];

/**
 * Tells whether a file's content is hashed (when it is small enough).
 *
 * @param path The file's path.
 * @returns `true` for the extensions of sources, markup, styles, settings
 * and lock files (`.env` files too).
 */
export function isHashedFile(path: string): boolean {
  const name = path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1);
  return hasCountedExtension(name, HASHED_EXTENSIONS);
}

/**
 * How close to the last look an mtime must be to distrust it. Deno reports
 * mtimes in milliseconds and some file systems (FAT, HFS+, network shares)
 * keep whole or even double seconds.
 */
export const RACY_WINDOW_MS = 2000;

/** What is known about one file. */
export interface FileState {
  /** Size in bytes. */
  size: number;
  /** Modification time in ms since the epoch (0 when unknown). */
  mtimeMs: number;
  /** Wall-clock time just before the stat that this state comes from. */
  checkedAtMs: number;
  /** Hex digest of the content; `undefined` for big or unreadable files. */
  hash: string | undefined;
}

/** The result of {@linkcode refreshState}. */
export interface Refreshed {
  /** Whether the content (or, without hashes, the stat) changed. */
  changed: boolean;
  /** The state to remember from now on. */
  state: FileState;
}

/**
 * Stats a path, following symlinks.
 *
 * @param path An absolute path.
 * @returns Its info, or `undefined` when it does not exist (any more) or
 * cannot be looked at.
 * @throws {Error} Unexpected errors other than a missing or unreadable path.
 */
export function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch (error) {
    if (isGoneError(error)) return undefined;
    throw error;
  }
}

/**
 * Tells whether an error means "this path is not there for us": not found,
 * a file where a folder was expected, or no permission.
 *
 * @param error A caught error.
 * @returns `true` for those three.
 */
export function isGoneError(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.PermissionDenied;
}

/**
 * Reads and hashes a file whose stat was just taken.
 *
 * @param path The file.
 * @param info Its stat, taken before reading so that a write after the stat
 * shows up as a newer mtime next time.
 * @param checkedAtMs `Date.now()` taken before the stat.
 * @returns Its state; without hash when it is big, not a text file of
 * {@linkcode isHashedFile}, or cannot be read.
 */
export function fingerprint(
  path: string,
  info: Deno.FileInfo,
  checkedAtMs: number,
): FileState {
  const hash = info.size <= MAX_HASHED_BYTES && isHashedFile(path) ? hashFile(path) : undefined;
  return { size: info.size, mtimeMs: mtimeOf(info), checkedAtMs, hash };
}

/**
 * Compares a file's fresh stat with what is remembered, hashing the content
 * only when the stat cannot settle it.
 *
 * @param path The file.
 * @param known Its remembered state.
 * @param info Its fresh stat.
 * @param checkedAtMs `Date.now()` taken before that stat.
 * @returns Whether it changed, and the state to remember.
 */
export function refreshState(
  path: string,
  known: FileState,
  info: Deno.FileInfo,
  checkedAtMs: number,
): Refreshed {
  if (statSettles(known, info)) return { changed: false, state: known };
  const sameStat = info.size === known.size && mtimeOf(info) === known.mtimeMs;
  if (sameStat && known.hash === undefined) {
    return { changed: false, state: { ...known, checkedAtMs } };
  }
  const state = fingerprint(path, info, checkedAtMs);
  const bothHashed = state.hash !== undefined && known.hash !== undefined;
  return { changed: bothHashed ? state.hash !== known.hash : !sameStat, state };
}

/**
 * Tells whether a fresh stat alone shows that a file is unchanged: same
 * size, same mtime, and not racy. Cheap: no read.
 *
 * @param known The remembered state.
 * @param info A fresh stat.
 * @returns `true` when no content check is needed.
 */
export function statSettles(known: FileState, info: Deno.FileInfo): boolean {
  return info.size === known.size && mtimeOf(info) === known.mtimeMs &&
    !isRacy(known);
}

/**
 * Tells whether a remembered stat could hide a later write with the same
 * size and mtime.
 *
 * @param state A remembered state.
 * @returns `true` while the mtime is within {@linkcode RACY_WINDOW_MS} of
 * the look that produced the state.
 */
export function isRacy(state: FileState): boolean {
  return state.mtimeMs + RACY_WINDOW_MS > state.checkedAtMs;
}

/**
 * The mtime of a stat in ms, 0 where the platform has none.
 *
 * @param info A stat.
 * @returns Milliseconds since the epoch.
 */
export function mtimeOf(info: Deno.FileInfo): number {
  return info.mtime?.getTime() ?? 0;
}

function hashFile(path: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (error) {
    if (isGoneError(error) || error instanceof Deno.errors.IsADirectory) {
      return undefined; // replaced or removed meanwhile: the stat decides
    }
    throw error;
  }
  return contentHash(bytes);
}
