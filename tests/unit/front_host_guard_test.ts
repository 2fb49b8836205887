/**
 * End-to-end tests of the front with devsrv's Host guard
 * ({@linkcode frontPolicy}): requests with a foreign, missing or doubled
 * Host are refused before any backend sees them, allowed ones pass, and
 * the connection stays open after a refusal when the refused body can be
 * dropped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { exchange, rawRequest, sendRaw, tcpTo } from "../_harness/raw_http.ts";
import { denoBackend, localHost, withFront } from "../_harness/policy_front.ts";
import { guardRequest } from "../../src/security/request_guard.ts";

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
