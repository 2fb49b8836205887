/**
 * `--cors ORIGIN`: a static directory's files for pages of the named
 * origins only, `*` only when named, preflights answered; tested on the
 * handler in-process and through the real program in both modes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { withCors } from "../../src/static/cors.ts";
import {
  appSource,
  DevsrvProcess,
  fetchText,
  runDevsrv,
  SERVE_MODES,
  withTempDir,
} from "../_harness/devsrv.ts";

const FRONT_END = "http://localhost:5173";
const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  completed: Promise.resolve(),
} as Deno.ServeHandlerInfo<Deno.NetAddr>;

async function call(
  handler: ReturnType<typeof withCors>,
  init: RequestInit,
): Promise<Response> {
  const response = await handler(new Request("http://127.0.0.1:8000/data.json", init), INFO);
  await response.body?.cancel();
  return response;
}

const files = () =>
  new Response('{"ok":true}', { headers: { "content-type": "application/json" } });

Deno.test("withCors() allows the named origins only, each its own", async () => {
  const handler = withCors(files, [FRONT_END, "http://127.0.0.1:3000"]);
  const allowed = await call(handler, { headers: { origin: FRONT_END } });
  assert.equal(allowed.headers.get("access-control-allow-origin"), FRONT_END);
  assert.equal(allowed.headers.get("vary"), "Origin");
  assert.match(allowed.headers.get("access-control-expose-headers") ?? "", /ETag/);
  assert.equal(allowed.headers.get("content-type"), "application/json");
  const upper = await call(handler, { headers: { origin: "http://LOCALHOST:5173" } });
  assert.equal(upper.headers.get("access-control-allow-origin"), "http://LOCALHOST:5173");
  for (const origin of ["http://evil.test", "http://localhost:5174", "null"]) {
    const refused = await call(handler, { headers: { origin } });
    assert.equal(refused.headers.get("access-control-allow-origin"), null, origin);
    assert.equal(refused.headers.get("vary"), "Origin", "caches keep the answers apart");
  }
  const sameOrigin = await call(handler, {});
  assert.equal(sameOrigin.headers.get("access-control-allow-origin"), null);
});

Deno.test("withCors() answers the named origins' preflights, and nobody else's", async () => {
  const handler = withCors(() => new Response("not allowed", { status: 405 }), [FRONT_END]);
  const preflight = {
    method: "OPTIONS",
    headers: {
      origin: FRONT_END,
      "access-control-request-method": "GET",
      "access-control-request-headers": "range, if-none-match",
    },
  };
  const answered = await call(handler, preflight);
  assert.equal(answered.status, 204);
  assert.equal(answered.headers.get("access-control-allow-origin"), FRONT_END);
  assert.equal(answered.headers.get("access-control-allow-methods"), "GET, HEAD");
  assert.equal(answered.headers.get("access-control-allow-headers"), "range, if-none-match");
  const other = await call(handler, {
    ...preflight,
    headers: { ...preflight.headers, origin: "http://evil.test" },
  });
  assert.equal(other.status, 405, "the file server's own answer");
  assert.equal(other.headers.get("access-control-allow-origin"), null);
});

Deno.test("withCors() gives * only when * is named, and nothing when no origin is", async () => {
  const any = await call(withCors(files, ["*"]), { headers: { origin: "http://any.test" } });
  assert.equal(any.headers.get("access-control-allow-origin"), "*");
  assert.equal(any.headers.get("vary"), null);
  assert.equal(withCors(files, []), files, "off by default: the handler itself");
});

for (const mode of SERVE_MODES) {
  Deno.test(`devsrv serve DIR --cors lets the named origin load the files (${mode.name})`, async () => {
    await withTempDir({ "site/data.json": '{"ok":true}\n' }, async (dir) => {
      const server = new DevsrvProcess(
        ["serve", "site", "-p", "0", "--cors", FRONT_END, ...mode.args],
        { cwd: dir },
      );
      try {
        const url = `${await server.url()}/data.json`;
        const allowed = await fetchText(url, { headers: { origin: FRONT_END } });
        assert.equal(allowed.status, 200);
        assert.equal(allowed.body, '{"ok":true}\n');
        assert.equal(allowed.headers.get("access-control-allow-origin"), FRONT_END);
        const other = await fetchText(url, { headers: { origin: "http://localhost:3000" } });
        assert.equal(other.status, 200);
        assert.equal(other.headers.get("access-control-allow-origin"), null);
        const preflight = await fetchText(url, {
          method: "OPTIONS",
          headers: { origin: FRONT_END, "access-control-request-method": "GET" },
        });
        assert.equal(preflight.status, 204);
        assert.equal(preflight.headers.get("access-control-allow-methods"), "GET, HEAD");
        const status = await fetchText(`${await server.url()}/__devsrv`, {
          headers: { origin: FRONT_END, accept: "application/json" },
        });
        assert.equal(
          status.headers.get("access-control-allow-origin"),
          null,
          "devsrv's own endpoints get no CORS headers",
        );
      } finally {
        assert.equal((await server.stop()).code, 0, server.output);
      }
    });
  });
}

Deno.test("devsrv serve DIR sends no CORS headers without --cors", async () => {
  await withTempDir({ "site/data.json": "{}" }, async (dir) => {
    const server = new DevsrvProcess(["serve", "site", "-p", "0"], { cwd: dir });
    try {
      const response = await fetchText(`${await server.url()}/data.json`, {
        headers: { origin: FRONT_END },
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("access-control-allow-origin"), null);
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
    }
  });
});

Deno.test("--cors for a program is one line with exit code 2", async () => {
  await withTempDir({ "app.ts": appSource("hi") }, async (dir) => {
    const { code, output } = await runDevsrv(["serve", "app.ts", "--cors", FRONT_END], dir);
    assert.equal(code, 2, output);
    assert.match(
      output.trim(),
      /^error: --cors applies to a static directory, and "app\.ts" is a program; let the program set Access-Control-Allow-Origin/,
    );
    const fromEnv = await runDevsrv(["serve", "app.ts"], dir, { DEVSRV_CORS: FRONT_END });
    assert.equal(fromEnv.code, 2);
    assert.match(fromEnv.output, /^error: --cors \(from env DEVSRV_CORS\) applies/);
  });
});
