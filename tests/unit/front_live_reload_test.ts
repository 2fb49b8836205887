/**
 * End-to-end tests of the front adding live reload to HTML page loads
 * ({@linkcode frontPolicy}) from backends that know nothing of it (a bare
 * `Deno.serve`, a `node:http` server, a raw socket writing fixed bytes),
 * while everything else passes byte for byte; and of what a rewriter gets.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  exchange,
  RawClient,
  rawRequest,
  readUntilClosed,
  sendRaw,
  tcpTo,
} from "../_harness/raw_http.ts";
import { missingOutsideCi, waitFor } from "../_harness/devsrv.ts";
import { makeCert } from "../_harness/certs.ts";
import {
  cannedBackend,
  denoBackend,
  htmlResponse,
  INJECTED_PAGE,
  latin1,
  localHost,
  nodeBackend,
  occurrences,
  PAGE,
  pageLoad,
  type PolicyFront,
  SCRIPT_URL,
  TAG,
  withFront,
} from "../_harness/policy_front.ts";
import { CLIENT_PATH } from "../../src/live_reload/paths.ts";
import { frontPolicy } from "../../src/supervisor/front_policy.ts";

const encoder = new TextEncoder();

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
  const cases: [string, string, (t: PolicyFront) => string][] = [
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
      assert.equal(await readUntilClosed(tcpTo(t.port), request(t)), canned, what);
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
    const text = await readUntilClosed(
      tcpTo(t.port),
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
    const client = await RawClient.connect(t.port);
    const conn = client.conn;
    try {
      await client.send(latin1(pageLoad(t, "/download", [["Connection", "close"]])));
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
    const client = await RawClient.connect(t.port);
    const conn = client.conn;
    try {
      await client.send(latin1(pageLoad(t, "/", [["Connection", "close"]])));
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
    const client = await RawClient.connect(t.port);
    const conn = client.conn;
    await client.send(latin1(pageLoad(t)));
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
      const { certPem: cert, keyPem: key } = await makeCert(dir);
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
