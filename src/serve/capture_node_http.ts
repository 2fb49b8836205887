/**
 * Captures the servers a program starts through Node's `http` and `https`
 * modules (Express, Koa, Fastify, Hono's Node adapter and the rest all end
 * in `http.Server.prototype.listen`): the server listens where the
 * placement says, and `server.address()` reports the public address.
 *
 * In the reloader's child an HTTPS server cannot speak TLS to the parent's
 * front, which forwards plain HTTP/1.1: its requests arrive through a plain
 * `http.Server` on the loopback port that re-emits them on the program's
 * server, and the parent serves the public port with the program's
 * certificate. Servers on a Unix socket or an inherited handle are left
 * alone.
 *
 * Importing `node:http` costs a process tens of milliseconds, so this is
 * installed only when the program may use it.
 *
 * @module
 */

import type { TlsFiles } from "../listen/tls_files.ts";
import type { Activity } from "./activity.ts";
import {
  type Address,
  type CapturedServers,
  markRefusedAddress,
  refusedAddress,
  type ServerRequest,
  type Slot,
} from "./captured_servers.ts";

/** What `listen()` was asked, in Node's argument forms. */
export interface ListenRequest {
  /** The port; 0 when none was given (Node's "any free port"). */
  port: number;
  /** The host; `undefined` for Node's default (every interface). */
  host: string | undefined;
  /** `backlog`, when given. */
  backlog: number | undefined;
  /** The callback for `'listening'`, when given. */
  callback: (() => void) | undefined;
  /** The options object's `signal`, when given. */
  signal: AbortSignal | undefined;
}

type AnyFunction = (...args: unknown[]) => unknown;

/** A `net.Server` as far as capturing needs it. */
export interface NodeServer {
  listen(...args: unknown[]): unknown;
  address(): unknown;
  close(callback?: AnyFunction): unknown;
  once(event: string, listener: AnyFunction): unknown;
  on(event: string, listener: AnyFunction): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  listenerCount(event: string): number;
  readonly listening: boolean;
  [key: symbol]: unknown;
}

/** Where a program's HTTPS options are kept until its server listens. */
const TLS_FILES = Symbol("devsrv.tlsFiles");

function isPortLike(value: unknown): boolean {
  return typeof value === "number" ||
    (typeof value === "string" && /^\s*\d+\s*$/.test(value));
}

/**
 * Reads `listen()`'s arguments the way Node's `normalizeArgs` does.
 *
 * @param args The arguments as the program passed them.
 * @returns The TCP request, or `undefined` for a Unix socket path, a
 * handle or a file descriptor (not captured).
 *
 * @example Express's `app.listen(3000, () => ...)`
 * ```ts
 * import { readListenArguments } from "./capture_node_http.ts";
 *
 * const read = readListenArguments([3000, () => {}]);
 * if (read?.port !== 3000 || read.host !== undefined) throw new Error();
 * if (readListenArguments(["/tmp/app.sock"]) !== undefined) throw new Error();
 * ```
 */
export function readListenArguments(args: unknown[]): ListenRequest | undefined {
  const rest = [...args];
  const callback = typeof rest.at(-1) === "function" ? rest.pop() as () => void : undefined;
  const [first, second, third] = rest;
  if (first !== null && typeof first === "object") {
    const options = first as Record<string, unknown>;
    if (options.path !== undefined || options.fd !== undefined || options.handle !== undefined) {
      return undefined;
    }
    if ("_handle" in options) return undefined;
    return {
      port: isPortLike(options.port) ? Number(options.port) : 0,
      host: typeof options.host === "string" ? options.host : undefined,
      backlog: typeof options.backlog === "number" ? options.backlog : undefined,
      callback,
      signal: options.signal instanceof AbortSignal ? options.signal : undefined,
    };
  }
  if (typeof first === "string" && !isPortLike(first)) return undefined;
  return {
    port: first === undefined || first === null ? 0 : Number(first),
    host: typeof second === "string" ? second : undefined,
    backlog: typeof second === "number" ? second : typeof third === "number" ? third : undefined,
    callback,
    signal: undefined,
  };
}

