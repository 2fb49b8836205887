/**
 * End-to-end tests of the front with 1xx responses: `Expect:
 * 100-continue` answered with 100 or with a final response at once, and a
 * WebSocket tunnelled after 101 Switching Protocols.
 *
 * @module
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { RawClient } from "../_harness/raw_http.ts";
import {
  echo,
  HOST,
  readHeadFrom,
  startBackend,
  startRawBackend,
  startTestFront,
} from "../_harness/front.ts";

const encoder = new TextEncoder();

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
