/**
 * Test helper for the front with devsrv's own rules ({@linkcode frontPolicy}):
 * the Host guard and live reload. Backends of the kinds an app may be (a
 * bare `Deno.serve`, a `node:http` server as Express runs on, a raw socket
 * writing fixed bytes) that record the requests they get, a front before
 * one of them, and the page and requests the tests send.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type AccessEntry,
  type Front,
  type FrontOptions,
  startFront,
} from "../../src/front/front.ts";
import { frontPolicy } from "../../src/supervisor/front_policy.ts";
import { CLIENT_PATH } from "../../src/live_reload/paths.ts";
import { rawRequest } from "./raw_http.ts";
import { HOST } from "./front.ts";

/** The live reload script's URL, as the policy under test adds it. */
export const SCRIPT_URL = `${CLIENT_PATH}?g=7`;
/** The tag the policy adds to a page. */
export const TAG = `<script src="${SCRIPT_URL}" defer></script>`;
/** A small HTML page. */
export const PAGE =
  "<!doctype html><html><head><title>t</title></head><body><h1>hi</h1></body></html>";
/** {@linkcode PAGE} with the tag added. */
export const INJECTED_PAGE = PAGE.replace("</body>", `${TAG}</body>`);

/** A backend on a free loopback port that counts the requests it got. */
export interface PolicyBackend {
  readonly port: number;
  /** Request heads received, as latin1 text. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/** A bare `Deno.serve` backend. */
export function denoBackend(
  handler: (request: Request) => Response | Promise<Response>,
): PolicyBackend {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: HOST, port: 0, onListen() {} }, (request) => {
    // A hostile Host can make request.url unparseable (the guard's comparison test sends some).
    requests.push(`${request.method} ${URL.parse(request.url)?.pathname ?? request.url}`);
    return handler(request);
  });
  return {
    port: server.addr.port,
    requests,
    stop: async () => {
      await server.shutdown();
      await server.finished;
    },
  };
}

/** A `node:http` backend, as Express, Koa and Fastify run on. */
export async function nodeBackend(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<PolicyBackend> {
  const requests: string[] = [];
  const server: Server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => error ? reject(error) : resolve())
      );
    },
  };
}

/**
 * A backend that answers every request on a connection with the same
 * bytes, so a test can tell whether the front changed a single one; with
 * `close`, it closes the connection after the first answer.
 */
export function cannedBackend(response: string, options: { close?: boolean } = {}): PolicyBackend {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const requests: string[] = [];
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const answer = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(64 * 1024);
    let text = "";
    try {
      for (;;) {
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0) {
          requests.push(text.slice(0, end));
          text = text.slice(end + 4);
          await writeAll(conn, latin1(response));
          if (options.close) return;
          continue;
        }
        const n = await conn.read(buf);
        if (n === null) return;
        text += String.fromCharCode(...buf.subarray(0, n));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error; // closed by stop()
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed by stop()
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const task = answer(conn).finally(() => tasks.delete(task));
      tasks.add(task);
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    requests,
    stop: async () => {
      listener.close();
      for (const conn of conns) conn.close();
      await accepting;
      await Promise.all(tasks);
    },
  };
}

/** A front with devsrv's policy routing to one backend, and what it reported. */
export interface PolicyFront {
  readonly front: Front;
  readonly port: number;
  readonly access: AccessEntry[];
  close(): Promise<void>;
}

/**
 * Starts a front with devsrv's policy on a free loopback port, routing to
 * `backend`.
 *
 * @param backend Where every request goes.
 * @param options More front options, and the policy's `allowedHosts`
 *   (default none) and `liveReload` (default on).
 * @returns The front; `close()` fails when it reported an error.
 */
export function startEdgeFront(
  backend: PolicyBackend,
  options: Partial<FrontOptions> & { allowedHosts?: string[]; liveReload?: boolean } = {},
): PolicyFront {
  const access: AccessEntry[] = [];
  const errors: unknown[] = [];
  const { allowedHosts = [], liveReload = true, ...frontOptions } = options;
  const front = startFront({
    hostname: HOST,
    port: 0,
    route: () => ({ kind: "forward", backend: { hostname: HOST, port: backend.port } }),
    onAccess: (entry) => access.push(entry),
    onError: (error) => errors.push(error),
    ...frontPolicy({ allowedHosts, liveReload }, () => SCRIPT_URL),
    ...frontOptions,
  });
  return {
    front,
    port: front.addr.port,
    access,
    close: async () => {
      await front.close();
      assert.deepEqual(errors, []);
    },
  };
}

/** Runs `body` with a front before `backend`; stops both. */
export async function withFront(
  backend: PolicyBackend | Promise<PolicyBackend>,
  body: (t: PolicyFront, backend: PolicyBackend) => Promise<void>,
  options: Parameters<typeof startEdgeFront>[1] = {},
): Promise<void> {
  const started = await backend;
  const t = startEdgeFront(started, options);
  try {
    await body(t, started);
  } finally {
    await t.close();
    await started.stop();
  }
}

/** Text as bytes, one character, one byte. */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** The Host field of a request to the front as a browser on this machine sends it. */
export function localHost(t: PolicyFront): [string, string] {
  return ["Host", `localhost:${t.port}`];
}

/** A browser's navigation request. */
export function pageLoad(t: PolicyFront, target = "/", extra: [string, string][] = []): string {
  return rawRequest(`GET ${target} HTTP/1.1`, [
    localHost(t),
    ["Accept", "text/html,application/xhtml+xml,*/*;q=0.8"],
    ["Sec-Fetch-Dest", "document"],
    ...extra,
  ]);
}

/** How often `part` occurs in `text`. */
export function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

/** An HTML response with `body`. */
export function htmlResponse(body: BodyInit, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    headers: { "content-type": "text/html; charset=utf-8", ...headers },
  });
}
