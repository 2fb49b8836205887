/**
 * End-to-end tests of the front while its backend comes, goes and is
 * replaced: holds until `changed()`, the hold timeout, moving a keep-alive
 * client to a new backend, resending when a reused backend connection
 * closed idle, 502 when a fresh one closes, and a stress test that swaps
 * the backend 20 times under load.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { waitFor } from "../_harness/devsrv.ts";
import { RawClient } from "../_harness/raw_http.ts";
import {
  type Backend,
  echo,
  get,
  readHeadFrom,
  startBackend,
  startRawBackend,
  startTestFront,
} from "../_harness/front.ts";

const encoder = new TextEncoder();

Deno.test("startFront() holds a request until changed() gives a backend", async () => {
  const t = startTestFront(null);
  const backend = startBackend(echo);
  const client = Deno.createHttpClient({});
  try {
    const pending = fetch(`${t.url}/held`, { client });
    await waitFor("the held request to be routed", () => t.routeCalls.length === 1);
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
    await waitFor("the request to be routed", () => t.routeCalls.length === 1);
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
    await waitFor("the idle backend connection to close", () => open === 0);
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
    await waitFor("traffic to the first backend", () => (answeredBy.get(0) ?? 0) > 10);
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
      await waitFor(`traffic to backend ${swap}`, () => (answeredBy.get(swap) ?? 0) > 20);
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
