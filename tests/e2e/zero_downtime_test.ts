/**
 * The parent owns the port: restarts that never drop a request. A steady
 * stream of requests (keep-alive and a fresh connection each) runs across
 * 20 reloads of the real program.
 *
 * @module
 */

import assert from "node:assert/strict";
import { appSource, DevsrvProcess, fetchText, waitFor, withTempDir } from "../_harness/devsrv.ts";

const RELOADS = 20;

/** One request on a fresh TCP connection with `Connection: close`. */
async function getOnFreshConnection(
  port: number,
  path = "/",
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(16 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((chunk) => [...chunk])));
    const status = Number(text.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    conn.close();
  }
}

function versionOf(body: string): number {
  const match = body.match(/^v(\d+)$/);
  if (!match) throw new Error(`unexpected body "${body}"`);
  return Number(match[1]);
}

Deno.test("no request fails across 20 reloads, keep-alive or not, and none sees old code after a reload", async () => {
  await withTempDir({ "app.ts": appSource("v0") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--quiet"], { cwd: dir });
    try {
      const url = await server.url();
      const port = Number(new URL(url).port);
      await waitFor(
        "v0",
        async () => (await fetchText(url).catch(() => ({ body: "" }))).body === "v0",
      );
      let running = true;
      let latestReady = 0;
      const failures: string[] = [];
      let requests = 0;
      const loop = async (kind: string, get: () => Promise<{ status: number; body: string }>) => {
        let seen = 0;
        while (running) {
          const readyBefore = latestReady;
          try {
            const { status, body } = await get();
            requests++;
            if (status !== 200) {
              failures.push(`${kind}: status ${status} ${body.slice(0, 200)}`);
              continue;
            }
            const version = versionOf(body);
            if (version < seen) failures.push(`${kind}: v${version} after v${seen}`);
            if (version < readyBefore) {
              failures.push(`${kind}: v${version} after v${readyBefore} was served`);
            }
            seen = Math.max(seen, version);
          } catch (error) {
            failures.push(`${kind}: ${error instanceof Error ? error.message : error}`);
          }
        }
      };
      const loops = [
        loop("keep-alive", () => fetchText(url)),
        loop("keep-alive", () => fetchText(url)),
        loop("fresh connection", () => getOnFreshConnection(port)),
        loop("fresh connection", () => getOnFreshConnection(port)),
      ];
      for (let i = 1; i <= RELOADS; i++) {
        await Deno.writeTextFile(`${dir}/app.ts`, appSource(`v${i}`));
        await waitFor(`v${i}`, async () => (await fetchText(url)).body === `v${i}`);
        latestReady = i;
      }
      running = false;
      await Promise.all(loops);
      assert.deepEqual(failures, [], `${failures.length} failures of ${requests} requests`);
      assert.ok(requests > RELOADS * 4, `only ${requests} requests`);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});

Deno.test("an in-flight slow request survives a reload", async () => {
  const app = (version: string) =>
    `export default { async fetch(req) {
  if (new URL(req.url).pathname === "/slow") { await new Promise((r) => setTimeout(r, 400)); return new Response("slow ${version}"); }
  return new Response("${version}");
} };
`;
  await withTempDir({ "app.ts": app("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
    try {
      const url = await server.url();
      await waitFor(
        "v1",
        async () => (await fetchText(url).catch(() => ({ body: "" }))).body === "v1",
      );
      const slow = fetchText(`${url}/slow`);
      await server.waitForOutput(/GET \/ 200/);
      await Deno.writeTextFile(`${dir}/app.ts`, app("v2"));
      const finished = await slow;
      assert.equal(finished.status, 200);
      assert.equal(finished.body, "slow v1");
      await waitFor("v2", async () => (await fetchText(url)).body === "v2");
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});

const STREAMING_APP = `export default { fetch(req) {
  const path = new URL(req.url).pathname;
  if (path === "/ws") {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (event) => socket.send("echo " + event.data);
    return response;
  }
  if (path === "/sse") {
    let n = 0;
    let timer;
    const body = new ReadableStream({
      start(controller) {
        timer = setInterval(() => {
          controller.enqueue(new TextEncoder().encode("data: tick " + (++n) + "\\n\\n"));
          if (n === 3) { clearInterval(timer); controller.close(); }
        }, 20);
      },
      cancel() { clearInterval(timer); },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }
  if (path === "/upload") return req.arrayBuffer().then((b) => new Response(String(b.byteLength)));
  return new Response("ok");
} };
`;

Deno.test("WebSocket, server-sent events and a large upload pass through the parent", async () => {
  await withTempDir({ "app.ts": STREAMING_APP }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--quiet"], { cwd: dir });
    try {
      const url = await server.url();
      await waitFor(
        "ok",
        async () => (await fetchText(url).catch(() => ({ body: "" }))).body === "ok",
      );
      const socket = new WebSocket(`${url.replace("http", "ws")}/ws`);
      let reply: string | undefined;
      let failed = false;
      socket.onopen = () => socket.send("hello");
      socket.onmessage = (event) => reply = String(event.data);
      socket.onerror = () => failed = true;
      await waitFor("the WebSocket echo", () => {
        if (failed) throw new Error("the WebSocket failed");
        return reply;
      });
      assert.equal(reply, "echo hello");
      let closed = socket.readyState === WebSocket.CLOSED;
      socket.onclose = () => closed = true;
      socket.close();
      await waitFor("the WebSocket to close", () => closed);
      const sse = await fetchText(`${url}/sse`);
      assert.equal(sse.body, "data: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n");
      const upload = await fetchText(`${url}/upload`, {
        method: "POST",
        body: new Uint8Array(20 * 1024 * 1024),
      });
      assert.equal(upload.body, String(20 * 1024 * 1024));
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});

const SILENT_STREAM_APP = `let open = 0;
export default { fetch(req) {
  if (new URL(req.url).pathname === "/open") return new Response(String(open));
  open++;
  req.signal.addEventListener("abort", () => open--);
  const body = new ReadableStream({
    start(controller) { controller.enqueue(new TextEncoder().encode("data: hello\\n\\n")); },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
} };
`;

Deno.test("a client that hangs up on a silent stream aborts the app's request through the parent", async () => {
  await withTempDir({ "app.ts": SILENT_STREAM_APP }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--quiet"], { cwd: dir });
    try {
      const url = await server.url();
      const port = Number(new URL(url).port);
      await waitFor(
        "the app",
        async () => (await fetchText(`${url}/open`).catch(() => null))?.status === 200,
      );
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode(`GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n`));
      let text = "";
      const buffer = new Uint8Array(4096);
      while (!text.includes("data: hello")) {
        const n = await conn.read(buffer);
        assert.ok(n !== null, "the stream ended early");
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
      assert.equal((await fetchText(`${url}/open`)).body, "1");
      conn.close();
      // The app writes nothing more: only the parent reading the client can tell it.
      await waitFor(
        "the app to see the hang-up",
        async () => (await fetchText(`${url}/open`)).body === "0",
        3000,
      );
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});

Deno.test("the port is bound before any child starts", async () => {
  await withTempDir(
    { "app.ts": "await new Promise(() => {}); export default {};\n" },
    async (dir) => {
      // The app never finishes loading, yet the port answers: requests are held.
      const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
      try {
        const url = await server.url();
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(url).port) });
        conn.close();
        assert.equal(
          (await fetchText(`${url}/__devsrv`, { headers: { accept: "application/json" } })).status,
          200,
        );
      } finally {
        assert.equal((await server.stop()).code, 0);
      }
    },
  );
});
