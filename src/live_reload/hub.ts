/**
 * Live reload, parent side: the server-sent events stream every open page
 * listens to. It lives in the parent because the parent outlives the
 * children: a page stays connected across restarts and hears about each new
 * child, and about every change to a static directory.
 *
 * Events, each `event: NAME\ndata: JSON\n\n`:
 * - `hello` `{generation}` as soon as a page connects, so a page served by
 *   an older child reloads even if it missed the `reload`;
 * - `reload` `{generation}` when a new child is ready, or a served file
 *   other than a stylesheet changed;
 * - `css` `{paths}` when only stylesheets changed (URL paths from the
 *   static root), which pages swap without reloading.
 *
 * A comment line every {@linkcode HEARTBEAT_MS} keeps idle connections from
 * being dropped and finds pages that went away without a goodbye.
 *
 * @module
 */

import { relative, resolve, sep } from "node:path";

/** How often a comment is sent to every open stream. */
export const HEARTBEAT_MS = 15_000;
/** The reconnect delay suggested to EventSource clients (`retry:`). */
export const RETRY_HINT_MS = 1_000;

/** Options for {@linkcode LiveReloadHub}. */
export interface LiveReloadHubOptions {
  /**
   * The static directory being served. When set, {@linkcode LiveReloadHub.changed}
   * also accepts absolute file paths (or paths relative to the current
   * directory) and makes them relative to it.
   */
  staticRoot?: string;
  /** How often to send a heartbeat comment. @default {HEARTBEAT_MS} */
  heartbeatMs?: number;
}

const encoder = new TextEncoder();

/**
 * Formats one server-sent event.
 *
 * @param name The event name.
 * @param data What `data:` carries, as JSON (one line: JSON.stringify never breaks lines).
 * @returns The event's text.
 *
 * @example Format a reload event
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEvent } from "./hub.ts";
 *
 * assert.equal(formatEvent("reload", { generation: 2 }), 'event: reload\ndata: {"generation":2}\n\n');
 * ```
 */
export function formatEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Whether a changed file is a stylesheet, which pages can swap in place. */
function isStylesheet(path: string): boolean {
  return path.toLowerCase().endsWith(".css");
}

/**
 * The server-sent events hub: one stream per open page.
 *
 * @example A page connects, then goes away
 * ```ts
 * import assert from "node:assert/strict";
 * import { LiveReloadHub } from "./hub.ts";
 *
 * const hub = new LiveReloadHub(() => 1);
 * const response = hub.handle(new Request("http://localhost/__devsrv/events"));
 * assert.equal(hub.clients, 1);
 * await response.body?.cancel();
 * assert.equal(hub.clients, 0);
 * hub.close();
 * ```
 */
export class LiveReloadHub {
  #generation: () => number;
  #staticRoot: string | undefined;
  #heartbeatMs: number;
  #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  /**
   * @param generation The generation of the child serving now; pages that
   *   name another one in their script URL reload when they connect.
   * @param options Where the static directory is, for {@linkcode changed}; heartbeat interval.
   */
  constructor(generation: () => number, options: LiveReloadHubOptions = {}) {
    this.#generation = generation;
    this.#staticRoot = options.staticRoot === undefined ? undefined : resolve(options.staticRoot);
    this.#heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
  }

  /** How many pages are connected. */
  get clients(): number {
    return this.#streams.size;
  }

  /**
   * Answers `GET /__devsrv/events` with a stream that starts with `hello`.
   *
   * @param request The request (only its method matters).
   * @returns A `text/event-stream` response (405 for other methods, 503 after {@linkcode close}).
   */
  handle(request: Request): Response {
    if (request.method !== "GET") {
      return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    if (this.#closed) return new Response("devsrv is shutting down\n", { status: 503 });
    const first = `retry: ${RETRY_HINT_MS}\n\n` +
      formatEvent("hello", { generation: this.#generation() });
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        c.enqueue(encoder.encode(first));
      },
      cancel: () => this.#drop(controller),
    });
    // A page that goes away cancels the body (Deno.serve does so when the
    // connection closes); request.signal is not used, as Deno.serve also
    // aborts it on success and warns about that.
    this.#add(controller);
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }

  /**
   * A new child is ready: every open page reloads.
   *
   * @param generation The new child's generation.
   */
  reload(generation: number): void {
    this.#broadcast(formatEvent("reload", { generation }));
  }

  /**
   * Files changed in static-directory mode. Stylesheets alone are swapped in
   * place (`css`); anything else reloads the pages (`reload`).
   *
   * @param paths The changed files, relative to the static root (or
   *   absolute, when the hub knows the root).
   */
  changed(paths: string[]): void {
    if (paths.length === 0) return;
    if (!paths.every(isStylesheet)) {
      this.reload(this.#generation());
      return;
    }
    this.#broadcast(formatEvent("css", { paths: paths.map((path) => this.#urlPath(path)) }));
  }

  /** Ends all streams (parent shutdown); later requests get 503. */
  close(): void {
    this.#closed = true;
    for (const controller of [...this.#streams]) this.#end(controller);
  }

  /** Turns a file path into the URL path it is served at. */
  #urlPath(path: string): string {
    let rel = path;
    if (this.#staticRoot !== undefined) {
      const fromRoot = relative(this.#staticRoot, resolve(path));
      if (!fromRoot.startsWith("..")) rel = fromRoot;
    }
    const slashed = rel.split(sep).join("/").replaceAll("\\", "/");
    return slashed.startsWith("/") ? slashed : `/${slashed}`;
  }

  #add(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#streams.add(controller);
    this.#heartbeat ??= setInterval(
      () => this.#broadcast(": heartbeat\n\n"),
      this.#heartbeatMs,
    );
  }

  /** Forgets a stream the page closed. */
  #drop(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#streams.delete(controller);
    if (this.#streams.size === 0 && this.#heartbeat !== undefined) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  /** Closes a stream from this side. */
  #end(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#drop(controller);
    try {
      controller.close();
    } catch (error) {
      // Already closed or cancelled by the page.
      if (!(error instanceof TypeError)) throw error;
    }
  }

  #broadcast(text: string): void {
    const bytes = encoder.encode(text);
    for (const controller of [...this.#streams]) {
      try {
        controller.enqueue(bytes);
      } catch (error) {
        // A stream that cannot take more (closed, or cancelled by the page) has gone away.
        if (!(error instanceof TypeError)) throw error;
        this.#drop(controller);
      }
    }
  }
}
