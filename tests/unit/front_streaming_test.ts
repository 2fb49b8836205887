/**
 * End-to-end tests of the front passing bodies on as they come: chunked
 * requests and responses, streamed uploads and downloads, server-sent
 * events, a client hanging up on a stream, large heads and bodies, a body
 * only the close ends, and when `onRequestStart` hears of the head.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { waitFor } from "../_harness/devsrv.ts";
import { RawClient } from "../_harness/raw_http.ts";
import {
  echo,
  get,
  hashBytes,
  readHeadFrom,
  startBackend,
  startRawBackend,
  startTestFront,
} from "../_harness/front.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
    await waitFor("the app to get the request", () => events.includes("app /stream"));
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
    await waitFor("the app's stream to be cancelled", () => appSawIt);
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
