/**
 * The front: the part of the reloader (parent) process that owns the public
 * port. It forwards every HTTP/1.1 request, byte for byte, to the current
 * backend (the child's loopback port, or the parent's own page server)
 * and makes restarts invisible to clients:
 *
 * - every request asks the supervisor where to go ({@linkcode Route}), so a
 *   keep-alive client moves to a new child between two requests;
 * - while there is no backend, requests are held until
 *   {@linkcode Front.changed} (or a timeout, then a 503 from the front);
 * - a request that a backend connection dropped unanswered is sent again
 *   to the current backend when that is safe (its bytes, up to 1 MiB, were
 *   kept) and useful: the connection was reused (an app closes idle
 *   keep-alive connections as it stops) or the route moved on meanwhile
 *   (the app was being replaced). At most two resends per request.
 *
 * The front parses only what framing needs (see `http1.ts`), streams bodies
 * without buffering them whole, and turns `101 Switching Protocols` into a
 * blind tunnel (WebSockets). It never prints: it reports through callbacks.
 *
 * Two optional hooks let its owner act at the edge, whatever server the
 * backend runs (`Deno.serve`, `node:http`, ...), while the front itself
 * stays free of policy:
 *
 * - {@linkcode FrontOptions.screen} sees every request head before it is
 *   forwarded and may refuse it (devsrv's Host guard);
 * - {@linkcode FrontOptions.rewriter} may rewrite responses that its cheap
 *   checks on the request head and the response head select (devsrv's
 *   live-reload injection). Only those are taken apart into a `Request` and
 *   a `Response`; every other response is forwarded byte for byte.
 *
 * @module
 */

import { ClientSession, type SessionHost } from "./_client_session.ts";
import type { AccessEntry, RequestHead, ResponseRewriter, Route } from "./_types.ts";

export type {
  AccessEntry,
  BackendAddress,
  RequestHead,
  ResponseRewriter,
  Route,
} from "./_types.ts";

/** Options for {@linkcode startFront}. */
export interface FrontOptions {
  /** The interface to bind, e.g. `"127.0.0.1"`. */
  hostname: string;
  /** The port to bind; 0 picks a free port. */
  port: number;
  /**
   * PEM certificate and key: the front then terminates TLS and forwards
   * plain HTTP/1.1.
   *
   * @default {undefined}
   */
  tls?: { cert: string; key: string };
  /**
   * Where a request goes. Asked once per request (again after a hold).
   *
   * @param target The request-target from the request line, e.g. `"/a?b"`.
   * @returns The route.
   */
  route(target: string): Route;
  /**
   * How long a held request waits for a backend before the front answers
   * `503 Service Unavailable` itself, in ms.
   *
   * @default {10000}
   */
  holdTimeoutMs?: number;
  /**
   * Looks at every request head (WebSocket upgrades included) before the
   * request is forwarded, and may refuse it: the returned response goes to
   * the client, written by the front, and the request never reaches a
   * backend. After a refusal the connection stays open for the next
   * request when the refused request has no body or a `Content-Length` of
   * at most 64 KiB (read and dropped) and did not ask to close; otherwise
   * the response says `Connection: close` and the connection closes.
   * Asked for every request: keep it cheap.
   *
   * @param head The request head as the front parsed it (`host` is the
   *   raw `Host` value; a head with two `Host` fields never gets here, it
   *   gets 400).
   * @returns A response to refuse the request, or `undefined` to let it pass.
   * @default {undefined}
   */
  screen?: (head: RequestHead) => Response | undefined;
  /**
   * Rewrites some responses (see {@linkcode ResponseRewriter}).
   *
   * @default {undefined}
   */
  rewriter?: ResponseRewriter;
  /**
   * Called once per completed exchange, also for the 400, 431, 502 and
   * 503 responses the front makes itself and the ones `screen` returns.
   *
   * @default {undefined}
   */
  onAccess?: (entry: AccessEntry) => void;
  /**
   * Called with an unexpected error of a connection's task (a bug, not a
   * peer going away); the connection is closed, the front goes on.
   *
   * @default {undefined}
   */
  onError?: (error: unknown) => void;
  /**
   * Called when a request is about to be forwarded (before it may be
   * held), with its request-target. The function it returns is called once,
   * when the final response head has come back (a streamed body may go on),
   * or the exchange ended without one. Tells the supervisor when the app is
   * at work (see `app_activity.ts`).
   *
   * @default {undefined}
   */
  onRequestStart?: (target: string) => (() => void) | undefined;
}

