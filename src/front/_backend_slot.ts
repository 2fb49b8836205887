/**
 * The one backend connection a client session holds, and how a request
 * gets one: reuse it while the route leads there, else connect to where
 * the route leads, and hold the request while there is nowhere to go
 * (no backend, or one that refuses connections) until the route changes
 * or the hold deadline passes.
 *
 * @module
 */

import { BufferedConn } from "./_buffered_conn.ts";
import type { BackendAddress, Route } from "./_types.ts";
import type { RequestHead } from "./http1.ts";

/** The largest response head accepted from an app. */
export const MAX_RESPONSE_HEAD_BYTES = 256 * 1024;

/** {@linkcode BackendSlot.acquire} found no backend before the hold deadline. */
export const HOLD_TIMED_OUT = "hold timed out";
/** {@linkcode BackendSlot.acquire} stopped: the session or the front is closing. */
export const SESSION_CLOSED = "session closed";

/** A backend connection and where it leads. */
export interface Backend {
  readonly reader: BufferedConn;
  /** Where it leads: a loopback TCP port or a Unix socket. */
  readonly address: BackendAddress;
  /** Exchanges completed on it; more than 0 means it is reused. */
  exchanges: number;
}

/** Where requests go, as the front that owns the session decides. */
export interface RouteSource {
  /** The front is closing: stop at once. */
  readonly closed: boolean;
  /** Counts route changes, so a waiter can tell it missed one. */
  readonly generation: number;
  /** How long a request may wait for a backend, in milliseconds. */
  readonly holdTimeoutMs: number;
  /** Where a request goes now. */
  route(target: string): Route;
  /** Resolves at the next change after `generation`, on close, or after `timeoutMs`. */
  waitForChange(generation: number, timeoutMs: number): Promise<void>;
}

/** A request that may be held; its deadline is set when it is first held. */
export interface HeldRequest {
  readonly head: RequestHead;
  /** When a held request gives up (`performance.now()` time); 0 until it is first held. */
  holdDeadline: number;
}

/**
 * Tells whether a backend connection leads to an address.
 *
 * @param backend The connection.
 * @param address Where a route leads.
 * @returns `true` when host and port, or the socket path, match.
 */
export function leadsTo(backend: Backend, address: BackendAddress): boolean {
  const current = backend.address;
  if ("path" in current || "path" in address) {
    return "path" in current && "path" in address && current.path === address.path;
  }
  return current.port === address.port && current.hostname === address.hostname;
}

/** Holds a session's backend connection and finds one for each request. */
export class BackendSlot {
  readonly #routes: RouteSource;
  #current: Backend | null = null;
  #closed = false;

  /**
   * Makes an empty slot.
   *
   * @param routes Where requests go.
   */
  constructor(routes: RouteSource) {
    this.#routes = routes;
  }

  /** The backend connection held, if any. */
  get current(): Backend | null {
    return this.#current;
  }

  /**
   * Finds the backend for a request, holding it while there is none.
   *
   * @param request The request; its hold deadline is set when first held.
   * @param route The route already asked for, or `null` to ask now.
   * @param generation The change count from before `route` was asked.
   * @returns The backend, {@linkcode HOLD_TIMED_OUT}, {@linkcode SESSION_CLOSED},
   *   or the text of an `"unavailable"` route.
   * @throws {Deno.errors.NotCapable} When the process may not connect.
   */
  async acquire(
    request: HeldRequest,
    route: Route | null,
    generation: number,
  ): Promise<Backend | typeof HOLD_TIMED_OUT | typeof SESSION_CLOSED | string> {
    const routes = this.#routes;
    for (;;) {
      if (this.#closed || routes.closed) return SESSION_CLOSED;
      route ??= routes.route(request.head.target);
      if (route.kind === "unavailable") return route.message;
      if (route.kind === "forward") {
        const backend = await this.#connectTo(route.backend);
        if (backend !== null) return backend;
        if (this.#closed) return SESSION_CLOSED;
        // Refused: the app just died or is not listening yet. Like a hold.
      }
      if (!(await this.#hold(request, generation))) return HOLD_TIMED_OUT;
      generation = routes.generation;
      route = null;
    }
  }

  /** Closes the backend connection held, if any. */
  drop(): void {
    this.#current?.reader.close();
    this.#current = null;
  }

  /**
   * Closes a backend connection if it is still the one held (an older one
   * is closed already).
   *
   * @param backend The connection.
   */
  dropIfCurrent(backend: Backend | null): void {
    if (this.#current === backend) this.drop();
  }

  /** Closes the connection held, and stops every acquire under way. */
  close(): void {
    this.#closed = true;
    this.drop();
  }

  /** Waits for a change; returns `false` when the hold deadline has passed. */
  async #hold(request: HeldRequest, generation: number): Promise<boolean> {
    const now = performance.now();
    if (request.holdDeadline === 0) request.holdDeadline = now + this.#routes.holdTimeoutMs;
    const remaining = request.holdDeadline - now;
    if (remaining <= 0) return false;
    await this.#routes.waitForChange(generation, remaining);
    return true;
  }

  /** Reuses the backend connection when it leads there, else opens one. */
  async #connectTo(address: BackendAddress): Promise<Backend | null> {
    const current = this.#current;
    if (current !== null && leadsTo(current, address)) return current;
    this.drop();
    let conn: Deno.Conn;
    try {
      if ("path" in address) {
        conn = await Deno.connect({ transport: "unix", path: address.path });
      } else {
        const tcp = await Deno.connect({ hostname: address.hostname, port: address.port });
        // Heads and bodies often leave in separate writes: never let
        // Nagle's algorithm hold the second one back.
        tcp.setNoDelay(true);
        conn = tcp;
      }
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) throw error;
      return null;
    }
    if (this.#closed) {
      conn.close();
      return null;
    }
    const reader = new BufferedConn(conn, MAX_RESPONSE_HEAD_BYTES);
    this.#current = { reader, address, exchanges: 0 };
    return this.#current;
  }
}
