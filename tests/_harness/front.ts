/**
 * Test helper for the front's tests: a front on a free loopback port whose
 * route the test sets (and which fails the test, when closed, if it
 * reported an error), in-process `Deno.serve` backends, and raw TCP
 * backends that write exactly the bytes a test wants.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type AccessEntry,
  type BackendAddress,
  type Front,
  type FrontOptions,
  type Route,
  startFront,
} from "../../src/front/front.ts";

/** Where every front and backend of these tests listens. */
export const HOST = "127.0.0.1";
const decoder = new TextDecoder();

/** A `Deno.serve` backend on a free port. */
export interface Backend {
  readonly address: BackendAddress;
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  stop(): Promise<void>;
}

/**
 * Serves `handler` on a free loopback port.
 *
 * @param handler The app.
 * @returns The backend; `stop()` shuts it down and waits.
 */
export function startBackend(handler: Deno.ServeHandler<Deno.NetAddr>): Backend {
  const server = Deno.serve({
    hostname: HOST,
    port: 0,
    onListen() {},
    // A handler fails when the front drops a request on purpose; stay quiet.
    onError: () => new Response("handler failed", { status: 500 }),
  }, handler);
  return {
    address: { hostname: HOST, port: server.addr.port },
    server,
    stop: async () => {
      await server.shutdown();
      await server.finished;
    },
  };
}

/** A front whose route can be changed by the test, and its access log. */
export interface TestFront {
  readonly front: Front;
  readonly port: number;
  readonly url: string;
  readonly access: AccessEntry[];
  readonly routeCalls: string[];
  /** Routes every request there (or holds, for `null`) and tells the front. */
  routeTo(backend: Backend | BackendAddress | null): void;
}

/**
 * Starts a front on a free loopback port that routes every request to
 * `backend`, or holds it for `null`, until {@linkcode TestFront.routeTo}.
 *
 * @param backend Where requests go first.
 * @param options More front options (`tls`, `holdTimeoutMs`, ...).
 * @returns The front; its `front.close()` fails when an error was reported.
 */
export function startTestFront(
  backend: Backend | BackendAddress | null,
  options: Partial<FrontOptions> = {},
): TestFront {
  const access: AccessEntry[] = [];
  const routeCalls: string[] = [];
  const errors: unknown[] = [];
  let route: Route = toRoute(backend);
  const front = startFront({
    hostname: HOST,
    port: 0,
    route: (target) => {
      routeCalls.push(target);
      return route;
    },
    onAccess: (entry) => access.push(entry),
    onError: (error) => errors.push(error),
    ...options,
  });
  const scheme = options.tls ? "https" : "http";
  return {
    front: {
      addr: front.addr,
      get exchanges() {
        return front.exchanges;
      },
      changed: () => front.changed(),
      // Every test ends with close(): check there that no bug was reported.
      close: async () => {
        await front.close();
        assert.deepEqual(errors, []);
      },
    },
    port: front.addr.port,
    url: `${scheme}://${HOST}:${front.addr.port}`,
    access,
    routeCalls,
    routeTo(next) {
      route = toRoute(next);
      front.changed();
    },
  };
}

function toRoute(backend: Backend | BackendAddress | null): Route {
  if (backend === null) return { kind: "hold" };
  return { kind: "forward", backend: "address" in backend ? backend.address : backend };
}

/**
 * A GET request's text.
 *
 * @param target The request-target.
 * @param extra More field lines, each ending with CRLF.
 * @returns The request, with `Host: test`.
 */
export function get(target: string, extra = ""): string {
  return `GET ${target} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}

/** A handler that answers with the method, path and body length. */
export const echo: Deno.ServeHandler<Deno.NetAddr> = async (request) => {
  const body = await request.text();
  const url = new URL(request.url);
  return new Response(
    `${request.method} ${url.pathname}${url.search} ${body.length} ${body.slice(0, 40)}`,
  );
};

/** A raw TCP server whose connections are handled by `serve`. */
export function startRawBackend(serve: (conn: Deno.Conn) => Promise<void>): {
  address: BackendAddress;
  connections: () => number;
  stop(): Promise<void>;
} {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const tasks: Promise<void>[] = [];
  let count = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      count++;
      tasks.push(
        serve(conn).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch {
            // closed by `serve`
          }
        }),
      );
    }
  })();
  return {
    address: { hostname: HOST, port: listener.addr.port },
    connections: () => count,
    stop: async () => {
      listener.close();
      await accepting;
      await Promise.all(tasks);
    },
  };
}

/**
 * Reads a connection up to the end of a request head.
 *
 * @param conn The connection.
 * @returns The text read, or less at the end of the stream (`""` at once).
 */
export async function readHeadFrom(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  while (!text.includes("\r\n\r\n")) {
    const read = await conn.read(buf);
    if (read === null) return text;
    text += decoder.decode(buf.subarray(0, read));
  }
  return text;
}

/** A position-sensitive hash, to tell that every byte arrived in order. */
export function hashBytes(hash: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) hash = (Math.imul(hash, 31) + bytes[i]!) >>> 0;
  return hash;
}