/** A running front. */
export interface Front {
  /** The bound address (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** Exchanges finished so far: grows with traffic, still while idle. */
  readonly exchanges: number;
  /**
   * The routing changed: held requests ask `route()` again, and idle
   * backend connections (which may lead to a stale backend) are dropped.
   */
  changed(): void;
  /**
   * Stops listening and closes all client and backend connections.
   *
   * @returns When every task of the front has ended.
   */
  close(): Promise<void>;
}

/** How long a held request waits by default, in ms. */
export const DEFAULT_HOLD_TIMEOUT_MS = 10_000;

/** What a failing `accept()` waits before it tries again (e.g. out of fds). */
const ACCEPT_RETRY_MS = 50;

/**
 * Binds the public port and starts forwarding.
 *
 * Binding happens at once, so an address in use throws to the caller before
 * anything else starts.
 *
 * @param options Address, TLS, routing and reporting.
 * @returns The running {@linkcode Front}.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 *
 * @example Start a front with no backend yet, then close it
 * ```ts
 * import { startFront } from "./front.ts";
 *
 * const front = startFront({ hostname: "127.0.0.1", port: 0, route: () => ({ kind: "hold" }) });
 * if (front.addr.port === 0) throw new Error("a real port is bound");
 * await front.close();
 * ```
 */
export function startFront(options: FrontOptions): Front {
  return new FrontServer(options);
}

/** The front's listener, its sessions and the signal held requests wait on. */
class FrontServer implements Front, SessionHost {
  readonly addr: Deno.NetAddr;
  readonly holdTimeoutMs: number;
  readonly onAccess: ((entry: AccessEntry) => void) | undefined;
  readonly screen: ((head: RequestHead) => Response | undefined) | undefined;
  readonly rewriter: ResponseRewriter | undefined;
  readonly scheme: "http" | "https";
  readonly #options: FrontOptions;
  readonly #listener: Deno.Listener;
  readonly #sessions = new Map<ClientSession, Promise<void>>();
  readonly #waiters = new Set<() => void>();
  readonly #accepting: Promise<void>;
  #generation = 0;
  #exchanges = 0;
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(options: FrontOptions) {
    this.#options = options;
    this.holdTimeoutMs = options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS;
    this.onAccess = options.onAccess;
    this.screen = options.screen;
    this.rewriter = options.rewriter;
    this.scheme = options.tls === undefined ? "http" : "https";
    this.#listener = listen(options);
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#accepting = this.#acceptAll();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get generation(): number {
    return this.#generation;
  }

  get exchanges(): number {
    return this.#exchanges;
  }

  countExchange(): void {
    this.#exchanges++;
  }

  requestStarted(target: string): () => void {
    const responded = this.#options.onRequestStart?.(target);
    if (responded === undefined) return noop;
    let called = false;
    return () => {
      if (called) return;
      called = true;
      responded();
    };
  }

  route(target: string): Route {
    return this.#options.route(target);
  }

  reportError(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // A failing reporter must not take a connection's task down with it.
    }
  }

  changed(): void {
    this.#generation++;
    this.#wakeAll();
    for (const session of this.#sessions.keys()) session.dropIdleBackend();
  }

  waitForChange(generation: number, timeoutMs: number): Promise<void> {
    if (generation !== this.#generation || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.#waiters.add(wake);
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed because accepting failed for good.
    }
    this.#wakeAll();
    for (const session of this.#sessions.keys()) session.close();
    await this.#accepting;
    await Promise.all(this.#sessions.values());
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  async #acceptAll(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        this.reportError(error);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      this.#startSession(conn);
    }
  }

  #startSession(conn: Deno.Conn): void {
    const session = new ClientSession(this, conn);
    const task = session.run().finally(() => this.#sessions.delete(session));
    this.#sessions.set(session, task);
  }
}

function noop(): void {}

function listen(options: FrontOptions): Deno.Listener {
  const address = { hostname: options.hostname, port: options.port };
  if (options.tls === undefined) return Deno.listen(address);
  return Deno.listenTls({
    ...address,
    cert: options.tls.cert,
    key: options.tls.key,
    alpnProtocols: ["http/1.1"],
  });
}
