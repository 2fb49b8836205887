/**
 * End-to-end tests of the front refusing requests it cannot forward:
 * garbage, bad framing (before and after forwarding began), a head too
 * large. None of them reaches a backend.
 *
 * @module
 */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { waitFor } from "../_harness/devsrv.ts";
import { RawClient } from "../_harness/raw_http.ts";
import { echo, startBackend, startTestFront } from "../_harness/front.ts";

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
    await waitFor("the request to be forwarded", () => t.routeCalls.length === 1);
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
