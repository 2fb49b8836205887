/**
 * Captures `Deno.serve`: every call the program makes (and `deno serve`'s
 * own call for an `export default { fetch }` module) is redirected to the
 * address the placement chooses, while the program keeps seeing its own
 * world: `server.addr`, `onListen` and Deno's "Listening on" line show the
 * public address. `finished`, `shutdown()`, `ref()`, `unref()`, `signal`
 * and `onError` work as Deno documents them.
 *
 * Servers on a Unix socket, a vsock or a tunnel are left alone: they are
 * not HTTP on a TCP port that devsrv could own. A Unix-socket server is
 * recorded, so that it counts as the program's server and stops with the
 * others.
 *
 * @module
 */

import type { Handler } from "../options.ts";
import type { TlsFiles } from "../listen/tls_files.ts";
import type { Activity } from "./activity.ts";
import {
  type CapturedServers,
  refusedAddress,
  type ServerRequest,
  type Slot,
} from "./captured_servers.ts";
import { hostPort } from "../listen/public_address.ts";

/** Deno's options object, as far as capturing needs it. */
type ServeOptions = {
  hostname?: string | null;
  port?: number | string;
  cert?: string;
  key?: string;
  handler?: Handler;
  onListen?: (addr: Deno.NetAddr) => void;
  onError?: (error: unknown) => Response | Promise<Response>;
  path?: string;
  cid?: number;
  transport?: string;
  tunnel?: boolean;
  reusePort?: boolean;
  [key: string | symbol]: unknown;
};

/** Wraps the program's handler (error page, filters); gets its `onError`. */
export type WrapHandler = (
  handler: Handler,
  onError: ((error: unknown) => Response | Promise<Response>) | undefined,
) => Handler;

type Serve = (...args: unknown[]) => Deno.HttpServer<Deno.NetAddr>;

/** `Deno.serve` as it was before capturing, for devsrv's own servers. */
export const originalServe: Serve = Deno.serve as Serve;

function splitArguments(args: unknown[]): { options: ServeOptions; handler: unknown } {
  const [first, second] = args;
  if (typeof first === "function") return { options: {}, handler: first };
  const options = (first ?? {}) as ServeOptions;
  return { options, handler: typeof second === "function" ? second : options.handler };
}

function isCapturable(options: ServeOptions): boolean {
  return options.path === undefined && options.cid === undefined &&
    options.tunnel !== true && (options.transport ?? "tcp") === "tcp";
}

/**
 * Deno's own server for `export default { fetch }` (`deno serve`, or
 * `DENO_AUTO_SERVE`) marks its options with a private symbol and asks for
 * no particular address: it gets the default port, as `deno serve` would.
 */
function isDeclarativeServer(options: ServeOptions): boolean {
  return Object.getOwnPropertySymbols(options).some((symbol) =>
    symbol.description === "kLoadBalanced"
  );
}

