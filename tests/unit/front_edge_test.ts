/**
 * End-to-end tests of what the front does at the edge, with devsrv's own
 * rules ({@linkcode frontPolicy}): the Host guard refuses requests before
 * any backend sees them, and live reload is added to HTML page loads from
 * backends that know nothing of it (a bare `Deno.serve`, a `node:http`
 * server, a raw socket writing fixed bytes), while everything else passes
 * byte for byte. Real sockets on 127.0.0.1 throughout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exchange, rawRequest, sendRaw, tcpTo } from "../_harness/raw_http.ts";
import { missingOutsideCi, waitFor } from "../_harness/devsrv.ts";
import {
  type AccessEntry,
  type Front,
  type FrontOptions,
  startFront,
} from "../../src/front/front.ts";
import { frontPolicy } from "../../src/supervisor/front_policy.ts";
import { CLIENT_PATH } from "../../src/live_reload/paths.ts";
import { guardRequest } from "../../src/security/request_guard.ts";

const HOST = "127.0.0.1";
const SCRIPT_URL = `${CLIENT_PATH}?g=7`;
const TAG = `<script src="${SCRIPT_URL}" defer></script>`;
const PAGE = "<!doctype html><html><head><title>t</title></head><body><h1>hi</h1></body></html>";
const INJECTED_PAGE = PAGE.replace("</body>", `${TAG}</body>`);
const encoder = new TextEncoder();

// ---------------------------------------------------------------- helpers

/** A backend on a free loopback port that counts the requests it got. */
interface Backend {
  readonly port: number;
  /** Request heads received, as latin1 text. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/** A bare `Deno.serve` backend. */
function denoBackend(handler: (request: Request) => Response | Promise<Response>): Backend {
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
async function nodeBackend(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<Backend> {
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
function cannedBackend(response: string, options: { close?: boolean } = {}): Backend {
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
interface TestFront {
  readonly front: Front;
  readonly port: number;
  readonly access: AccessEntry[];
  close(): Promise<void>;
}

function startEdgeFront(
  backend: Backend,
  options: Partial<FrontOptions> & { allowedHosts?: string[]; liveReload?: boolean } = {},
): TestFront {
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
async function withFront(
  backend: Backend | Promise<Backend>,
  body: (t: TestFront, backend: Backend) => Promise<void>,
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

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** Sends one request and reads every byte until the front closes the connection. */
async function rawBytes(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: HOST, port });
  const timer = setTimeout(() => conn.close(), 10_000);
  let text = "";
  try {
    await writeAll(conn, latin1(request));
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += String.fromCharCode(...buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  return text;
}

function localHost(t: TestFront): [string, string] {
  return ["Host", `localhost:${t.port}`];
}

/** A browser's navigation request. */
function pageLoad(t: TestFront, target = "/", extra: [string, string][] = []): string {
  return rawRequest(`GET ${target} HTTP/1.1`, [
    localHost(t),
    ["Accept", "text/html,application/xhtml+xml,*/*;q=0.8"],
    ["Sec-Fetch-Dest", "document"],
    ...extra,
  ]);
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

function htmlResponse(body: BodyInit, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    headers: { "content-type": "text/html; charset=utf-8", ...headers },
  });
}

// ---------------------------------------------------------------- the Host guard

Deno.test("startFront() with frontPolicy() refuses a foreign Host before any backend sees it", async () => {
  await withFront(denoBackend(() => new Response("app")), async (t, backend) => {
    const refused = await sendRaw(
      tcpTo(t.port),
      rawRequest("GET /secret HTTP/1.1", [["Host", "evil.example"], ["Connection", "close"]]),
    );
    assert.equal(refused.status, 403, refused.head);
    assert.match(refused.body, /^Blocked request: host "evil\.example" is not allowed/);
    assert.equal(refused.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.equal(refused.headers.get("x-content-type-options"), "nosniff");
    assert.equal(Number(refused.headers.get("content-length")), refused.body.length);
    assert.deepEqual(backend.requests, []);
    assert.deepEqual(t.access.map((entry) => [entry.method, entry.target, entry.status]), [
      ["GET", "/secret", 403],
    ]);
    assert.equal(t.front.exchanges, 1, "a refusal counts as an exchange (memory release)");
  });
});

Deno.test("startFront() with frontPolicy() answers 400 without Host and with two Host fields", async () => {
  await withFront(denoBackend(() => new Response("app")), async (t, backend) => {
    const none = await sendRaw(tcpTo(t.port), rawRequest("GET / HTTP/1.1", []));
    assert.equal(none.status, 400, none.head);
    assert.match(none.body, /a Host header is required/);
    const old = await sendRaw(tcpTo(t.port), "GET / HTTP/1.0\r\n\r\n");
    assert.equal(old.status, 400, old.head);
    const two = await sendRaw(
      tcpTo(t.port),
      rawRequest("GET / HTTP/1.1", [["Host", "localhost"], ["Host", "evil.example"]]),
    );
    assert.equal(two.status, 400, two.head);
    assert.deepEqual(backend.requests, []);
  });
});

Deno.test("startFront() with frontPolicy() passes allowed hosts, --allowed-host names included", async () => {
  await withFront(denoBackend(() => new Response("app")), async (t, backend) => {
    for (
      const host of [
        "localhost",
        `localhost:${t.port}`,
        `127.0.0.1:${t.port}`,
        `[::1]:${t.port}`,
        "app.localhost",
        "dev.test:8000",
        "api.dev.test",
      ]
    ) {
      const response = await sendRaw(
        tcpTo(t.port),
        rawRequest("GET /ok HTTP/1.1", [["Host", host], ["Connection", "close"]]),
      );
      assert.equal(response.status, 200, `${host}: ${response.head}`);
      assert.equal(response.body, "app");
    }
    assert.equal(backend.requests.length, 7);
  }, { allowedHosts: ["dev.test", ".dev.test"] });
});

Deno.test("startFront() with frontPolicy() judges an absolute-form target's host too", async () => {
  await withFront(denoBackend(() => new Response("app")), async (t, backend) => {
    const response = await sendRaw(
      tcpTo(t.port),
      rawRequest(`GET http://evil.example:${t.port}/ HTTP/1.1`, [localHost(t)]),
    );
    assert.equal(response.status, 403, response.head);
    assert.deepEqual(backend.requests, []);
  });
});

Deno.test("startFront() with frontPolicy() refuses a WebSocket upgrade with a foreign Host", async () => {
  let upgrades = 0;
  const backend = denoBackend((request) => {
    upgrades++;
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = () => {};
    return response;
  });
  await withFront(backend, async (t) => {
    const response = await sendRaw(
      tcpTo(t.port),
      rawRequest("GET /ws HTTP/1.1", [
        ["Host", "evil.example"],
        ["Connection", "Upgrade"],
        ["Upgrade", "websocket"],
        ["Sec-WebSocket-Version", "13"],
        ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
      ]),
    );
    assert.equal(response.status, 403, response.head);
    assert.equal(upgrades, 0);
  });
});

Deno.test("startFront() with frontPolicy() gives guardRequest()'s verdict for every Host", async () => {
  // The same raw requests to a Deno.serve that applies guardRequest itself,
  // and through the front to a backend that would answer anything.
  const judge = denoBackend((request) =>
    guardRequest(request, { allowedHosts: ["dev.test"] }) ?? new Response("passed\n")
  );
  const cases: [string, [string, string][]][] = [
    ["GET /", [["Host", "localhost"]]],
    ["GET /", [["Host", "LocalHost.:8000"]]],
    ["GET /", [["Host", "dev.test"]]],
    ["GET /", [["Host", "evil.example"]]],
    ["GET /", [["Host", "evil.example@localhost"]]],
    ["GET /", [["Host", "localhost evil"]]],
    ["GET /", [["Host", "localhost:99999"]]],
    ["GET /", [["Host", ""]]],
    ["GET /", [["Host", "l\xe9calhost"]]],
    ["GET /", []],
    ["GET http://evil.example/x", [["Host", "localhost"]]],
    ["GET http://localhost/x", [["Host", "localhost"]]],
    ["GET https://localhost/x", []],
    ["GET https://evil.example/x", []],
    ["GET //evil.example/x", [["Host", "localhost"]]],
    ["OPTIONS *", [["Host", "evil.example"]]],
    ["OPTIONS *", [["Host", "localhost"]]],
  ];
  try {
    await withFront(denoBackend(() => new Response("passed\n")), async (t) => {
      for (const [start, headers] of cases) {
        const request = rawRequest(`${start} HTTP/1.1`, [...headers, ["Connection", "close"]]);
        const direct = await sendRaw(tcpTo(judge.port), request);
        const front = await sendRaw(tcpTo(t.port), request);
        const what = `${start} ${JSON.stringify(headers)}`;
        assert.equal(front.status, direct.status, `${what}: ${front.head}`);
        assert.equal(front.body, direct.body, what);
      }
    }, { allowedHosts: ["dev.test"] });
  } finally {
    await judge.stop();
  }
});

Deno.test("startFront() keeps a connection after a refused request whose body it can drop", async () => {
  await withFront(
    denoBackend(async (request) => new Response(`app ${await request.text()}`)),
    async (t, backend) => {
      const evil: [string, string] = ["Host", "evil.example"];
      const responses = await exchange(tcpTo(t.port), [
        rawRequest("GET /1 HTTP/1.1", [localHost(t)]),
        rawRequest("GET /2 HTTP/1.1", [evil]),
        rawRequest("POST /3 HTTP/1.1", [evil, ["Content-Length", "5"]]) + "abcde",
        rawRequest("HEAD /4 HTTP/1.1", [evil]),
        rawRequest("POST /5 HTTP/1.1", [localHost(t), ["Content-Length", "2"], [
          "Connection",
          "close",
        ]]) +
        "ok",
      ]);
      assert.deepEqual(responses.map((r) => r.status), [200, 403, 403, 403, 200]);
      assert.equal(responses[1]!.headers.get("connection"), undefined, "kept alive");
      assert.equal(responses[3]!.body, "", "no body for HEAD");
      assert.equal(
        responses[4]!.body,
        "app ok",
        "the dropped body did not leak into the next request",
      );
      assert.deepEqual(backend.requests, ["GET /1", "POST /5"]);
    },
  );
});

Deno.test("startFront() closes the connection after a refused request it cannot drop", async () => {
  await withFront(denoBackend(() => new Response("app")), async (t, backend) => {
    const evil: [string, string] = ["Host", "evil.example"];
    const next = rawRequest("GET /next HTTP/1.1", [localHost(t)]);
    const refusals = [
      rawRequest("POST /chunked HTTP/1.1", [evil, ["Transfer-Encoding", "chunked"]]) +
      "3\r\nabc\r\n0\r\n\r\n",
      rawRequest("POST /big HTTP/1.1", [evil, ["Content-Length", String(1024 * 1024)]]),
      rawRequest("POST /expect HTTP/1.1", [evil, ["Content-Length", "3"], [
        "Expect",
        "100-continue",
      ]]),
      rawRequest("GET /close HTTP/1.1", [evil, ["Connection", "close"]]),
      "GET /old HTTP/1.0\r\nHost: evil.example\r\n\r\n",
    ];
    for (const refusal of refusals) {
      const responses = await exchange(tcpTo(t.port), [refusal, next]);
      assert.equal(responses.length, 1, `${refusal}: only the refusal is answered`);
      assert.equal(responses[0]!.status, 403);
      assert.equal(responses[0]!.headers.get("connection"), "close");
    }
    assert.deepEqual(backend.requests, []);
  });
});

// ---------------------------------------------------------------- live reload

Deno.test("startFront() with frontPolicy() adds the script to a page from a bare Deno.serve", async () => {
  await withFront(denoBackend(() => htmlResponse(PAGE)), async (t) => {
    const [first, second] = await exchange(tcpTo(t.port), [pageLoad(t), pageLoad(t, "/again")]);
    for (const response of [first!, second!]) {
      assert.equal(response.status, 200, response.head);
      assert.equal(response.body, INJECTED_PAGE);
      assert.equal(Number(response.headers.get("content-length")), INJECTED_PAGE.length);
      assert.equal(response.headers.get("transfer-encoding"), undefined);
      assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    }
    assert.equal(first!.headers.get("connection"), undefined, "kept alive");
    assert.equal(t.access.length, 2);
    assert.equal(t.front.exchanges, 2);
  });
});

Deno.test("startFront() with frontPolicy() adds the script once to a page that already has it", async () => {
  const page = PAGE.replace("</head>", `<script src="${CLIENT_PATH}?g=3"></script></head>`);
  await withFront(denoBackend(() => htmlResponse(page)), async (t) => {
    const response = await sendRaw(tcpTo(t.port), pageLoad(t));
    assert.equal(response.body, page);
    assert.equal(occurrences(response.body, CLIENT_PATH), 1);
  });
});

Deno.test("startFront() with frontPolicy() adds the script to a chunked page from node:http", async () => {
  const backend = nodeBackend((_request, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.write("<!doctype html><html><body><p>");
    response.end("from node</p></body></html>");
  });
  await withFront(backend, async (t, started) => {
    const direct = await sendRaw(tcpTo(started.port), pageLoad(t));
    assert.equal(direct.headers.get("transfer-encoding"), "chunked", "node chunks it");
    const [response, next] = await exchange(tcpTo(t.port), [pageLoad(t), pageLoad(t)]);
    assert.equal(response!.status, 200);
    assert.equal(
      response!.body,
      `<!doctype html><html><body><p>from node</p>${TAG}</body></html>`,
    );
    assert.equal(occurrences(response!.body, CLIENT_PATH), 1);
    assert.equal(next!.body, response!.body, "the connection stays in step");
  });
});

Deno.test("startFront() with frontPolicy() decodes a gzip page, adds the script, sends it plain", async () => {
  const gzip = new Uint8Array(
    await new Response(new Blob([PAGE]).stream().pipeThrough(new CompressionStream("gzip")))
      .arrayBuffer(),
  );
  const backend = denoBackend(() =>
    htmlResponse(gzip, { "content-encoding": "gzip", etag: '"v1"', vary: "Accept-Encoding" })
  );
  await withFront(backend, async (t) => {
    const response = await sendRaw(tcpTo(t.port), pageLoad(t, "/", [["Accept-Encoding", "gzip"]]));
    assert.equal(response.body, INJECTED_PAGE);
    assert.equal(response.headers.get("content-encoding"), undefined);
    assert.equal(response.headers.get("etag"), undefined, "validators of the app's bytes go");
    assert.equal(Number(response.headers.get("content-length")), INJECTED_PAGE.length);
  });
});

Deno.test("startFront() with frontPolicy() forwards everything but page loads of HTML byte for byte", async () => {
  const html = "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nX-Odd:  spaced \r\n" +
    `content-length: ${PAGE.length}\r\n\r\n${PAGE}`;
  const json =
    'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"a": 1}';
  const notModified = 'HTTP/1.1 304 Not Modified\r\ncontent-type: text/html\r\nETag: "v1"\r\n\r\n';
  const chunkedHtml =
    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" +
    `${PAGE.length.toString(16)}\r\n${PAGE}\r\n0\r\n\r\n`;
  const cases: [string, string, (t: TestFront) => string][] = [
    [
      "HTML to fetch() without Sec-Fetch-Dest or Accept text/html",
      html,
      (t) =>
        rawRequest("GET / HTTP/1.1", [localHost(t), ["Accept", "*/*"], ["Connection", "close"]]),
    ],
    [
      "HTML to fetch() with Sec-Fetch-Dest: empty",
      chunkedHtml,
      (t) =>
        rawRequest("GET / HTTP/1.1", [
          localHost(t),
          ["Accept", "text/html"],
          ["Sec-Fetch-Dest", "empty"],
          ["Connection", "close"],
        ]),
    ],
    ["JSON to a page load", json, (t) => pageLoad(t, "/", [["Connection", "close"]])],
    [
      "HTML to HEAD",
      html.slice(0, html.indexOf("\r\n\r\n") + 4),
      (t) =>
        rawRequest("HEAD / HTTP/1.1", [localHost(t), ["Accept", "text/html"], [
          "Connection",
          "close",
        ]]),
    ],
    ["304 to a page load", notModified, (t) => pageLoad(t, "/", [["Connection", "close"]])],
    ["devsrv's own page", html, (t) => pageLoad(t, "/__devsrv", [["Connection", "close"]])],
  ];
  for (const [what, canned, request] of cases) {
    await withFront(cannedBackend(canned), async (t) => {
      assert.equal(await rawBytes(t.port, request(t)), canned, what);
    });
  }
});

Deno.test("startFront() with frontPolicy() adds the script to a page that ends with the connection", async () => {
  const canned = `HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n${PAGE}`;
  await withFront(cannedBackend(canned, { close: true }), async (t, backend) => {
    const [first, second] = await exchange(tcpTo(t.port), [pageLoad(t), pageLoad(t)]);
    for (const response of [first!, second!]) {
      assert.equal(response.body, INJECTED_PAGE);
      // Framed for the client, whose connection serves the second page too.
      assert.ok(
        response.headers.has("content-length") ||
          response.headers.get("transfer-encoding") === "chunked",
        response.head,
      );
      assert.equal(response.headers.get("connection"), undefined, response.head);
    }
    assert.equal(
      backend.requests.length,
      2,
      "one backend connection per page, one client connection",
    );
  });
});

Deno.test("startFront() with frontPolicy() answers 502 when the app closes in the middle of a page", async () => {
  const canned =
    `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n${PAGE}`;
  await withFront(cannedBackend(canned, { close: true }), async (t) => {
    const response = await sendRaw(tcpTo(t.port), pageLoad(t));
    assert.equal(response.status, 502, response.head);
    assert.deepEqual(t.access.map((entry) => entry.status), [502]);
  });
});

Deno.test("startFront() with frontPolicy() answers an HTTP/1.0 page load with a Content-Length", async () => {
  await withFront(denoBackend(() => htmlResponse(PAGE)), async (t) => {
    const text = await rawBytes(
      t.port,
      `GET / HTTP/1.0\r\nHost: localhost\r\nAccept: text/html\r\n\r\n`,
    );
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, new RegExp(`\r\ncontent-length: ${INJECTED_PAGE.length}\r\n`));
    assert.match(text, /\r\nconnection: close\r\n/);
    assert.ok(text.endsWith(`\r\n\r\n${INJECTED_PAGE}`), text);
  });
});

Deno.test("startFront() gives a rewriter the request as the client sent it", async () => {
  const seen: { url: string; accept: string | null; cookie: string | null }[] = [];
  await withFront(denoBackend(() => htmlResponse(PAGE)), async (t) => {
    const response = await sendRaw(
      tcpTo(t.port),
      pageLoad(t, "/a/b?c=1", [["Cookie", "k=v"], ["Connection", "close"]]),
    );
    assert.equal(response.body, "rewritten");
    assert.deepEqual(seen, [{
      url: `http://localhost:${t.port}/a/b?c=1`,
      accept: "text/html,application/xhtml+xml,*/*;q=0.8",
      cookie: "k=v",
    }]);
  }, {
    rewriter: {
      wantsRequest: () => true,
      wantsResponse: () => true,
      rewrite: async (request, response) => {
        seen.push({
          url: request.url,
          accept: request.headers.get("accept"),
          cookie: request.headers.get("cookie"),
        });
        await response.body?.cancel();
        return new Response("rewritten");
      },
    },
  });
});

Deno.test("startFront() with frontPolicy() streams a large non-HTML response to a page load", async () => {
  const CHUNK = 256 * 1024;
  const CHUNKS = 40; // 10 MiB
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const backend = denoBackend(() => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // The rest only once the client has the first piece: a front that
        // buffered the response would never deliver it.
        if (sent === 1) await released;
        controller.enqueue(new Uint8Array(CHUNK).fill(0x61 + (sent % 26)));
        if (++sent === CHUNKS) controller.close();
      },
    });
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  });
  await withFront(backend, async (t) => {
    const conn = await Deno.connect({ hostname: HOST, port: t.port });
    try {
      await writeAll(conn, latin1(pageLoad(t, "/download", [["Connection", "close"]])));
      const buf = new Uint8Array(64 * 1024);
      let received = 0;
      let gotFirst = false;
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        received += n;
        if (!gotFirst && received > CHUNK) {
          gotFirst = true;
          release();
        }
      }
      assert.ok(gotFirst);
      assert.ok(received > CHUNK * CHUNKS, `got ${received} bytes`);
    } finally {
      conn.close();
    }
  });
});

Deno.test("startFront() with frontPolicy() streams a large HTML page as it comes, script included", async () => {
  const PIECE = "<p>" + "x".repeat(16 * 1024) + "</p>";
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const backend = denoBackend(() => {
    let step = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (step === 0) controller.enqueue(encoder.encode(`<!doctype html><body>${PIECE}`));
        else if (step === 1) {
          await released;
          controller.enqueue(encoder.encode(`${PIECE}</body></html>`));
        } else controller.close();
        step++;
      },
    });
    return htmlResponse(body);
  });
  await withFront(backend, async (t) => {
    const conn = await Deno.connect({ hostname: HOST, port: t.port });
    try {
      await writeAll(conn, latin1(pageLoad(t, "/", [["Connection", "close"]])));
      const buf = new Uint8Array(64 * 1024);
      let text = "";
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += String.fromCharCode(...buf.subarray(0, n));
        if (text.includes("xxxxxxxx")) release(); // the first piece arrived alone
      }
      assert.match(text, /\r\ntransfer-encoding: chunked\r\n/);
      const body = text.slice(text.indexOf("\r\n\r\n") + 4).replace(/\r\n[0-9a-f]+\r\n/g, "");
      assert.equal(occurrences(body, CLIENT_PATH), 1);
      assert.ok(body.includes(`${TAG}</body>`));
    } finally {
      conn.close();
    }
  });
});

