/**
 * End-to-end tests of the front: real sockets on 127.0.0.1, real
 * `Deno.serve` backends in this process, raw TCP clients where the framing
 * matters, and a stress test that swaps the backend under load.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  type AccessEntry,
  type BackendAddress,
  type Front,
  type FrontOptions,
  type Route,
  startFront,
} from "../../src/front/front.ts";

const HOST = "127.0.0.1";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------- helpers

/** Waits until `condition()` holds, polling, or fails after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A `Deno.serve` backend on a free port. */
interface Backend {
  readonly address: BackendAddress;
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  stop(): Promise<void>;
}

function startBackend(handler: Deno.ServeHandler<Deno.NetAddr>): Backend {
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
interface TestFront {
  readonly front: Front;
  readonly port: number;
  readonly url: string;
  readonly access: AccessEntry[];
  readonly routeCalls: string[];
  /** Routes every request there (or holds, for `null`) and tells the front. */
  routeTo(backend: Backend | BackendAddress | null): void;
}

function startTestFront(
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
        assertEquals(errors, []);
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

/** One response as read from a raw socket. */
interface RawResponse {
  status: number;
  head: string;
  headers: Map<string, string>;
  body: string;
}

/** A raw TCP client that reads responses by hand, independent of the front's parser. */
class RawClient {
  readonly conn: Deno.Conn;
  #buf = new Uint8Array(0);

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname: HOST, port }));
  }

  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.conn.write(bytes));
  }

  /** Reads one response; `forHead` when it answers a HEAD request. */
  async readResponse(forHead = false): Promise<RawResponse> {
    let headEnd = -1;
    while ((headEnd = indexOfText(this.#buf, "\r\n\r\n")) === -1) {
      if (!(await this.#more())) throw new Error("Connection closed before a response head");
    }
    const head = decoder.decode(this.#buf.subarray(0, headEnd));
    this.#buf = this.#buf.subarray(headEnd + 4);
    const [statusLine, ...lines] = head.split("\r\n");
    const status = Number(statusLine!.split(" ")[1]);
    const headers = new Map(lines.map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
    }));
    const body = await this.#readBody(status, headers, forHead);
    return { status, head, headers, body };
  }

  /** Reads until the server closes; returns everything not read yet. */
  async readToEnd(): Promise<string> {
    while (await this.#more());
    const text = decoder.decode(this.#buf);
    this.#buf = new Uint8Array(0);
    return text;
  }

  /** Waits for the server to close the connection. */
  async expectClosed(): Promise<void> {
    const rest = await this.readToEnd();
    assertEquals(rest, "");
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // closed already
    }
  }

  async #readBody(status: number, headers: Map<string, string>, forHead: boolean): Promise<string> {
    if (forHead || status < 200 || status === 204 || status === 304) return "";
    if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
      return await this.#readChunked();
    }
    const length = headers.get("content-length");
    if (length === undefined) return await this.readToEnd();
    return decoder.decode(await this.#take(Number(length)));
  }

  async #readChunked(): Promise<string> {
    let body = "";
    for (;;) {
      const sizeLine = decoder.decode(await this.#takeLine());
      const size = parseInt(sizeLine, 16);
      if (size === 0) break;
      body += decoder.decode(await this.#take(size));
      await this.#takeLine();
    }
    while ((await this.#takeLine()).length > 0); // trailers
    return body;
  }

  async #takeLine(): Promise<Uint8Array> {
    let end = -1;
    while ((end = indexOfText(this.#buf, "\r\n")) === -1) {
      if (!(await this.#more())) throw new Error("Connection closed mid-line");
    }
    const line = this.#buf.subarray(0, end);
    this.#buf = this.#buf.subarray(end + 2);
    return line;
  }

  async #take(count: number): Promise<Uint8Array> {
    while (this.#buf.length < count) {
      if (!(await this.#more())) throw new Error("Connection closed mid-body");
    }
    const bytes = this.#buf.subarray(0, count);
    this.#buf = this.#buf.subarray(count);
    return bytes;
  }

  async #more(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    let read: number | null;
    try {
      read = await this.conn.read(chunk);
    } catch (error) {
      if (error instanceof Deno.errors.ConnectionReset) return false;
      throw error;
    }
    if (read === null) return false;
    const joined = new Uint8Array(this.#buf.length + read);
    joined.set(this.#buf);
    joined.set(chunk.subarray(0, read), this.#buf.length);
    this.#buf = joined;
    return true;
  }
}

function indexOfText(buf: Uint8Array, text: string): number {
  const needle = encoder.encode(text);
  outer: for (let i = 0; i + needle.length <= buf.length; i++) {
    for (let j = 0; j < needle.length; j++) if (buf[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function get(target: string, extra = ""): string {
  return `GET ${target} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}

/** A handler that answers with the method, path and body length. */
const echo: Deno.ServeHandler<Deno.NetAddr> = async (request) => {
  const body = await request.text();
  const url = new URL(request.url);
  return new Response(
    `${request.method} ${url.pathname}${url.search} ${body.length} ${body.slice(0, 40)}`,
  );
};

/** A raw TCP server whose connections are handled by `serve`. */
function startRawBackend(serve: (conn: Deno.Conn) => Promise<void>): {
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

async function readHeadFrom(conn: Deno.Conn): Promise<string> {
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
function hashBytes(hash: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) hash = (Math.imul(hash, 31) + bytes[i]!) >>> 0;
  return hash;
}

// ------------------------------------------------------------ basic flows

Deno.test("startFront() forwards GET and POST over one keep-alive connection (fetch)", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const client = Deno.createHttpClient({});
  try {
    for (let i = 0; i < 5; i++) {
      const get = await fetch(`${t.url}/get?i=${i}`, { client });
      assertEquals(await get.text(), `GET /get?i=${i} 0 `);
      const post = await fetch(`${t.url}/post`, { client, method: "POST", body: `body ${i}` });
      assertEquals(await post.text(), `POST /post 6 body ${i}`);
    }
    assertEquals(t.access.length, 10);
    assertEquals(t.front.exchanges, 10);
    assertEquals(t.access[0]!.method, "GET");
    assertEquals(t.access[0]!.target, "/get?i=0");
    assertEquals(t.access[0]!.status, 200);
    assertEquals(t.access[0]!.client, HOST);
    assert(t.access[0]!.ms >= 0);
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() tells onRequestStart when a request goes out and when its response head is back", async () => {
  const events: string[] = [];
  const release = Promise.withResolvers<void>();
  const backend = startBackend(async (request) => {
    const path = new URL(request.url).pathname;
    events.push(`app ${path}`);
    if (path !== "/stream") return new Response("done");
    await release.promise;
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode("first"));
        setTimeout(() => controller.close(), 50);
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const t = startTestFront(backend, {
    onRequestStart: (target) => {
      events.push(`start ${target}`);
      return () => events.push(`head ${target}`);
    },
  });
  try {
    assertEquals(await (await fetch(`${t.url}/plain`)).text(), "done");
    assertEquals(events, ["start /plain", "app /plain", "head /plain"]);
    events.length = 0;
    const streaming = fetch(`${t.url}/stream`);
    await waitFor(() => events.includes("app /stream"), "the app to get the request");
    assertEquals(events, ["start /stream", "app /stream"]);
    release.resolve();
    const response = await streaming;
    assertEquals(events, ["start /stream", "app /stream", "head /stream"], "before the body ends");
    assertEquals(await response.text(), "first");
    assertEquals(events.length, 3, "once");
  } finally {
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() keeps a raw connection alive across requests", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(get("/one"));
    assertEquals((await raw.readResponse()).body, "GET /one 0 ");
    await raw.send("POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello");
    assertEquals((await raw.readResponse()).body, "POST /two 5 hello");
    await raw.send(get("/three", "Connection: close\r\n"));
    const last = await raw.readResponse();
    assertEquals(last.body, "GET /three 0 ");
    await raw.expectClosed();
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() answers HTTP/1.0 and closes unless asked to keep alive", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assertEquals((await raw.readResponse()).body, "GET /a 0 ");
    await raw.send("GET /b HTTP/1.0\r\n\r\n");
    assertEquals((await raw.readResponse()).body, "GET /b 0 ");
    await raw.expectClosed();
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() streams chunked requests and responses", async () => {
  const backend = startBackend(async (request) => {
    const text = await request.text();
    const parts = ["<", text, ">"];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = parts.shift();
        if (part === undefined) controller.close();
        else controller.enqueue(encoder.encode(part));
      },
    });
    return new Response(body);
  });
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(
      "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    );
    const response = await raw.readResponse();
    assertEquals(response.headers.get("transfer-encoding"), "chunked");
    assertEquals(response.body, "<hello world>");
    // The connection is still in step for a next request.
    await raw.send(get("/after"));
    assertEquals((await raw.readResponse()).status, 200);
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() forwards a chunked fetch upload from a stream", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const client = Deno.createHttpClient({});
  try {
    const pieces = ["one ", "two ", "three"];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const piece = pieces.shift();
        if (piece === undefined) controller.close();
        else controller.enqueue(encoder.encode(piece));
      },
    });
    const response = await fetch(`${t.url}/stream`, { client, method: "POST", body });
    assertEquals(await response.text(), "POST /stream 13 one two three");
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() passes a streaming response on piece by piece", async () => {
  const next = Promise.withResolvers<void>();
  const backend = startBackend(() => {
    let step = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        step++;
        if (step === 1) controller.enqueue(encoder.encode("first;"));
        else if (step === 2) {
          await next.promise; // only after the client has seen the first piece
          controller.enqueue(encoder.encode("second;"));
        } else controller.close();
      },
    });
    return new Response(body);
  });
  const t = startTestFront(backend);
  const client = Deno.createHttpClient({});
  try {
    const response = await fetch(`${t.url}/slow`, { client });
    const reader = response.body!.getReader();
    const first = await reader.read();
    assertEquals(decoder.decode(first.value), "first;");
    next.resolve();
    let rest = "";
    for (let part = await reader.read(); !part.done; part = await reader.read()) {
      rest += decoder.decode(part.value);
    }
    assertEquals(rest, "second;");
  } finally {
    next.resolve();
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() relays server-sent events as they happen", async () => {
  const cancelled = Promise.withResolvers<void>();
  const backend = startBackend(() => {
    let id = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        id++;
        if (id > 1) await new Promise((resolve) => setTimeout(resolve, 5));
        controller.enqueue(encoder.encode(`id: ${id}\ndata: tick ${id}\n\n`));
      },
      cancel() {
        cancelled.resolve();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const t = startTestFront(backend);
  const client = Deno.createHttpClient({});
  try {
    const response = await fetch(`${t.url}/events`, { client });
    assertEquals(response.headers.get("content-type"), "text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("data: tick 3\n\n")) {
      const part = await reader.read();
      assert(!part.done);
      text += part.value;
    }
    assert(text.startsWith("id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\n"));
    await reader.cancel();
    // The client going away reaches the app: its stream is cancelled.
    await cancelled.promise;
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() tells the app at once when a client hangs up on a silent stream", async () => {
  const cancelled = Promise.withResolvers<void>();
  const backend = startBackend(() => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode("data: tick 1\n\n")); // then nothing, ever
      },
      cancel() {
        cancelled.resolve();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  const t = startTestFront(backend);
  const client = await RawClient.connect(t.port);
  try {
    await client.send("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n");
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("data: tick 1")) {
      const n = await client.conn.read(buffer);
      assert(n !== null);
      text += decoder.decode(buffer.subarray(0, n));
    }
    client.close();
    // The app never writes again, so only the front reading the client can tell it.
    let appSawIt = false;
    cancelled.promise.then(() => appSawIt = true);
    await waitFor(() => appSawIt, "the app's stream to be cancelled");
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() keeps a connection alive after a streamed response (the client read is shared)", async () => {
  const backend = startBackend((request) => {
    if (new URL(request.url).pathname !== "/slow") return new Response("quick");
    let part = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (++part > 3) return controller.close();
        await new Promise((resolve) => setTimeout(resolve, 20));
        controller.enqueue(encoder.encode(`part ${part};`));
      },
    });
    return new Response(body);
  });
  const t = startTestFront(backend);
  const client = await RawClient.connect(t.port);
  try {
    await client.send("GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assertEquals((await client.readResponse()).body, "part 1;part 2;part 3;");
    await client.send("GET /quick HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assertEquals((await client.readResponse()).body, "quick");
    // Pipelined during a stream: the second request waits in the buffer for its turn.
    await client.send(
      "GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\nGET /quick HTTP/1.1\r\nHost: localhost\r\n\r\n",
    );
    assertEquals((await client.readResponse()).body, "part 1;part 2;part 3;");
    assertEquals((await client.readResponse()).body, "quick");
    assertEquals(t.front.exchanges, 4);
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() tunnels a WebSocket after 101 Switching Protocols", async () => {
  const serverClosed = Promise.withResolvers<void>();
  const backend = startBackend((request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(`echo: ${event.data}`);
    socket.onclose = () => serverClosed.resolve();
    return response;
  });
  const t = startTestFront(backend);
  const ws = new WebSocket(`ws://${HOST}:${t.port}/ws`);
  const clientClosed = Promise.withResolvers<void>();
  ws.onclose = () => clientClosed.resolve();
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const replies: string[] = [];
    const gotTwo = Promise.withResolvers<void>();
    ws.onmessage = (event) => {
      replies.push(String(event.data));
      if (replies.length === 2) gotTwo.resolve();
    };
    ws.send("hello");
    ws.send("x".repeat(100_000));
    await gotTwo.promise;
    assertEquals(replies[0], "echo: hello");
    assertEquals(replies[1], "echo: " + "x".repeat(100_000));
    assertEquals(t.access.at(-1)?.status, 101);
  } finally {
    ws.close();
    await clientClosed.promise;
    await serverClosed.promise;
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() streams a 20 MB upload through", async () => {
  const backend = startBackend(async (request) => {
    let total = 0;
    let hash = 0;
    for await (const chunk of request.body!) {
      total += chunk.length;
      hash = hashBytes(hash, chunk);
    }
    return new Response(`${total} ${hash}`);
  });
  const t = startTestFront(backend);
  const client = Deno.createHttpClient({});
  try {
    const size = 20 * 1024 * 1024;
    const data = new Uint8Array(size);
    for (let i = 0, x = 1; i < size; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      data[i] = x >>> 24;
    }
    const expectedHash = hashBytes(0, data);
    const response = await fetch(`${t.url}/upload`, { client, method: "POST", body: data });
    assertEquals(await response.text(), `${size} ${expectedHash}`);
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() answers pipelined requests in order", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(
      get("/1") +
        "POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc" +
        "\r\n" + // a stray CRLF between requests is allowed
        "HEAD /3 HTTP/1.1\r\nHost: t\r\n\r\n" +
        get("/4"),
    );
    assertEquals((await raw.readResponse()).body, "GET /1 0 ");
    assertEquals((await raw.readResponse()).body, "POST /2 3 abc");
    const head = await raw.readResponse(true);
    assertEquals([head.status, head.body], [200, ""]);
    assertEquals((await raw.readResponse()).body, "GET /4 0 ");
    assertEquals(t.access.map((entry) => entry.target), ["/1", "/2", "/3", "/4"]);
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() sends no body for HEAD, 204 and 304 and stays in step", async () => {
  const backend = startBackend((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/204") return new Response(null, { status: 204 });
    if (path === "/304") return new Response(null, { status: 304, headers: { etag: '"x"' } });
    return new Response("twelve bytes");
  });
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send("HEAD /head HTTP/1.1\r\nHost: t\r\n\r\n");
    const head = await raw.readResponse(true);
    assertEquals([head.status, head.headers.get("content-length"), head.body], [200, "12", ""]);
    await raw.send(get("/204"));
    assertEquals((await raw.readResponse()).status, 204);
    await raw.send(get("/304"));
    assertEquals((await raw.readResponse()).status, 304);
    await raw.send(get("/body"));
    assertEquals((await raw.readResponse()).body, "twelve bytes");
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() forwards 100 Continue before the final response", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(
      "POST /expect HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n",
    );
    const interim = await raw.readResponse();
    assertEquals(interim.status, 100);
    await raw.send("data");
    const final = await raw.readResponse();
    assertEquals([final.status, final.body], [200, "POST /expect 4 data"]);
    assertEquals(t.access.at(-1)?.status, 200);
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() closes after a final answer to Expect: 100-continue", async () => {
  // Deno.serve sends 100 Continue on its own; this app refuses up front.
  const backend = startRawBackend(async (conn) => {
    await readHeadFrom(conn);
    await conn.write(
      encoder.encode("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 7\r\n\r\ntoo big"),
    );
    await conn.read(new Uint8Array(1)); // until the front lets go
  });
  const t = startTestFront(backend.address);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(
      "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n",
    );
    const response = await raw.readResponse();
    assertEquals([response.status, response.body], [413, "too big"]);
    // The body was never sent, so the connection cannot go on in step.
    await raw.expectClosed();
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() forwards large response heads and bodies", async () => {
  const cookie = "c".repeat(100 * 1024);
  const size = 8 * 1024 * 1024;
  const backend = startBackend((request) => {
    if (new URL(request.url).pathname === "/cookie") {
      return new Response("ok", { headers: { "set-cookie": `big=${cookie}` } });
    }
    return new Response(new Uint8Array(size).fill(120));
  });
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(get("/cookie"));
    const withCookie = await raw.readResponse();
    assertEquals([withCookie.headers.get("set-cookie"), withCookie.body], [`big=${cookie}`, "ok"]);
    await raw.send(get("/download"));
    const download = await raw.readResponse();
    assertEquals(download.body.length, size);
    assert(/^x+$/.test(download.body));
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() forwards a response that ends with the connection", async () => {
  const raw = startRawBackend(async (conn) => {
    await readHeadFrom(conn);
    await conn.write(
      encoder.encode("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end"),
    );
  });
  const t = startTestFront(raw.address);
  const client = await RawClient.connect(t.port);
  try {
    await client.send(get("/close-delimited"));
    const response = await client.readResponse();
    assertEquals([response.status, response.body], [200, "until the end"]);
    assertEquals(t.access.at(-1)?.status, 200);
  } finally {
    client.close();
    await t.front.close();
    await raw.stop();
  }
});

// ------------------------------------------------------- restarts, holds

Deno.test("startFront() holds a request until changed() gives a backend", async () => {
  const t = startTestFront(null);
  const backend = startBackend(echo);
  const client = Deno.createHttpClient({});
  try {
    const pending = fetch(`${t.url}/held`, { client });
    await waitFor(() => t.routeCalls.length === 1, "the held request to be routed");
    t.routeTo(backend);
    const response = await pending;
    assertEquals(await response.text(), "GET /held 0 ");
    assertEquals(t.routeCalls, ["/held", "/held"]);
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() holds a request while the backend refuses connections", async () => {
  const gone = startBackend(echo);
  const goneAddress = gone.address;
  await gone.stop();
  const t = startTestFront(goneAddress);
  const backend = startBackend(echo);
  const client = Deno.createHttpClient({});
  try {
    const pending = fetch(`${t.url}/refused`, { client });
    await waitFor(() => t.routeCalls.length === 1, "the request to be routed");
    t.routeTo(backend);
    assertEquals(await (await pending).text(), "GET /refused 0 ");
  } finally {
    client.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() answers 503 itself when a hold times out", async () => {
  const t = startTestFront(null, { holdTimeoutMs: 100 });
  const client = Deno.createHttpClient({});
  try {
    const response = await fetch(`${t.url}/never`, { client });
    assertEquals(response.status, 503);
    assertEquals(response.headers.get("connection"), "close");
    assert((await response.text()).includes("did not come up in time"));
    assertEquals(t.access.at(-1)?.status, 503);
    assertEquals(t.access.at(-1)?.target, "/never");
  } finally {
    client.close();
    await t.front.close();
  }
});

Deno.test("startFront() moves a keep-alive client from backend A to B between requests", async () => {
  const a = startBackend(() => new Response("A"));
  const b = startBackend(() => new Response("B"));
  const t = startTestFront(a);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(get("/"));
    assertEquals((await raw.readResponse()).body, "A");
    t.routeTo(b);
    await a.stop();
    await raw.send(get("/"));
    assertEquals((await raw.readResponse()).body, "B");
    await raw.send(get("/"));
    assertEquals((await raw.readResponse()).body, "B");
  } finally {
    raw.close();
    await t.front.close();
    await b.stop();
  }
});

Deno.test("Front.changed() drops idle backend connections", async () => {
  let open = 0;
  const raw = startRawBackend(async (conn) => {
    open++;
    try {
      while ((await readHeadFrom(conn)) !== "") {
        await conn.write(encoder.encode("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
      }
    } finally {
      open--;
    }
  });
  const t = startTestFront(raw.address);
  const client = await RawClient.connect(t.port);
  try {
    await client.send(get("/"));
    assertEquals((await client.readResponse()).body, "ok");
    assertEquals(open, 1);
    t.routeTo(raw.address); // the same address, but it may be a new app now
    await waitFor(() => open === 0, "the idle backend connection to close");
    await client.send(get("/"));
    assertEquals((await client.readResponse()).body, "ok");
    assertEquals(raw.connections(), 2);
  } finally {
    client.close();
    await t.front.close();
    await raw.stop();
  }
});

Deno.test("startFront() resends a request when a reused backend connection closed idle", async () => {
  let served = 0;
  const raw = startRawBackend(async (conn) => {
    const head = await readHeadFrom(conn);
    if (head === "") return;
    served++;
    const path = head.split(" ")[1];
    await conn.write(
      encoder.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${path!.length}\r\n\r\n${path}`),
    );
    // The app keeps nothing alive: it closes right after each response,
    // without saying so, like a child that is stopping.
  });
  const t = startTestFront(raw.address);
  const client = await RawClient.connect(t.port);
  try {
    await client.send(get("/first"));
    assertEquals((await client.readResponse()).body, "/first");
    await client.send("POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok");
    assertEquals((await client.readResponse()).body, "/second");
    assertEquals(served, 2);
    assertEquals(raw.connections(), 2);
  } finally {
    client.close();
    await t.front.close();
    await raw.stop();
  }
});

Deno.test("startFront() answers 502 when a fresh backend connection closes unanswered", async () => {
  const raw = startRawBackend(async (conn) => {
    await readHeadFrom(conn);
  });
  const t = startTestFront(raw.address);
  const client = await RawClient.connect(t.port);
  try {
    await client.send(get("/dies"));
    assertEquals((await client.readResponse()).status, 502);
    await client.expectClosed();
    assertEquals(raw.connections(), 1); // the same backend again would not help
  } finally {
    client.close();
    await t.front.close();
    await raw.stop();
  }
});

// ---------------------------------------------------------- bad requests

Deno.test("startFront() answers 400 to garbage and closes", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send("this is not http\r\n\r\n");
    const response = await raw.readResponse();
    assertEquals([response.status, response.headers.get("connection")], [400, "close"]);
    await raw.expectClosed();
    assertEquals(t.access.at(-1)?.status, 400);
    assertEquals(t.routeCalls, []);
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() answers 400 to bad framing: CL with TE, bad length, bad chunk", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  try {
    const bad = [
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
    ];
    for (const text of bad) {
      const raw = await RawClient.connect(t.port);
      try {
        await raw.send(text);
        assertEquals((await raw.readResponse()).status, 400, text);
        await raw.expectClosed();
      } finally {
        raw.close();
      }
    }
  } finally {
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() answers 400 to a bad chunk that arrives after forwarding began", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    await raw.send(
      "POST /late HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    );
    await waitFor(() => t.routeCalls.length === 1, "the request to be forwarded");
    await raw.send("not-hex\r\n");
    assertEquals((await raw.readResponse()).status, 400);
    await raw.expectClosed();
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

Deno.test("startFront() answers 431 to a head over 64 KiB", async () => {
  const backend = startBackend(echo);
  const t = startTestFront(backend);
  const raw = await RawClient.connect(t.port);
  try {
    const huge = `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${"b".repeat(70 * 1024)}\r\n\r\n`;
    await raw.send(huge);
    const response = await raw.readResponse();
    assertEquals(response.status, 431);
    await raw.expectClosed();
    assertEquals(t.routeCalls, []);
  } finally {
    raw.close();
    await t.front.close();
    await backend.stop();
  }
});

// ------------------------------------------------------------ TLS, close

Deno.test("startFront() terminates TLS and forwards plain HTTP", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_front_tls_" });
  try {
    const { cert, key } = await makeSelfSignedCert(dir);
    const backend = startBackend(echo);
    const t = startTestFront(backend, { tls: { cert, key } });
    const client = Deno.createHttpClient({ caCerts: [cert] });
    try {
      const response = await fetch(`https://localhost:${t.port}/secure`, { client });
      assertEquals(await response.text(), "GET /secure 0 ");
      const post = await fetch(`https://localhost:${t.port}/p`, {
        client,
        method: "POST",
        body: "x",
      });
      assertEquals(await post.text(), "POST /p 1 x");
    } finally {
      client.close();
      await t.front.close();
      await backend.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startFront() closes a plain-text connection to its TLS port quietly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_front_tls_" });
  try {
    const { cert, key } = await makeSelfSignedCert(dir);
    const backend = startBackend(echo);
    const t = startTestFront(backend, { tls: { cert, key } });
    const raw = await RawClient.connect(t.port);
    try {
      await raw.send(get("/plain"));
      await raw.readToEnd();
      assertEquals(t.routeCalls, []);
    } finally {
      raw.close();
      await t.front.close(); // asserts that no error was reported
      await backend.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function makeSelfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const certPath = `${dir}/cert.pem`;
  const keyPath = `${dir}/key.pem`;
  const output = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1"],
      ...[
        "-addext",
        "subjectAltName=DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ],
      ...["-keyout", keyPath, "-out", certPath],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(decoder.decode(output.stderr));
  return { cert: await Deno.readTextFile(certPath), key: await Deno.readTextFile(keyPath) };
}

Deno.test("Front.close() ends idle, held, streaming and tunnelled connections", async () => {
  const backend = startBackend((request) => {
    if (request.headers.get("upgrade") === "websocket") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onmessage = () => {};
      return response;
    }
    // A response that never ends by itself.
    return new Response(new ReadableStream({ start: (c) => c.enqueue(encoder.encode("tick")) }));
  });
  let holding = false;
  const t = startTestFront(backend);
  const front = t.front;
  const idle = await RawClient.connect(t.port);
  const streaming = await RawClient.connect(t.port);
  const tunnelled = await RawClient.connect(t.port);
  const held = await RawClient.connect(t.port);
  try {
    await streaming.send(get("/stream"));
    await tunnelled.send(get(
      "/ws",
      "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
    ));
    assertEquals((await tunnelled.readResponse()).status, 101);
    t.routeTo(null);
    holding = true;
    await held.send(get("/held"));
    await waitFor(() => t.routeCalls.includes("/held"), "the held request");
    await front.close();
    // Every client sees its connection end.
    await streaming.readToEnd();
    await tunnelled.readToEnd();
    await idle.expectClosed();
    await held.expectClosed();
    assert(holding);
  } finally {
    for (const raw of [idle, streaming, tunnelled, held]) raw.close();
    await front.close();
    await backend.stop();
  }
});

Deno.test("startFront() throws AddrInUse synchronously when the port is taken", async () => {
  const t = startTestFront(null);
  try {
    let thrown: unknown;
    try {
      startFront({ hostname: HOST, port: t.port, route: () => ({ kind: "hold" }) });
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof Deno.errors.AddrInUse);
  } finally {
    await t.front.close();
  }
});

// ---------------------------------------------------------------- stress

Deno.test("startFront() drops no request while the backend is swapped 20 times under load", async () => {
  let generation = 0;
  const named = (name: number): Backend =>
    startBackend(async (request) => {
      const body = await request.text();
      return new Response(`${name}:${body.length}`);
    });
  let current = named(0);
  const t = startTestFront(current);
  const keepAlive = Deno.createHttpClient({});
  const failures: unknown[] = [];
  const stale: string[] = [];
  const answeredBy = new Map<number, number>(); // generation -> responses
  let running = true;

  const check = (startedAt: number, text: string, sent: number) => {
    const [name, length] = text.split(":").map(Number);
    if (length !== sent) failures.push(new Error(`Body length ${length}, sent ${sent}`));
    if (name! < startedAt) stale.push(`started at ${startedAt}, answered by ${name}`);
    answeredBy.set(name!, (answeredBy.get(name!) ?? 0) + 1);
  };
  const viaFetch = async (worker: number) => {
    for (let i = 0; running; i++) {
      const startedAt = generation;
      const body = i % 2 === 0 ? null : `w${worker}-${i}`;
      try {
        const response = await fetch(`${t.url}/ka`, {
          client: keepAlive,
          method: body === null ? "GET" : "POST",
          body,
        });
        const text = await response.text();
        if (response.status !== 200) failures.push(new Error(`Status ${response.status}: ${text}`));
        else check(startedAt, text, body?.length ?? 0);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  const viaFreshConnections = async () => {
    while (running) {
      const startedAt = generation;
      let raw: RawClient | null = null;
      try {
        raw = await RawClient.connect(t.port);
        await raw.send(
          "POST /fresh HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
        );
        const response = await raw.readResponse();
        if (response.status !== 200) failures.push(new Error(`Status ${response.status}`));
        else check(startedAt, response.body, 3);
      } catch (error) {
        failures.push(error);
      } finally {
        raw?.close();
      }
    }
  };
  const viaFreshClients = async () => {
    while (running) {
      const startedAt = generation;
      const client = Deno.createHttpClient({});
      try {
        const response = await fetch(`${t.url}/fresh-client`, { client });
        check(startedAt, await response.text(), 0);
      } catch (error) {
        failures.push(error);
      } finally {
        client.close();
      }
    }
  };

  const workers = [
    viaFetch(1),
    viaFetch(2),
    viaFetch(3),
    viaFreshConnections(),
    viaFreshConnections(),
    viaFreshClients(),
  ];
  try {
    await waitFor(() => (answeredBy.get(0) ?? 0) > 10, "traffic to the first backend");
    for (let swap = 1; swap <= 20; swap++) {
      if (swap % 2 === 1) {
        // As asked: B is up first, then the route moves, then A stops.
        const next = named(swap);
        t.routeTo(next);
        generation = swap;
        await current.stop();
        current = next;
      } else {
        // As the supervisor restarts: hold, stop A, start B, release.
        t.routeTo(null);
        await current.stop();
        current = named(swap);
        t.routeTo(current);
        generation = swap;
      }
      await waitFor(() => (answeredBy.get(swap) ?? 0) > 20, `traffic to backend ${swap}`);
    }
  } finally {
    running = false;
    await Promise.all(workers);
    keepAlive.close();
    await t.front.close();
    await current.stop();
  }
  assertEquals(failures, []);
  assertEquals(stale, []);
  assertEquals(answeredBy.size, 21);
});