/** A port as Deno takes it: a number, or a string of digits. */
function portOf(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^\s*\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

function requestOf(options: ServeOptions): ServerRequest {
  const declarative = isDeclarativeServer(options);
  const tls = typeof options.cert === "string" && typeof options.key === "string"
    ? { cert: options.cert, key: options.key }
    : undefined;
  return {
    kind: "deno",
    hostname: declarative ? undefined : options.hostname ?? undefined,
    port: declarative ? undefined : portOf(options.port),
    tls,
  };
}

/**
 * Gives a handler the request as its client sent it: over HTTPS, which the
 * parent terminated before it forwarded plain HTTP to this process.
 */
function asHttps(handler: Handler): Handler {
  return (request, info) => {
    if (request.url.startsWith("http:")) {
      // Not `new Request(url, request)`: that copies the request's signal,
      // which makes Deno warn about its legacy abort behaviour, and costs more.
      const url = `https:${request.url.slice("http:".length)}`;
      Object.defineProperty(request, "url", { value: url, configurable: true });
    }
    return handler(request, info);
  };
}

/** The part of Deno's URL for a request on a Unix socket that names the scheme. */
const UNIX_SCHEME = "http+unix";

/**
 * Gives a handler served on a Unix socket (the parent's private link to
 * this process) the request as it would see it on a loopback port: an
 * `http:` (or `https:`) URL, not Deno's `http+unix:`, and a TCP-shaped
 * `info.remoteAddr` of the loopback address. Own properties, so that
 * nothing is copied per request.
 */
function asTcp(handler: Handler, scheme: "http" | "https"): Handler {
  return (request, info) => {
    if (request.url.startsWith(UNIX_SCHEME)) {
      const url = scheme + request.url.slice(UNIX_SCHEME.length);
      Object.defineProperty(request, "url", { value: url, configurable: true });
    }
    const remoteAddr = { transport: "tcp", hostname: "127.0.0.1", port: 0 };
    Object.defineProperty(info, "remoteAddr", { value: remoteAddr, configurable: true });
    return handler(request, info);
  };
}

/**
 * Makes `request.clone()` keep the URL a request was given as an own
 * property (by {@linkcode asTcp} or {@linkcode asHttps}): Deno's copies the
 * URL it received. Once per process, nothing per request.
 * (`new Request(request)` still copies Deno's URL.)
 */
function cloneKeepingUrl(): void {
  const clone = Request.prototype.clone;
  Object.defineProperty(Request.prototype, "clone", {
    ...Object.getOwnPropertyDescriptor(Request.prototype, "clone"),
    value: function (this: Request): Request {
      const copy = clone.call(this);
      const own = Object.getOwnPropertyDescriptor(this, "url");
      if (own) Object.defineProperty(copy, "url", own);
      return copy;
    },
  });
}

/**
 * Counts each request until its handler answers, and makes a server-sent
 * events response one that a graceful stop can end.
 */
function tracked(handler: Handler, activity: Activity | undefined): Handler {
  if (!activity) return handler;
  return async (request, info) => {
    const done = activity.begin();
    try {
      return endableEventStream(await handler(request, info), activity);
    } finally {
      done();
    }
  };
}

function endableEventStream(response: Response, activity: Activity): Response {
  // The type first: reading `response.body` of a Response made from a string
  // turns it into a stream, which costs the response its Content-Length.
  const type = response.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("text/event-stream") || !response.body) return response;
  const reader = response.body.getReader();
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const finish = () => {
    try {
      controller?.close();
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // already closed
    }
  };
  const forget = activity.addStream(() => {
    reader.cancel("devsrv is restarting the app").catch(() => {});
    finish();
  });
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    pull: async (c) => {
      const { value, done } = await reader.read();
      if (done) {
        forget();
        finish();
      } else {
        c.enqueue(value);
      }
    },
    cancel: (reason) => {
      forget();
      return reader.cancel(reason);
    },
  });
  return new Response(body, response);
}

/**
 * Makes `server.shutdown()` wait for the handlers still at work before it
 * shuts down: Deno's breaks request bodies that are still being read
 * (deno issue 36809), and both the program's own SIGTERM handler and
 * Deno's for an `export default { fetch }` module call it at once.
 */
function graceful(
  server: Deno.HttpServer<Deno.NetAddr>,
  activity: Activity | undefined,
  closed: () => void,
): void {
  const shutdown = server.shutdown.bind(server);
  let shuttingDown: Promise<void> | undefined;
  Object.defineProperty(server, "shutdown", {
    // The server counts as closed before the program's `await shutdown()`
    // goes on: a program that serves again on the same port gets it.
    value: () =>
      shuttingDown ??= (activity?.idle() ?? Promise.resolve()).then(shutdown).then(closed),
    writable: true,
    configurable: true,
  });
}

/** WebSockets the program accepts get a proper close (1001, going away) when it stops. */
function trackWebSockets(activity: Activity): void {
  const upgrade = Deno.upgradeWebSocket;
  const tracking: typeof Deno.upgradeWebSocket = (request, options) => {
    const upgraded = upgrade(request, options);
    const { socket } = upgraded;
    const close = () => socket.close(GOING_AWAY, "devsrv is restarting the app");
    const forget = activity.addStream(() => {
      if (socket.readyState === WebSocket.CONNECTING) socket.addEventListener("open", close);
      else if (socket.readyState === WebSocket.OPEN) close();
    });
    socket.addEventListener("close", forget);
    return upgraded;
  };
  Object.defineProperty(Deno, "upgradeWebSocket", {
    value: tracking,
    writable: true,
    configurable: true,
  });
}

/** The WebSocket close code for a server going away (RFC 6455 §7.4.1). */
const GOING_AWAY = 1001;