Deno.test("startFront() with frontPolicy() tells a streaming page's app when the client hangs up", async () => {
  let cancelled = false;
  const backend = denoBackend(() =>
    htmlResponse(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode("<!doctype html><body>" + "x".repeat(20_000)));
        },
        cancel() {
          cancelled = true;
        },
      }),
    )
  );
  await withFront(backend, async (t) => {
    const conn = await Deno.connect({ hostname: HOST, port: t.port });
    await writeAll(conn, latin1(pageLoad(t)));
    const buf = new Uint8Array(64 * 1024);
    let text = "";
    while (!text.includes("xxxx")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += String.fromCharCode(...buf.subarray(0, n));
    }
    conn.close();
    await waitFor("the app's stream to be cancelled", () => cancelled);
  });
});

Deno.test("startFront() with frontPolicy({ liveReload: false }) guards but changes no page", async () => {
  await withFront(denoBackend(() => htmlResponse(PAGE)), async (t) => {
    const response = await sendRaw(tcpTo(t.port), pageLoad(t, "/", [["Connection", "close"]]));
    assert.equal(response.body, PAGE);
    const refused = await sendRaw(tcpTo(t.port), rawRequest("GET / HTTP/1.1", [["Host", "evil"]]));
    assert.equal(refused.status, 403);
  }, { liveReload: false });
});