/** The Unix socket path `listen()` was given (`listen(path)`, `listen({ path })`), if any. */
function socketPath(args: unknown[]): string | undefined {
  const [first] = args;
  if (typeof first === "string" && !isPortLike(first)) return first;
  if (first !== null && typeof first === "object") {
    const path = (first as Record<string, unknown>).path;
    if (typeof path === "string") return path;
  }
  return undefined;
}

function familyOf(hostname: string): string {
  return hostname.includes(":") ? "IPv6" : "IPv4";
}

/** Makes `server.address()` report the public address while it listens. */
function reportPublicAddress(server: NodeServer, shown: { hostname: string; port: number }) {
  Object.defineProperty(server, "address", {
    configurable: true,
    writable: true,
    value: () =>
      server.listening
        ? { address: shown.hostname, family: familyOf(shown.hostname), port: shown.port }
        : null,
  });
}

/** Events a plain relay passes on to a program's HTTPS server. */
const RELAYED_EVENTS = ["request", "upgrade", "connect"] as const;

/**
 * The client's connection is encrypted up to the parent: frameworks that
 * ask (`req.protocol`, `req.secure`) are told so.
 */
function markEncrypted(server: NodeServer): void {
  server.on("connection", (socket: unknown) => {
    (socket as { encrypted?: boolean }).encrypted = true;
  });
}

/**
 * Serves an HTTPS server's requests through a plain HTTP server on the
 * loopback port (the parent's front terminates TLS and speaks plain
 * HTTP/1.1 to the child).
 */
function relayPlainHttp(
  http: typeof import("node:http"),
  target: NodeServer,
): NodeServer {
  const relay = http.createServer() as unknown as NodeServer & {
    shouldUpgradeCallback?: () => boolean;
  };
  // Upgrades go to the program's server only when it handles them, as Node decides.
  relay.shouldUpgradeCallback = () => target.listenerCount("upgrade") > 0;
  markEncrypted(relay);
  for (const event of RELAYED_EVENTS) {
    relay.on(event, (...args: unknown[]) => target.emit(event, ...args));
  }
  return relay;
}

/** How {@linkcode captureNodeHttp} places and screens servers. */
export interface NodeHttpCapture {
  /** `hidden` or `public`, as in {@linkcode CapturedServers}. */
  mode: "hidden" | "public";
  /**
   * `hidden`: the parent serves every public port over HTTPS (`--cert`), so
   * connections are shown to the program as encrypted.
   * @default {false}
   */
  secureFront?: boolean;
  /** Puts checks in front of a server's requests (the Host guard of a single process). */
  screen?: (server: NodeServer) => void;
  /** Counts requests and keeps hold of long-lived streams, for a graceful stop. */
  activity?: Activity;
}

/**
 * Patches Node's `http` and `https` servers for the rest of the process.
 *
 * @param registry Where servers are placed and reported.
 * @param capture How servers are placed and screened.
 */
