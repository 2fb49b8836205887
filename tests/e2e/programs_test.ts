/**
 * Programs that start their own server, run unchanged: `Deno.serve` in its
 * call forms, Hono through `Deno.serve(app.fetch)`, Express through
 * `app.listen(port)`. Each is served through the parent on the port the
 * program asked for, reloads under a steady stream of requests without a
 * failure, leaves nothing behind, and runs with `--no-reload` too.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  childPids,
  DevsrvProcess,
  fetchText,
  freePort,
  listeningPids,
  processIsAlive,
  waitFor,
  waitForAppIdle,
  withTempDir,
} from "../_harness/devsrv.ts";
import { rawRequest, sendRaw, tcpTo } from "../_harness/raw_http.ts";

/** Pinned frameworks from npm, as a user would import them. */
const HONO = "npm:hono@4.13.19";
const EXPRESS = "npm:express@5.3.0";

/** A program under test: its source for a version and port, and extra devsrv arguments. */
interface Program {
  name: string;
  source(version: string, port: number): string;
  /** devsrv's arguments after the entry; the program's own port otherwise. */
  args?(port: number): string[];
}

const PROGRAMS: Program[] = [
  {
    name: "Deno.serve(handler)",
    source: (version) => `Deno.serve((_req) => new Response("${version}"));\n`,
    args: (port) => ["--port", String(port)],
  },
  {
    name: "Deno.serve({ port, hostname, onListen }, handler) awaiting server.finished",
    source: (version, port) =>
      `const server = Deno.serve({
  port: ${port},
  hostname: "0.0.0.0",
  onListen: (addr) => console.log("onListen " + JSON.stringify(addr)),
}, () => new Response("${version}"));
console.log("addr " + JSON.stringify(server.addr));
await server.finished;
`,
  },
  {
    name: "Hono through Deno.serve(app.fetch)",
    source: (version, port) =>
      `import { Hono } from "${HONO}";
const app = new Hono();
app.get("/", (c) => c.text("${version}"));
Deno.serve({ port: ${port} }, app.fetch);
`,
  },
  {
    name: "Express through app.listen(port)",
    source: (version, port) =>
      `import express from "${EXPRESS}";
const app = express();
app.get("/", (_req, res) => { res.send("${version}"); });
const server = app.listen(${port}, () => console.log("listening " + JSON.stringify(server.address())));
`,
  },
];

async function bodyAt(url: string): Promise<string> {
  try {
    return (await fetchText(url)).body;
  } catch (error) {
    if (error instanceof TypeError) return ""; // not listening yet
    throw error;
  }
}

/** Requests in a steady loop until stopped; every failure is recorded. */
function requestLoop(url: string, loops: number) {
  let running = true;
  let requests = 0;
  const failures: string[] = [];
  const tasks = Array.from({ length: loops }, async () => {
    while (running) {
      try {
        const { status, body } = await fetchText(url);
        requests++;
        if (status !== 200) failures.push(`status ${status}: ${body.slice(0, 200)}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(tasks);
      return { requests, failures };
    },
  };
}

async function stopAndCheck(server: DevsrvProcess): Promise<void> {
  const status = await server.stop();
  assert.equal(status.code, 0, `exit code, output:\n${server.output}`);
  for (const pid of childPids(server.output)) {
    assert.ok(!processIsAlive(pid), `child ${pid} outlived the parent`);
  }
}

for (const program of PROGRAMS) {
  Deno.test(`${program.name}: served through the parent on its port, reloads without a failed request`, async () => {
    const port = freePort();
    await withTempDir({ "main.ts": program.source("v1", port) }, async (dir) => {
      const server = new DevsrvProcess(["serve", "main.ts", ...(program.args?.(port) ?? [])], {
        cwd: dir,
      });
      try {
        await server.waitForOutput(new RegExp(`Running on http://127\\.0\\.0\\.1:${port} `), {
          timeoutMs: 60_000,
        });
        const url = `http://127.0.0.1:${port}/`;
        await waitFor("v1", async () => await bodyAt(url) === "v1", 60_000);
        const children = childPids(server.output);
        assert.deepEqual(
          listeningPids(port, [server.process.pid, ...children]),
          [server.process.pid],
          "the parent, not a child, listens on the public port",
        );
        const loop = requestLoop(url, 4);
        await Deno.writeTextFile(`${dir}/main.ts`, program.source("v2", port));
        await waitFor("v2", async () => await bodyAt(url) === "v2", 30_000);
        const { requests, failures } = await loop.stop();
        assert.deepEqual(failures, [], `${failures.length} of ${requests} requests failed`);
        assert.ok(requests > 0);
      } finally {
        await stopAndCheck(server);
      }
    });
  });

  Deno.test(`${program.name}: --no-reload serves it from one process`, async () => {
    const port = freePort();
    await withTempDir({ "main.ts": program.source("v1", port) }, async (dir) => {
      const server = new DevsrvProcess(
        ["serve", "main.ts", "--no-reload", ...(program.args?.(port) ?? [])],
        { cwd: dir },
      );
      try {
        await server.waitForOutput(new RegExp(`Running on http://127\\.0\\.0\\.1:${port} `), {
          timeoutMs: 60_000,
        });
        assert.equal(await bodyAt(`http://127.0.0.1:${port}/`), "v1");
        const single = server.output.match(/single process pid (\d+)/);
        assert.ok(single, server.output);
        assert.deepEqual(listeningPids(port, [Number(single[1])]), [Number(single[1])]);
      } finally {
        assert.equal((await server.stop()).code, 0, server.output);
      }
    });
  });
}

