/**
 * What a program's servers are busy with, as devsrv stops them: requests
 * whose handler has not answered yet (they finish, uploads included), and
 * long-lived streams (server-sent events, WebSockets), which end at once so
 * that their clients reconnect to the new code. Also the program's own
 * signal handlers, which run to their end before the process does.
 *
 * @module
 */

/** In-flight requests and open streams of one process's servers. */
export class Activity {
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];
  #streams = new Set<() => void>();

  /** Requests whose handler has not answered yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Open long-lived streams. */
  get streams(): number {
    return this.#streams.size;
  }

  /**
   * Counts a request until it is answered.
   *
   * @returns Call once when the request is answered (or failed).
   */
  begin(): () => void {
    this.#inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
      if (this.#inFlight === 0) { for (const wake of this.#idleWaiters.splice(0)) wake(); }
    };
  }

  /**
   * Registers a long-lived stream.
   *
   * @param end Ends it (closes the socket, cancels the body).
   * @returns Call when the stream has ended by itself.
   */
  addStream(end: () => void): () => void {
    this.#streams.add(end);
    return () => this.#streams.delete(end);
  }

  /**
   * Ends every open stream.
   *
   * @returns How many it ended.
   */
  endStreams(): number {
    const streams = [...this.#streams];
    this.#streams.clear();
    for (const end of streams) end();
    return streams.length;
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }
}

/**
 * The signal listeners the program registered itself (`Deno.addSignalListener`,
 * and Node's `process.on("SIGTERM")`, which calls it): when the program
 * handles a signal, it decides when its process ends, as under `deno run`.
 */
export class ProgramSignalListeners {
  #counted = new Map<Deno.Signal, Set<() => void>>();
  #ignore = 0;

  /** Wraps `Deno.addSignalListener` and `Deno.removeSignalListener` from now on. */
  install(): void {
    const add = Deno.addSignalListener;
    const remove = Deno.removeSignalListener;
    const counted = this.#counted;
    const replace = (name: string, value: unknown) =>
      Object.defineProperty(Deno, name, { value, writable: true, configurable: true });
    replace("addSignalListener", (signal: Deno.Signal, handler: () => void) => {
      if (this.#ignore > 0) {
        this.#ignore--;
      } else {
        const set = counted.get(signal) ?? new Set();
        set.add(handler);
        counted.set(signal, set);
      }
      add(signal, handler);
    });
    replace("removeSignalListener", (signal: Deno.Signal, handler: () => void) => {
      counted.get(signal)?.delete(handler);
      remove(signal, handler);
    });
  }

  /**
   * Leaves the next listeners out of the count: Deno's own, registered for
   * the server it starts for an `export default { fetch }` module.
   *
   * @param count How many.
   */
  ignoreNext(count: number): void {
    this.#ignore += count;
  }

  /**
   * Tells whether the program listens for a signal itself.
   *
   * @param signal The signal.
   * @returns `true` when it has a listener of its own.
   */
  handles(signal: Deno.Signal): boolean {
    return (this.#counted.get(signal)?.size ?? 0) > 0;
  }
}