Deno.test({
  name: "startFront() with frontPolicy() adds the script over TLS, with an https request URL",
  ignore: missingOutsideCi("openssl"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "devsrv_edge_tls_" });
    try {
      const { cert, key } = await selfSignedCert(dir);
      const urls: string[] = [];
      const policy = frontPolicy({ allowedHosts: [], liveReload: true }, () => SCRIPT_URL);
      await withFront(denoBackend(() => htmlResponse(PAGE)), async (t) => {
        const client = Deno.createHttpClient({ caCerts: [cert] });
        try {
          const response = await fetch(`https://localhost:${t.port}/tls`, {
            client,
            headers: { accept: "text/html" },
          });
          assert.equal(await response.text(), INJECTED_PAGE);
          assert.deepEqual(urls, [`https://localhost:${t.port}/tls`]);
        } finally {
          client.close();
        }
      }, {
        tls: { cert, key },
        rewriter: {
          ...policy.rewriter!,
          rewrite: (request, response) => {
            urls.push(request.url);
            return policy.rewriter!.rewrite(request, response);
          },
        },
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function selfSignedCert(dir: string): Promise<{ cert: string; key: string }> {
  const output = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1"],
      ...[
        "-addext",
        "subjectAltName=DNS:localhost",
        "-addext",
        "basicConstraints=critical,CA:FALSE",
      ],
      ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`],
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return {
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}