for (const end of ["SIGTERM to devsrv", "the program exiting by itself"]) {
  Deno.test(`--no-reload ends with ${end}, its subprocess too, though it holds the output pipes`, async () => {
    const port = freePort();
    const source = `const sleeper = new Deno.Command("sleep", { args: ["300"] }).spawn();
console.log("sleeper " + sleeper.pid);
Deno.serve({ port: ${port} }, (request) => {
  if (new URL(request.url).pathname === "/exit") setTimeout(() => Deno.exit(0), 10);
  return new Response("ok");
});
`;
    await withTempDir({ "main.ts": source }, async (dir) => {
      const server = new DevsrvProcess(["serve", "main.ts", "--no-reload"], { cwd: dir });
      let sleeper = 0;
      try {
        await server.waitForOutput(/Running on http/, { timeoutMs: 60_000 });
        sleeper = Number((await server.waitForOutput(/sleeper (\d+)/))[1]);
        assert.equal(await bodyAt(`http://127.0.0.1:${port}/`), "ok");
        if (end === "SIGTERM to devsrv") server.kill("SIGTERM");
        else await fetchText(`http://127.0.0.1:${port}/exit`);
        await waitFor("devsrv's exit", async () => {
          const status = await Promise.race([
            server.finished(),
            new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)),
          ]);
          return status !== undefined;
        });
        await waitFor("the subprocess's end", () => !processIsAlive(sleeper));
      } finally {
        server.kill("SIGKILL");
        await server.finished();
        if (sleeper && processIsAlive(sleeper)) Deno.kill(sleeper, "SIGKILL");
      }
    });
  });
}

Deno.test("the program sees the public address: onListen, server.addr, server.address()", async () => {
  const port = freePort();
  const denoServe = PROGRAMS[1]!.source("v1", port);
  const express = PROGRAMS[3]!.source("v1", port + 0);
  for (const source of [denoServe, express]) {
    await withTempDir({ "main.ts": source }, async (dir) => {
      const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
      try {
        await server.waitForOutput(/Child pid \d+ .*ready in/, { timeoutMs: 60_000 });
        const shown = await server.waitForOutput(/(onListen|addr|listening) (\{.*\})/);
        const address = JSON.parse(shown[2]!);
        assert.equal(address.port, port);
        assert.equal(address.hostname ?? address.address, "127.0.0.1");
      } finally {
        await stopAndCheck(server);
      }
    });
  }
});

