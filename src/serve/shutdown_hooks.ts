/**
 * What the program does as it ends: a shutdown signal handler of its own,
 * an `unload` (or `beforeunload`) listener, a Node `process.on("exit")`
 * listener. Such a program may save state as it stops (a counter, a cache,
 * a session store) that its next start reads; the parent then never loads
 * the next code beside it before it has stopped (no head start). The
 * parent asks at the moment it would, since a program may register them
 * at any time (in a `listen` callback, after a lazy import).
 *
 * @module
 */

import { SHUTDOWN_SIGNALS } from "../signals.ts";
import type { ProgramSignalListeners } from "./activity.ts";

/** Events whose listeners run as the process ends. */
const UNLOAD_EVENTS = new Set(["unload", "beforeunload"]);

/**
 * Watches for the program's own shutdown hooks besides signal handlers:
 * `unload` and `beforeunload` listeners on `globalThis`, and Node's
 * `process` (whose `exit` listeners are asked for only once the program
 * has touched it: Deno sets Node's `process` up on first use, about 17 ms).
 */
export class ShutdownHooks {
  readonly #listeners = new Set<unknown>();
  #processTouched = false;

  /** Wraps `EventTarget`'s `addEventListener` and `removeEventListener`, and the `process` getter, from now on. */
  install(): void {
    // On the prototype: `addEventListener(...)`, `globalThis.addEventListener(...)`
    // and `EventTarget.prototype.addEventListener.call(globalThis, ...)` alike.
    const prototype = EventTarget.prototype;
    const add = prototype.addEventListener;
    const remove = prototype.removeEventListener;
    const listeners = this.#listeners;
    const global = (target: unknown) => target === globalThis || target == null;
    prototype.addEventListener = function (
      this: EventTarget,
      type: string,
      listener: EventListenerOrEventListenerObject | null,
      options?: boolean | AddEventListenerOptions,
    ) {
      if (UNLOAD_EVENTS.has(type) && listener && global(this)) listeners.add(listener);
      return add.call(this ?? globalThis, type, listener, options);
    };
    prototype.removeEventListener = function (
      this: EventTarget,
      type: string,
      listener: EventListenerOrEventListenerObject | null,
      options?: boolean | EventListenerOptions,
    ) {
      if (UNLOAD_EVENTS.has(type) && global(this)) listeners.delete(listener);
      return remove.call(this ?? globalThis, type, listener, options);
    };
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, "process");
    const get = descriptor?.get;
    if (!get || !descriptor.configurable) return;
    const touched = () => this.#processTouched = true;
    Object.defineProperty(globalThis, "process", {
      ...descriptor,
      get() {
        touched();
        return get.call(this);
      },
    });
  }

  /**
   * The first thing the program does as it ends, if any.
   *
   * @param signals The program's own signal listeners.
   * @param nodeLoaded Node's layer is loaded already (the child captures
   *   `node:http`): its `process` costs nothing to look at.
   * @returns `"SIGTERM"`, `"SIGINT"`, `"SIGHUP"`, `"unload"` or `"exit"`; `null` when none.
   *
   * @example A program with none
   * ```ts
   * import { ShutdownHooks } from "./shutdown_hooks.ts";
   * import { ProgramSignalListeners } from "./activity.ts";
   *
   * if (new ShutdownHooks().hook(new ProgramSignalListeners(), false) !== null) throw new Error();
   * ```
   */
  hook(signals: ProgramSignalListeners, nodeLoaded: boolean): string | null {
    const signal = SHUTDOWN_SIGNALS.find((name) => signals.handles(name));
    if (signal) return signal;
    if (this.#listeners.size > 0) return "unload";
    if (!nodeLoaded && !this.#processTouched) return null;
    const process = (globalThis as { process?: Partial<NodeProcessLike> }).process;
    const exitListeners = typeof process?.listenerCount === "function"
      ? process.listenerCount("exit")
      : 0;
    return exitListeners > 0 ? "exit" : null;
  }
}

/** Node's `process`, where the program has it (`globalThis.process`). */
interface NodeProcessLike {
  listenerCount(event: string): number;
}