export async function captureNodeHttp(
  registry: CapturedServers,
  capture: NodeHttpCapture,
): Promise<void> {
  const { mode, screen } = capture;
  const [http, https, tls] = await Promise.all([
    import("node:http"),
    import("node:https"),
    import("node:tls"),
  ]);
  const tlsPrototype = tls.Server.prototype as unknown as {
    setSecureContext(this: NodeServer, options: Record<string, unknown>): unknown;
  };
  const setSecureContext = tlsPrototype.setSecureContext;
  tlsPrototype.setSecureContext = function (options) {
    this[TLS_FILES] = pemPair(options);
    return setSecureContext.call(this, options);
  };
  const httpListen = (http.Server.prototype as unknown as NodeServer).listen;
  for (const module of [http, https]) {
    const prototype = module.Server.prototype as unknown as NodeServer;
    const listen = prototype.listen;
    const secure = module === https;
    const capturedListen = function (this: NodeServer, ...args: unknown[]) {
      const read = readListenArguments(args);
      if (!read) {
        const path = socketPath(args);
        if (path !== undefined) {
          this.once("listening", () => registry.unixSocket(path, () => closeServer(this)));
        }
        return listen.apply(this, args);
      }
      const requested: ServerRequest = {
        kind: "node",
        hostname: read.host,
        port: read.port,
        tls: secure ? this[TLS_FILES] as TlsFiles | undefined : undefined,
      };
      let slot: Slot;
      try {
        slot = registry.start(requested);
      } catch (error) {
        const refused = refusedAddress(error);
        if (!refused) throw error;
        // Node reports a taken address as an 'error' event, after listen()
        // returns; its stack is the program's listen() call.
        const inUse = nodeAddressInUse(refused);
        Error.captureStackTrace(inUse, capturedListen);
        queueMicrotask(() => this.emit("error", inUse));
        return this;
      }
      if (capture.activity) trackActivity(this, capture.activity);
      screen?.(this);
      if (mode === "hidden" && secure) {
        return listenThroughRelay(http, httpListen, this, slot, read);
      }
      if (slot.shown) reportPublicAddress(this, slot.shown);
      if (mode === "hidden" && capture.secureFront) markEncrypted(this);
      this.once("listening", () => {
        const real = (prototype.address.call(this) ?? {}) as { address?: string; port?: number };
        slot.listening(
          { hostname: real.address ?? slot.bindTo.hostname, port: real.port ?? 0 },
          () => closeServer(this),
        );
        this.once("close", () => slot.closed());
      });
      if (read.callback) this.once("listening", read.callback);
      reportBindFailure(this, slot);
      return listen.call(this, {
        host: slot.bindTo.hostname,
        port: slot.bindTo.port,
        ...(read.backlog === undefined ? {} : { backlog: read.backlog }),
        ...(read.signal ? { signal: read.signal } : {}),
      });
    };
    prototype.listen = capturedListen;
  }
}

function listenThroughRelay(
  http: typeof import("node:http"),
  listen: NodeServer["listen"],
  server: NodeServer,
  slot: Slot,
  read: ListenRequest,
): NodeServer {
  const relay = relayPlainHttp(http, server);
  const shown = slot.shown!;
  Object.defineProperty(server, "listening", { configurable: true, get: () => relay.listening });
  reportPublicAddress(server, shown);
  server.close = function (callback?: AnyFunction) {
    relay.close(() => {
      server.emit("close");
      callback?.();
    });
    return server;
  };
  relay.once("listening", () => {
    const real = (http.Server.prototype.address.call(relay) ?? {}) as { port?: number };
    slot.listening(
      { hostname: slot.bindTo.hostname, port: real.port ?? 0 },
      () => closeServer(relay),
    );
    server.emit("listening");
  });
  if (read.callback) server.once("listening", read.callback);
  relay.on("error", (error: unknown) => server.emit("error", error));
  listen.call(relay, { host: slot.bindTo.hostname, port: slot.bindTo.port });
  return server;
}

/** A Node response, as far as a graceful stop needs it. */
interface NodeResponse {
  readonly writableEnded: boolean;
  writeHead(...args: unknown[]): unknown;
  getHeader(name: string): unknown;
  end(): void;
  once(event: "close", listener: () => void): unknown;
  /** Node's head as sent (`http.OutgoingMessage`), once the headers are out. */
  readonly _header?: unknown;
}

/** A Node socket, as far as a graceful stop needs it. */
interface NodeSocket {
  readonly destroyed: boolean;
  end(data: Uint8Array): void;
  once(event: "close", listener: () => void): unknown;
}

/** A WebSocket close frame, server to client, code 1001 "going away" (RFC 6455 §5.5.1). */
const CLOSE_GOING_AWAY = new Uint8Array([0x88, 0x02, 0x03, 0xe9]);

/**
 * Counts a server's requests until answered, ends its server-sent event
 * streams and closes its WebSockets when the program stops. It watches the
 * events as they are emitted rather than listening for them, because a
 * listener of its own would change what Node does (an `upgrade` listener
 * makes every upgrade request one).
 */
function trackActivity(server: NodeServer, activity: Activity): void {
  const emit = server.emit;
  server.emit = function (event: string, ...args: unknown[]): boolean {
    if (event === "request") {
      trackResponse(args[1] as NodeResponse, activity);
    } else if (event === "upgrade") {
      const socket = args[1] as NodeSocket;
      const forget = activity.addStream(() => {
        if (!socket.destroyed) socket.end(CLOSE_GOING_AWAY);
      });
      socket.once("close", forget);
    }
    return emit.call(this, event, ...args);
  };
}