Deno.test("a program asking for 0.0.0.0 is served on loopback only, and one line says so", async () => {
  const port = freePort();
  await withTempDir({ "main.ts": PROGRAMS[1]!.source("v1", port) }, async (dir) => {
    const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
    try {
      await server.waitForOutput(
        /main\.ts asks for 0\.0\.0\.0; devsrv serves it on 127\.0\.0\.1 only \(use --host 0\.0\.0\.0/,
        { timeoutMs: 30_000 },
      );
      const listeners = Deno.readTextFileSync("/proc/net/tcp").split("\n")
        .filter((line) => line.includes(`:${port.toString(16).toUpperCase().padStart(4, "0")} `))
        .map((line) => line.trim().split(/\s+/)[1]);
      assert.ok(listeners.every((local) => local?.startsWith("0100007F:")), String(listeners));
    } finally {
      await stopAndCheck(server);
    }
  });
});

Deno.test("a program with two servers gets two public ports, and both reload", async () => {
  const [api, admin] = [freePort(), freePort()];
  const source = (version: string) =>
    `Deno.serve({ port: ${api} }, () => new Response("api ${version}"));
Deno.serve({ port: ${admin} }, () => new Response("admin ${version}"));
`;
  await withTempDir({ "main.ts": source("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
    try {
      for (const [port, name] of [[api, "api"], [admin, "admin"]] as const) {
        await waitFor(
          `${name} v1`,
          async () => await bodyAt(`http://127.0.0.1:${port}/`) === `${name} v1`,
          30_000,
        );
      }
      await Deno.writeTextFile(`${dir}/main.ts`, source("v2"));
      for (const [port, name] of [[api, "api"], [admin, "admin"]] as const) {
        await waitFor(
          `${name} v2`,
          async () => await bodyAt(`http://127.0.0.1:${port}/`) === `${name} v2`,
        );
      }
      assert.deepEqual(listeningPids(admin, [server.process.pid]), [server.process.pid]);
    } finally {
      await stopAndCheck(server);
    }
  });
});

Deno.test("the project's deno.json applies: its import map is used, and an edit to it reloads", async () => {
  const port = freePort();
  const config = (version: string) => JSON.stringify({ imports: { lib: `./${version}/lib.ts` } });
  await withTempDir({
    "deno.json": config("v1"),
    "v1/lib.ts": 'export const text = "lib v1";\n',
    "v2/lib.ts": 'export const text = "lib v2";\n',
    "main.ts":
      `import { text } from "lib";\nDeno.serve({ port: ${port} }, () => new Response(text));\n`,
  }, async (dir) => {
    // devsrv's own deno.json is elsewhere; the program's is the one that applies.
    const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
    try {
      const url = `http://127.0.0.1:${port}/`;
      await waitFor("lib v1", async () => await bodyAt(url) === "lib v1", 30_000);
      await Deno.writeTextFile(`${dir}/deno.json`, config("v2"));
      await waitFor("lib v2", async () => await bodyAt(url) === "lib v2");
    } finally {
      await stopAndCheck(server);
    }
    const lock = await Deno.readTextFile(`${dir}/deno.lock`).catch(() => "");
    assert.doesNotMatch(
      lock,
      /mime|puppeteer/,
      "devsrv's own dependencies stay out of the app's lock",
    );
  });
});

Deno.test("import.meta.main is true in the program, as under deno run", async () => {
  const port = freePort();
  await withTempDir({
    "main.ts": `if (import.meta.main) Deno.serve({ port: ${port} }, () => new Response("main"));\n`,
  }, async (dir) => {
    const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
    try {
      await waitFor(
        "main",
        async () => await bodyAt(`http://127.0.0.1:${port}/`) === "main",
        30_000,
      );
    } finally {
      await stopAndCheck(server);
    }
  });
});

Deno.test("a program that starts no server gets one clear line and a 503 page with the shapes that work", async () => {
  const port = freePort();
  await withTempDir(
    { "main.ts": 'export const answer = 42;\nconsole.log("done");\n' },
    async (dir) => {
      const server = new DevsrvProcess(["serve", "main.ts", "--port", String(port)], { cwd: dir });
      try {
        await server.waitForOutput(
          /failed: app "main\.ts" starts no server and exports no request handler \(its exports: answer\); start a server/,
          { timeoutMs: 30_000 },
        );
        const page = await fetchText(`http://127.0.0.1:${port}/`);
        assert.equal(page.status, 503);
        assert.match(page.body, /starts no server/);
        assert.match(page.body, /Deno\.serve\(handler\)/);
      } finally {
        await stopAndCheck(server);
      }
    },
  );
});

Deno.test("a program still evaluating without a server gets one notice after 10 s; one that has loaded gets the failure instead; both are served once they start", async () => {
  const port = freePort();
  const loadedPort = freePort();
  const untilGo = `new Promise<void>((resolve) => {
  const poll = setInterval(() => {
    try {
      Deno.statSync("go");
      clearInterval(poll);
      resolve();
    } catch { /* not yet */ }
  }, 20);
})`;
  await withTempDir(
    {
      // A top-level await that outlasts the notice: the load event never comes before it.
      "main.ts": `await ${untilGo};\nDeno.serve((_req) => new Response("late server"));\n`,
      // Loaded at once; its server comes later, from a timer.
      "loaded.ts": `${untilGo}.then(() => Deno.serve((_req) => new Response("later server")));\n`,
    },
    async (dir) => {
      const server = new DevsrvProcess(["serve", "main.ts", "--port", String(port)], { cwd: dir });
      const loaded = new DevsrvProcess(["serve", "loaded.ts", "--port", String(loadedPort)], {
        cwd: dir,
      });
      try {
        await server.waitForOutput(
          /main\.ts has started no server after 10 s; devsrv serves it once it does \(start a server/,
          { timeoutMs: 30_000 },
        );
        await loaded.waitForOutput(/failed: app "loaded\.ts" starts no server/, {
          timeoutMs: 30_000,
        });
        await Deno.writeTextFile(`${dir}/go`, "");
        await waitFor("the late server's answer", async () => {
          const page = await fetchText(`http://127.0.0.1:${port}/`);
          return page.status === 200 && page.body === "late server";
        });
        await waitFor("the later server's answer", async () => {
          const page = await fetchText(`http://127.0.0.1:${loadedPort}/`);
          return page.status === 200 && page.body === "later server";
        });
        assert.equal(server.output.match(/has started no server/g)?.length, 1);
        assert.doesNotMatch(loaded.output, /has started no server/);
      } finally {
        await Promise.all([stopAndCheck(server), stopAndCheck(loaded)]);
      }
    },
  );
});

Deno.test("an Express app behind the parent is guarded and its pages get the live-reload client", async () => {
  const port = freePort();
  const source = `import express from "${EXPRESS}";
const app = express();
app.get("/", (_req, res) => { res.type("html").send("<!doctype html><html><body><h1>express page</h1></body></html>"); });
app.listen(${port});
`;
  await withTempDir({ "main.ts": source }, async (dir) => {
    const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
    try {
      const url = `http://127.0.0.1:${port}/`;
      await waitFor("the page", async () => (await bodyAt(url)).includes("express page"), 60_000);
      const page = await fetchText(url, { headers: { "sec-fetch-dest": "document" } });
      assert.match(
        page.body,
        /<script src="\/__devsrv\/client\.js\?g=\d+" defer><\/script><\/body>/,
      );
      assert.equal(
        Number(page.headers.get("content-length")),
        new TextEncoder().encode(page.body).length,
      );
      const refused = await sendRaw(
        tcpTo(port),
        rawRequest("GET / HTTP/1.1", [["Host", "evil.example"], ["Connection", "close"]]),
      );
      assert.equal(refused.status, 403);
      assert.match(refused.body, /host "evil\.example" is not allowed/);
    } finally {
      await stopAndCheck(server);
    }
  });
});

Deno.test("a program that stops its server and serves again on the same port keeps it (Deno.serve and node:http)", async () => {
  const [deno, node] = [freePort(), freePort()];
  // Each program restarts its own server when its control path is asked.
  const programs = {
    "deno.ts": `let s = Deno.serve({ port: ${deno} }, async (req) => {
  if (new URL(req.url).pathname !== "/again") return new Response("first");
  queueMicrotask(async () => { await s.shutdown(); s = Deno.serve({ port: ${deno} }, () => new Response("second")); });
  return new Response("restarting");
});
`,
    "node.ts": `import http from "node:http";
let s = http.createServer((req, res) => {
  if (req.url !== "/again") return res.end("first");
  res.end("restarting", () => s.close(() => { s = http.createServer((_q, r) => r.end("second")).listen(${node}); }));
  s.closeIdleConnections();
}).listen(${node});
`,
  };
  for (const [name, port] of [["deno.ts", deno], ["node.ts", node]] as const) {
    await withTempDir({ [name]: programs[name] }, async (dir) => {
      const server = new DevsrvProcess(["serve", name], { cwd: dir });
      try {
        const url = `http://127.0.0.1:${port}`;
        await waitFor("first", async () => await bodyAt(`${url}/`) === "first", 30_000);
        await bodyAt(`${url}/again`);
        await waitFor("second", async () => await bodyAt(`${url}/`) === "second");
        assert.doesNotMatch(server.output, /AddrInUse|EADDRINUSE|in use/);
      } finally {
        await stopAndCheck(server);
      }
    });
  }
});

/** Waits for a devsrv that is expected to end by itself, with a deadline. */
async function exitOf(server: DevsrvProcess, timeoutMs = 60_000): Promise<Deno.CommandStatus> {
  let status: Deno.CommandStatus | undefined;
  const finished = server.finished().then((done) => status = done);
  try {
    await waitFor(`devsrv to exit, output:\n${server.output}`, () => status, timeoutMs);
  } finally {
    server.kill("SIGKILL");
    await finished;
  }
  return status!;
}

/** The processes whose working directory is `dir` (Linux): what a test's devsrv left behind. */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readLinkSync(`/proc/${entry.name}/cwd`) === dir) pids.push(Number(entry.name));
    } catch (error) {
      if (
        !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied)
      ) {
        throw error;
      }
    }
  }
  return pids.filter(processIsAlive);
}

