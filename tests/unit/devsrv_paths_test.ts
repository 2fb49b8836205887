/**
 * devsrv's own paths (`/__devsrv...`): one check, {@linkcode isDevsrvPath},
 * that the front's rewriter, the reloader's routing and page server and the
 * single process all ask, so they agree on which requests are devsrv's.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isDevsrvPath, isStatusPath } from "../../src/live_reload/paths.ts";
import { singleStatusFilter } from "../../src/serve/single.ts";
import { frontPolicy } from "../../src/supervisor/front_policy.ts";
import { parseRequestHead } from "../../src/front/http1.ts";

Deno.test("isDevsrvPath() takes the prefix in every form of request-target", () => {
  for (
    const target of [
      "/__devsrv",
      "/__devsrv/",
      "/__devsrv?x=1",
      "/__devsrv/events",
      "/__devsrv/client.js?g=3",
      "/__devsrv/anything/else",
      "http://localhost:8000/__devsrv",
      "HTTPS://[::1]:8443/__devsrv/events",
    ]
  ) assert.ok(isDevsrvPath(target), target);
  for (
    const target of [
      "/",
      "/__devsrvx",
      "/__devsrv.json",
      "/app/__devsrv",
      "http://localhost:8000/",
      "http://localhost:8000/app/__devsrv",
      "localhost:8000",
      "*",
      "",
    ]
  ) assert.ok(!isDevsrvPath(target), target);
});

Deno.test("isStatusPath() is the prefix itself, with or without a slash", () => {
  assert.ok(isStatusPath("/__devsrv") && isStatusPath("/__devsrv/"));
  assert.ok(!isStatusPath("/__devsrv/events") && !isStatusPath("/"));
});

Deno.test("singleStatusFilter() answers devsrv's paths as the reloader's page server does", async () => {
  const filter = singleStatusFilter("app.ts", []);
  const get = (path: string) =>
    filter(new Request(`http://localhost:8000${path}`, { headers: { host: "localhost:8000" } }));
  for (const path of ["/__devsrv", "/__devsrv/"]) {
    const response = await get(path);
    assert.equal(response?.status, 200, path);
    await response?.body?.cancel();
  }
  const other = await get("/__devsrv/nothing");
  assert.equal(other?.status, 404);
  await other?.body?.cancel();
  assert.equal(await get("/app"), undefined);
});

Deno.test("frontPolicy()'s rewriter leaves devsrv's own pages alone, in absolute form too", () => {
  const { rewriter } = frontPolicy({ allowedHosts: [], liveReload: true }, () => "/s.js");
  const head = (target: string) => {
    const bytes = new TextEncoder().encode(
      `GET ${target} HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\nSec-Fetch-Dest: document\r\n\r\n`,
    );
    return parseRequestHead(bytes, 0, bytes.length);
  };
  assert.ok(rewriter?.wantsRequest(head("/")));
  assert.ok(!rewriter?.wantsRequest(head("/__devsrv")));
  assert.ok(!rewriter?.wantsRequest(head("http://localhost/__devsrv?x")));
});
