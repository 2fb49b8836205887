/**
 * End-to-end tests of the front's listening socket: TLS terminated in
 * front of a plain backend, a plain-text client on the TLS port, the port
 * already taken, and `Front.close()` ending every kind of connection.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { waitFor } from "../_harness/devsrv.ts";
import { makeCert } from "../_harness/certs.ts";
import { RawClient } from "../_harness/raw_http.ts";
import { echo, get, HOST, startBackend, startTestFront } from "../_harness/front.ts";
import { startFront } from "../../src/front/front.ts";

const encoder = new TextEncoder();

Deno.test("startFront() terminates TLS and forwards plain HTTP", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_front_tls_" });
  try {
    const { certPem: cert, keyPem: key } = await makeCert(dir);
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
    const { certPem: cert, keyPem: key } = await makeCert(dir);
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
    await waitFor("the held request", () => t.routeCalls.includes("/held"));
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