const TAKEN_PORT_PROGRAMS = {
  "Deno.serve": (port: number) => `Deno.serve({ port: ${port} }, () => new Response("x"));\n`,
  "node:http": (port: number) =>
    `import http from "node:http";\nhttp.createServer((_q, r) => r.end("x")).listen(${port});\n`,
};

for (const [api, source] of Object.entries(TAKEN_PORT_PROGRAMS)) {
  Deno.test(`a program whose port is taken (${api}) gets the one line of --port and exit code 1`, async () => {
    const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (other.addr as Deno.NetAddr).port;
    try {
      await withTempDir({ "main.ts": source(port) }, async (dir) => {
        const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
        const status = await exitOf(server);
        assert.equal(status.code, 1, server.output);
        const errors = server.output.split("\n").filter((line) => /error/i.test(line));
        assert.deepEqual(errors, [
          `error: port ${port} is already in use on 127.0.0.1; stop the other server or pick another port, e.g. "--port ${
            port + 1
          }" (or "--port 0" for any free port)`,
        ]);
        assert.doesNotMatch(server.output, /Uncaught|captured_servers|threw while loading|8000/);
        await waitFor("no process left", () => processesIn(dir).length === 0, 5_000);
      });
    } finally {
      other.close();
    }
  });
}

Deno.test("a program that catches AddrInUse itself tries the next port; the error points at its own call", async () => {
  const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = (other.addr as Deno.NetAddr).port;
  const source = `let port = ${taken};
for (;;) {
  try {
    Deno.serve({ port }, () => new Response("next port"));
    break;
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.log("taken " + error.stack.split("\\n")[1].trim());
    port++;
  }
}
`;
  try {
    await withTempDir({ "main.ts": source }, async (dir) => {
      const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
      try {
        const url = await server.url();
        assert.equal((await fetchText(url)).body, "next port");
        assert.match(server.output, /taken at file:\/\/\/.*\/main\.ts:4:10/);
      } finally {
        await stopAndCheck(server);
      }
    });
  } finally {
    other.close();
  }
});

