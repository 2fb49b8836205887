/**
 * End-to-end tests of the front keeping a client connection in step across
 * requests: keep-alive with `fetch` and raw sockets, HTTP/1.0, pipelining,
 * responses without a body. Real sockets on 127.0.0.1, real `Deno.serve`
 * backends in this process.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { RawClient } from "../_harness/raw_http.ts";
import { echo, get, HOST, startBackend, startTestFront } from "../_harness/front.ts";

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
    const head = await raw.readResponse("HEAD");
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
    const head = await raw.readResponse("HEAD");
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