/**
 * Counts a response as a request until it ends, or, once its headers go
 * out as a server-sent event stream, as a stream that a stop ends at once.
 * Every way of sending headers (`writeHead` with an object, pairs or a raw
 * array, `setHeader` then `write`, `flushHeaders`) goes through the
 * response's `writeHead`.
 */
function trackResponse(response: NodeResponse, activity: Activity): void {
  const done = activity.begin();
  let forget = () => {};
  const writeHead = response.writeHead;
  let sent = false;
  response.writeHead = function (this: NodeResponse, ...args: unknown[]) {
    const result = writeHead.apply(this, args);
    if (!sent) {
      sent = true;
      if (isEventStream(sentContentType(this, args))) {
        done(); // answered: what stays open is a stream, not a request
        forget = activity.addStream(() => {
          if (!response.writableEnded) response.end();
        });
      }
    }
    return result;
  };
  response.once("close", () => {
    done();
    forget();
  });
}

function isEventStream(type: string): boolean {
  return type.trim().toLowerCase().startsWith("text/event-stream");
}

/**
 * The `Content-Type` a response sent: from the head Node wrote, else from
 * the headers set and the ones given to `writeHead`.
 */
function sentContentType(response: NodeResponse, writeHeadArgs: unknown[]): string {
  const head = response._header;
  if (typeof head === "string") {
    return head.match(/\r\ncontent-type:[ \t]*([^\r\n]*)/i)?.[1] ?? "";
  }
  const given = writeHeadArgs.find((arg) => arg !== null && typeof arg === "object");
  return headerIn(given, "content-type") ?? String(response.getHeader("content-type") ?? "");
}

/** A header's value in any of `writeHead`'s header forms: an object, pairs, or a raw flat array. */
function headerIn(headers: unknown, name: string): string | undefined {
  if (Array.isArray(headers)) {
    const pairs = Array.isArray(headers[0])
      ? headers as unknown[][]
      : Array.from({ length: headers.length / 2 }, (_, i) => headers.slice(2 * i, 2 * i + 2));
    const found = pairs.find(([key]) => String(key).toLowerCase() === name);
    return found === undefined ? undefined : String(found[1]);
  }
  if (headers === null || typeof headers !== "object") return undefined;
  const key = Object.keys(headers).find((key) => key.toLowerCase() === name);
  return key === undefined ? undefined : String((headers as Record<string, unknown>)[key]);
}

/**
 * The error Node emits for a taken address (`EADDRINUSE`), naming the
 * public address that devsrv found taken.
 */
function nodeAddressInUse(refused: Address): Error {
  const { hostname, port } = refused;
  const error = Object.assign(
    new Error(`listen EADDRINUSE: address already in use ${hostname}:${port}`),
    { code: "EADDRINUSE", errno: -98, syscall: "listen", address: hostname, port },
  );
  markRefusedAddress(error, refused);
  return error;
}

/** Node's codes for an address that cannot be bound. */
const BIND_ERROR_CODES = new Set(["EADDRINUSE", "EACCES", "EADDRNOTAVAIL"]);

/** Passes a failed bind to the placement, once, until the server listens. */
function reportBindFailure(server: NodeServer, slot: Slot): void {
  const onError = (error: unknown) => {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && BIND_ERROR_CODES.has(code)) slot.bindFailed(error);
  };
  server.once("error", onError);
  server.once("listening", () =>
    (server as unknown as EventTarget & {
      off(event: string, listener: AnyFunction): void;
    }).off("error", onError));
}

/** Stops a Node server: no new connections, idle keep-alive ones closed, in-flight ones finish. */
function closeServer(server: NodeServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  });
}

function pemText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (Array.isArray(value) && value.length === 1) return pemText(value[0]);
  return undefined;
}

function pemPair(options: Record<string, unknown>): TlsFiles | undefined {
  const cert = pemText(options.cert);
  const key = pemText(options.key);
  return cert && key ? { cert, key } : undefined;
}