Deno.test("a later version that asks for a taken port is a failed start: the one line, the 503 page, then a fix serves", async () => {
  const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const taken = (other.addr as Deno.NetAddr).port;
  const port = freePort();
  const first = `Deno.serve({ port: ${port} }, () => new Response("v1"));\n`;
  try {
    await withTempDir({ "main.ts": first }, async (dir) => {
      const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
      try {
        const url = `http://127.0.0.1:${port}/`;
        await waitFor("v1", async () => await bodyAt(url) === "v1", 30_000);
        await waitForAppIdle(`http://127.0.0.1:${port}`);
        await Deno.writeTextFile(
          `${dir}/main.ts`,
          `${first}Deno.serve({ port: ${taken} }, () => new Response("admin"));\n`,
        );
        await server.waitForOutput(
          new RegExp(`failed: port ${taken} is already in use on 127\\.0\\.0\\.1; stop the other`),
          { timeoutMs: 30_000 },
        );
        const page = await fetchText(url);
        assert.equal(page.status, 503);
        assert.match(server.output, /change the port this server asks for in the program/);
        assert.doesNotMatch(server.output, /Uncaught|captured_servers/);
        await Deno.writeTextFile(`${dir}/main.ts`, first.replace("v1", "v2"));
        await waitFor("v2", async () => await bodyAt(url) === "v2", 30_000);
      } finally {
        await stopAndCheck(server);
      }
    });
  } finally {
    other.close();
  }
});

