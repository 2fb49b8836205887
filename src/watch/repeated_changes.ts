/**
 * Files that keep changing by themselves: the same file, alone, making the
 * same decision again and again within a short time. A person at an editor
 * rarely saves one page four times in 20 s; an app that rewrites a page on a
 * timer through a writer devsrv cannot see (a named import from `node:fs`,
 * a subprocess, a native library) does it forever, and every open page
 * reloads each time. devsrv cannot tell the two apart for certain, so it
 * changes nothing and says once what to do.
 *
 * @module
 */

/** How many changes of one file within {@linkcode REPEAT_WINDOW_MS} make it repeated. */
export const REPEAT_COUNT = 4;
/** The window, in ms. */
export const REPEAT_WINDOW_MS = 20_000;

/** Counts the changes of each file and tells, once per file, when it keeps changing. */
export class RepeatedChanges {
  readonly #times = new Map<string, number[]>();
  readonly #told = new Set<string>();

  /**
   * Whether a file has been told about: it keeps changing by itself, so
   * each further change of it alone goes without a line.
   *
   * @param path The file, absolute.
   * @returns `true` once {@linkcode changed} has returned `true` for it.
   */
  told(path: string): boolean {
    return this.#told.has(path);
  }

  /**
   * Records that a file changed alone and led to an action.
   *
   * @param path The file, absolute.
   * @param nowMs When (`performance.now()` or `Date.now()`, consistently).
   * @returns `true` the first time the file has changed
   * {@linkcode REPEAT_COUNT} times within {@linkcode REPEAT_WINDOW_MS};
   * `false` otherwise, and ever after for that file.
   *
   * @example
   * ```ts
   * import { RepeatedChanges } from "./repeated_changes.ts";
   *
   * const changes = new RepeatedChanges();
   * const told = [0, 1500, 3000, 4500, 6000].map((at) => changes.changed("/app/out.html", at));
   * if (told.join() !== "false,false,false,true,false") throw new Error(told.join());
   * ```
   */
  changed(path: string, nowMs: number): boolean {
    if (this.#told.has(path)) return false;
    const recent = (this.#times.get(path) ?? []).filter((at) => nowMs - at < REPEAT_WINDOW_MS);
    recent.push(nowMs);
    if (recent.length < REPEAT_COUNT) {
      this.#times.set(path, recent);
      return false;
    }
    this.#times.delete(path);
    this.#told.add(path);
    return true;
  }
}
