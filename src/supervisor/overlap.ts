/**
 * Whether a session's next child may run beside the old one: load while the
 * old child still stops (it finishes its requests meanwhile), or before the
 * batch is decided (a head start). Nothing says in advance that an app holds
 * something of its own that its next start needs (a port it binds itself, a
 * lock file, a database opened exclusively); the first start beside the old
 * child that fails with such an error says it. That start is tried again
 * once the old child has exited (see `lifecycle.ts`); if the fresh start then
 * serves, the old child held what the app needs, and from then on every next
 * child waits for the old one's exit, as each would fail beside it. If it
 * fails too, the code was at fault (a top-level throw), and nothing changes.
 *
 * @module
 */

/** What a session has learned about running the next child beside the old one. */
export class Overlap {
  /** A start beside the old child failed: why, until the fresh start says whose fault it was. */
  #suspect: string | undefined;
  #exitFirst: string | undefined;

  /** Why each next child now waits for the old one's exit; `undefined` while it need not. */
  get exitFirst(): string | undefined {
    return this.#exitFirst;
  }

  /**
   * A start beside the old child failed with an error the old one may have
   * caused, and is tried again once it has exited.
   *
   * @param why The failure, as the log says it.
   */
  failedBeside(why: string): void {
    this.#suspect = why;
  }

  /**
   * A child's start is over.
   *
   * @param served Whether the child serves.
   * @returns Why the next children wait for the old one's exit, when this
   *   start has just shown it (once per session); else `undefined`.
   *
   * @example The fresh start serves
   * ```ts
   * import { Overlap } from "./overlap.ts";
   *
   * const overlap = new Overlap();
   * overlap.failedBeside("AddrInUse: Address already in use");
   * if (overlap.startEnded(true) === undefined || overlap.exitFirst === undefined) throw new Error();
   * ```
   */
  startEnded(served: boolean): string | undefined {
    const why = this.#suspect;
    this.#suspect = undefined;
    if (why === undefined || !served || this.#exitFirst !== undefined) return undefined;
    this.#exitFirst = why;
    return why;
  }
}