Deno.test("every module deno run runs is an entry: .cjs, .cts, .mts, .mjs, .jsx, .tsx and a script without an extension", async () => {
  const denoServe = (name: string) =>
    `Deno.serve({ port: Number(Deno.env.get("APP_PORT")) }, () => new Response("${name}"));\n`;
  const commonJs = (name: string) =>
    `require("node:http").createServer((_q, r) => r.end("${name}")).listen(Number(process.env.APP_PORT));\n`;
  const entries: Record<string, string> = {
    "app.cjs": commonJs("app.cjs"),
    "app.cts": commonJs("app.cts"),
    "app.mts": denoServe("app.mts"),
    "app.mjs": denoServe("app.mjs"),
    "app.jsx": denoServe("app.jsx"),
    "app.tsx": denoServe("app.tsx"),
    "server": `#!/usr/bin/env -S deno run -A\n${denoServe("server")}`,
  };
  await withTempDir(entries, async (dir) => {
    for (const entry of Object.keys(entries)) {
      const port = freePort();
      const server = new DevsrvProcess(["serve", entry], {
        cwd: dir,
        env: { APP_PORT: String(port) },
      });
      try {
        const url = `http://127.0.0.1:${port}/`;
        await waitFor(`${entry} served`, async () => await bodyAt(url) === entry, 30_000);
      } finally {
        await stopAndCheck(server);
      }
    }
  });
});

const UNIX_SOCKET_PROGRAMS = {
  "Deno.serve({ path })": (path: string, version: string) =>
    `Deno.serve({ path: ${JSON.stringify(path)} }, () => new Response("${version}"));\n`,
  "node:http listen(path)": (path: string, version: string) =>
    `import http from "node:http";\nhttp.createServer((_q, r) => r.end("${version}")).listen(${
      JSON.stringify(path)
    });\n`,
  "node:http listen({ path })": (path: string, version: string) =>
    `import http from "node:http";\nhttp.createServer((_q, r) => r.end("${version}")).listen({ path: ${
      JSON.stringify(path)
    } });\n`,
};

/** The body a server on a Unix socket answers with, or "" while none listens there. */
async function bodyOverSocket(path: string): Promise<string> {
  try {
    const request = rawRequest("GET / HTTP/1.1", [["Host", "localhost"], ["Connection", "close"]]);
    return (await sendRaw(() => Deno.connect({ transport: "unix", path }), request)).body;
  } catch (error) {
    // No server there yet, or the old one closing: not fronted, a restart is not hidden.
    const lost = error instanceof Error && error.message.startsWith("no response");
    if (
      lost || error instanceof Deno.errors.NotFound ||
      error instanceof Deno.errors.ConnectionRefused ||
      error instanceof Deno.errors.ConnectionReset
    ) {
      return "";
    }
    throw error;
  }
}

for (const [api, source] of Object.entries(UNIX_SOCKET_PROGRAMS)) {
  Deno.test(`a Unix-socket server (${api}) runs as under deno run, is said to be not fronted, and reloads on the same path`, async () => {
    await withTempDir({}, async (dir) => {
      const path = `${dir}/app.sock`;
      await Deno.writeTextFile(`${dir}/main.ts`, source(path, "v1"));
      // --port 0 for devsrv's own pages (/__devsrv): the program has no TCP port.
      const server = new DevsrvProcess(["serve", "main.ts", "-p", "0"], { cwd: dir });
      try {
        const url = await server.url();
        await waitFor("v1 on the socket", async () => await bodyOverSocket(path) === "v1", 30_000);
        await server.waitForOutput(
          /main\.ts serves on the Unix socket .*app\.sock; devsrv does not front Unix-socket servers/,
        );
        // The child counts as running: ready, not "starts no server".
        await server.waitForOutput(/Child pid \d+ .*serving main\.ts · ready in/);
        await waitForAppIdle(url);
        await Deno.writeTextFile(`${dir}/main.ts`, source(path, "v2"));
        await waitFor("v2 on the same socket", async () => await bodyOverSocket(path) === "v2");
        assert.doesNotMatch(server.output, /starts no server|AddrInUse|EADDRINUSE/);
        assert.equal(server.output.match(/does not front/g)?.length, 1, server.output);
      } finally {
        await stopAndCheck(server);
      }
    });
  });
}