/** Deno's own line for a server started without `onListen`. */
function listeningLine(addr: Deno.NetAddr, tls: boolean): string {
  return `Listening on ${tls ? "https" : "http"}://${hostPort(addr.hostname, addr.port)}/`;
}

/** How {@linkcode captureDenoServe} places and wraps servers. */
export interface DenoServeCapture {
  /** Wraps each program handler (error page, filters). */
  wrap: WrapHandler;
  /**
   * `hidden` serves plain HTTP on the bound port even when the program
   * asked for HTTPS (the parent terminates TLS); `public` serves what the
   * program asked for.
   */
  mode: "hidden" | "public";
  /**
   * `hidden`: the parent serves every public port over HTTPS (`--cert`), so
   * requests are shown to the program with `https:` URLs.
   * @default {false}
   */
  secureFront?: boolean;
  /**
   * `public`: HTTPS for the first server when the program asked for plain
   * HTTP (`--cert`, `--key`).
   */
  firstTls?: TlsFiles;
  /** Counts requests and keeps hold of long-lived streams, for a graceful stop. */
  activity?: Activity;
  /** Called when Deno serves an `export default { fetch }` module itself. */
  onDeclarativeServer?: () => void;
}

/**
 * Replaces `Deno.serve` for the rest of the process.
 *
 * @param registry Where servers are placed and reported.
 * @param capture How servers are placed and wrapped.
 */
export function captureDenoServe(registry: CapturedServers, capture: DenoServeCapture): void {
  const { wrap, mode, firstTls, activity } = capture;
  if (activity) trackWebSockets(activity);
  if (mode === "hidden") cloneKeepingUrl();
  const captured = (...args: unknown[]) => {
    const { options, handler } = splitArguments(args);
    const badPort = options.port !== undefined && portOf(options.port) === undefined;
    if (typeof handler !== "function" || !isCapturable(options) || badPort) {
      // Deno's own TypeError for a missing handler or a bad port, or a socket devsrv does not own.
      const server = originalServe(...args);
      if (typeof options.path === "string") {
        registry.unixSocket(options.path, () => server.shutdown());
      }
      return server;
    }
    const requested = requestOf(options);
    if (isDeclarativeServer(options)) capture.onDeclarativeServer?.();
    let slot: Slot;
    try {
      slot = registry.start(requested);
    } catch (error) {
      // The program's own call, not devsrv's frames, is where a taken port was asked for.
      if (refusedAddress(error)) Error.captureStackTrace(error as Error, captured);
      throw error;
    }
    const {
      hostname: _hostname,
      port: _port,
      onListen,
      onError,
      handler: _handler,
      cert: _cert,
      key: _key,
      reusePort: _reusePort,
      ...rest
    } = options;
    const tlsFiles = requested.tls ?? (slot.index === 0 ? firstTls : undefined);
    const tls = mode === "public" && tlsFiles ? { cert: tlsFiles.cert, key: tlsFiles.key } : {};
    // Behind a parent that serves HTTPS (--cert), the public URL is https.
    const secure = mode === "hidden" &&
      (requested.tls !== undefined || capture.secureFront === true);
    const socket = slot.socketPath;
    const served = tracked(
      wrap(secure && !socket ? asHttps(handler as Handler) : handler as Handler, onError),
      activity,
    );
    let server: Deno.HttpServer<Deno.NetAddr>;
    try {
      server = originalServe({
        ...rest,
        ...tls,
        ...(socket
          ? { path: socket, transport: "unix" }
          : { hostname: slot.bindTo.hostname, port: slot.bindTo.port }),
        onListen: () => {},
        handler: socket ? asTcp(served, secure ? "https" : "http") : served,
      });
    } catch (error) {
      slot.bindFailed(error);
      throw error;
    }
    graceful(server, activity, () => slot.closed());
    const shown = slot.listening(socket ? slot.bindTo : server.addr, () => server.shutdown());
    server.finished.then(() => slot.closed());
    const addr = { transport: "tcp" as const, hostname: shown.hostname, port: shown.port };
    Object.defineProperty(server, "addr", { value: addr, enumerable: true });
    if (onListen) {
      onListen(addr);
    } else {
      // deno-lint-ignore no-console -- Deno prints this same line for the program
      console.error(listeningLine(addr, tlsFiles !== undefined || secure));
    }
    return server;
  };
  Object.defineProperty(Deno, "serve", { value: captured, writable: true, configurable: true });
}
