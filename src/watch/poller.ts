/**
 * The stat-polling watcher, for file systems that send no events (network
 * shares, some container and VM mounts) and for `--poll`. Every interval it
 * rescans the {@linkcode WatchedTree}: one stat per kept directory (a
 * directory is listed again only when its mtime moved, which is how new,
 * deleted and renamed entries show) and one stat per counted file, with the
 * same content check as the event watcher.
 *
 * `Deno.statSync` is used because it is several times cheaper than
 * `Deno.stat` for thousands of files (about 3 µs against 14 µs per file);
 * the rescan yields to the event loop between slices so that the process
 * stays responsive. The next scan is scheduled when one ends, so scans never
 * overlap on a slow disk. Measured on Linux: a tree of 10,000 files in 526
 * folders costs about 30 ms of CPU per scan, so about 60 ms of CPU per
 * second (6 % of one core) at the default 500 ms interval; the event watcher
 * idles at under 0.1 ms per second.
 *
 * A scan that finds changes is followed by another one soon after (not a
 * whole interval later), and the debouncer is held until a scan finds
 * nothing more: a `git checkout` that spans several scans is one batch.
 *
 * @module
 */

import { firstLine } from "../errors.ts";

import type { WatchedTree } from "./_watched_tree.ts";

/** Options for {@linkcode Poller}. */
export interface PollerOptions {
  /** Time between the end of one scan and the start of the next, in ms. */
  intervalMs: number;
  /**
   * How soon a scan that found changes is followed by the next one, in ms.
   * @default {intervalMs}
   */
  followUpMs?: number;
  /** Receives the counted files that changed in one scan. */
  onChanges: (paths: string[]) => void;
  /**
   * Told when the poller starts (`true`) and stops (`false`) looking at a
   * series of changes, so that a debouncer holds its batch meanwhile.
   */
  onWorking?: ((working: boolean) => void) | undefined;
  /** Told when a scan fails unexpectedly; polling goes on. */
  onWarning?: ((message: string) => void) | undefined;
}

/** Polls a tree for changes. */
export class Poller {
  readonly #tree: WatchedTree;
  readonly #options: PollerOptions;
  readonly #abort = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> | undefined;
  #working = false;
  #closed = false;

  /**
   * Creates a poller; {@linkcode Poller.start} starts it.
   *
   * @param tree The scanned tree.
   * @param options The interval and callbacks.
   * @throws {RangeError} When the interval is not a positive number.
   */
  constructor(tree: WatchedTree, options: PollerOptions) {
    if (!Number.isFinite(options.intervalMs) || options.intervalMs <= 0) {
      throw new RangeError(
        `Cannot poll: "intervalMs" must be more than 0, got ${options.intervalMs}`,
      );
    }
    this.#tree = tree;
    this.#options = options;
  }

  /**
   * Schedules the scans.
   *
   * @param immediately Scan at once instead of after one interval (used
   * after a fallback, when events may have been missed).
   */
  start(immediately = false): void {
    this.#schedule(immediately ? 0 : this.#options.intervalMs);
  }

  /** Stops polling; see {@linkcode Poller.finished}. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#setWorking(false);
  }

  /** Resolves when, after {@linkcode Poller.close}, no scan is left running. */
  get finished(): Promise<void> {
    return this.#scanning ?? Promise.resolve();
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#scanning = this.#scanOnce().then((found) => {
        this.#scanning = undefined;
        this.#setWorking(found);
        const { intervalMs, followUpMs = intervalMs } = this.#options;
        this.#schedule(found ? followUpMs : intervalMs);
      });
    }, delayMs);
  }

  /** Scans once; returns whether something changed. */
  async #scanOnce(): Promise<boolean> {
    try {
      this.#setWorking(true);
      const { changed } = await this.#tree.rescan(this.#abort.signal);
      if (this.#closed || changed.length === 0) return false;
      this.#options.onChanges(changed);
      return true;
    } catch (error) {
      if (this.#closed) return false;
      this.#options.onWarning?.(`Polling: ${firstLine(error)}`);
      return false;
    }
  }

  #setWorking(working: boolean): void {
    if (working === this.#working || (working && this.#closed)) return;
    this.#working = working;
    this.#options.onWorking?.(working);
  }
}
