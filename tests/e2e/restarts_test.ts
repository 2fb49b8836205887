/**
 * A reload never waits and never hangs: open streams end at once, an app's
 * subprocesses end with it, its own shutdown runs to the end, uploads in
 * flight arrive whole, a change during a slow start wins, devsrv serves in
 * the background and after `Deno.chdir`, and error pages say what happened
 * without terminal codes. Real processes, files and sockets throughout.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  appSource,
  childPids,
  DevsrvProcess,
  fetchText,
  freePort,
  processIsAlive,
  waitFor,
  waitForAppIdle,
  withServer,
  withTempDir,
} from "../_harness/devsrv.ts";

/** A grace far longer than any reload, so waiting for it shows. */
const LONG_GRACE = ["--grace", "20000"];

async function bodyAt(url: string): Promise<string> {
  try {
    return (await fetchText(url)).body;
  } catch (error) {
    if (error instanceof TypeError) return "";
    throw error;
  }
}

/**
 * Serves `source` as app.ts in a temporary directory with `--verbose` and
 * `flags`, runs `body`, then stops devsrv and checks that nothing outlives it.
 */
async function withVerboseApp(
  source: string,
  flags: string[],
  body: (server: DevsrvProcess, url: string, dir: string) => Promise<void>,
): Promise<void> {
  await withTempDir({ "app.ts": source }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--verbose", ...flags], {
      cwd: dir,
    });
    try {
      await body(server, await server.url(), dir);
    } finally {
      await stopAndCheck(server);
    }
  });
}

/** Waits until `/__devsrv` names a booted standby. */
async function waitForStandby(url: string): Promise<void> {
  await waitFor("a booted standby", async () => {
    const response = await fetch(`${url}/__devsrv`, { headers: { accept: "application/json" } });
    return (await response.json()).standbyPid !== null;
  });
}

async function stopAndCheck(server: DevsrvProcess): Promise<void> {
  const status = await server.stop();
  assert.equal(status.code, 0, `exit code, output:\n${server.output}`);
  for (const pid of childPids(server.output)) {
    assert.ok(!processIsAlive(pid), `child ${pid} outlived the parent`);
  }
}

const STREAMS_APP = (version: string) =>
  `export default { fetch(req) {
  const path = new URL(req.url).pathname;
  if (path === "/sse") {
    let timer;
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("data: ${version}\\n\\n"));
        timer = setInterval(() => controller.enqueue(new TextEncoder().encode(": ping\\n\\n")), 10_000);
      },
      cancel() { clearInterval(timer); },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }
  if (path === "/ws") {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => socket.send("${version}");
    return response;
  }
  return new Response("${version}");
} };
`;

Deno.test("open server-sent events and WebSockets end at once on a reload, and reconnect to the new code", async () => {
  await withTempDir({ "app.ts": STREAMS_APP("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", ...LONG_GRACE], { cwd: dir });
    try {
      const url = await server.url();
      await waitFor("v1", async () => await bodyAt(url) === "v1");
      const sse = await fetch(`${url}/sse`);
      const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
      assert.match((await reader.read()).value ?? "", /data: v1/);
      const ws = new WebSocket(`${url.replace("http", "ws")}/ws`);
      const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
      await new Promise((resolve) => ws.onmessage = resolve);

      const edited = performance.now();
      await Deno.writeTextFile(`${dir}/app.ts`, STREAMS_APP("v2"));
      // With the 20 s grace, waiting for the streams would take 20 s.
      await waitFor("v2", async () => await bodyAt(url) === "v2", 10_000);
      assert.ok(performance.now() - edited < 10_000);
      let rest = await reader.read();
      while (!rest.done) rest = await reader.read();
      const close = await closed;
      assert.equal(close.code, 1001, `WebSocket close code ${close.code}`);

      const again = new WebSocket(`${url.replace("http", "ws")}/ws`);
      const message = await new Promise<MessageEvent>((resolve) => again.onmessage = resolve);
      assert.equal(message.data, "v2");
      again.close();
      const sse2 = await fetch(`${url}/sse`);
      const reader2 = sse2.body!.pipeThrough(new TextDecoderStream()).getReader();
      assert.match((await reader2.read()).value ?? "", /data: v2/);
      await reader2.cancel();
    } finally {
      await stopAndCheck(server);
    }
  });
});

/** A node:http app that sends server-sent events, its headers set in each of Node's ways. */
const NODE_STREAMS_APP = (version: string) =>
  `import http from "node:http";
const SSE = "text/event-stream";
http.createServer((req, res) => {
  switch (req.url) {
    case "/object": res.writeHead(200, { "content-type": SSE }); break;
    case "/pairs": res.writeHead(200, [["Content-Type", SSE]]); break;
    case "/raw": res.writeHead(200, "OK", ["Content-Type", SSE, "Cache-Control", "no-cache"]); break;
    case "/flush": res.setHeader("Content-Type", SSE); res.flushHeaders(); break;
    case "/slow": res.write("slow "); return void setTimeout(() => res.end("${version}"), 1500);
    default: return res.end("${version}");
  }
  res.write("data: ${version}\\n\\n");
  const timer = setInterval(() => res.write(": ping\\n\\n"), 10_000);
  res.on("close", () => clearInterval(timer));
}).listen(Number(Deno.env.get("APP_PORT")));
`;

Deno.test("node:http server-sent events end at once on a reload, however the app sets their headers", async () => {
  await withTempDir({ "app.ts": NODE_STREAMS_APP("v1") }, async (dir) => {
    const port = freePort();
    const server = new DevsrvProcess(["serve", "app.ts", ...LONG_GRACE], {
      cwd: dir,
      env: { APP_PORT: String(port) },
    });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitFor("v1", async () => await bodyAt(url) === "v1", 30_000);
      const readers = [];
      for (const path of ["/object", "/pairs", "/raw", "/flush"]) {
        const sse = await fetch(`${url}${path}`);
        assert.equal(sse.headers.get("content-type"), "text/event-stream", path);
        const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
        assert.match((await reader.read()).value ?? "", /data: v1/, path);
        readers.push(reader);
      }
      await waitForAppIdle(url);
      const slow = await fetch(`${url}/slow`); // in flight once its head is here
      const edited = performance.now();
      await Deno.writeTextFile(`${dir}/app.ts`, NODE_STREAMS_APP("v2"));
      // With the 20 s grace, waiting for the streams would take 20 s.
      for (const reader of readers) {
        let rest = await reader.read();
        while (!rest.done) rest = await reader.read();
      }
      await waitFor("v2", async () => await bodyAt(url) === "v2", 10_000);
      assert.ok(performance.now() - edited < 10_000, `${performance.now() - edited} ms`);
      assert.equal(await slow.text(), "slow v1");
      // The streams are counted as streams, not as requests the stop waits for.
      assert.match(server.output, /is stopping · ended 4 streams · waiting for 1 request \(/);
      assert.doesNotMatch(server.output, /did not stop within/);
    } finally {
      await stopAndCheck(server);
    }
  });
});

const SUBPROCESS_APP = (version: string, stdio: string) =>
  `const sleeper = new Deno.Command("sleep", { args: ["300"]${stdio} }).spawn();
Deno.writeTextFileSync("sleepers.txt", sleeper.pid + "\\n", { append: true });
export default { fetch: () => new Response("${version}") };
`;

for (
  const [name, stdio] of [
    ["holding the child's output pipes", ""],
    ["with its output to /dev/null", ', stdout: "null", stderr: "null"'],
  ] as const
) {
  Deno.test(`an app that starts a subprocess ${name} restarts, and the subprocess ends with it`, async () => {
    await withTempDir({ "app.ts": SUBPROCESS_APP("v1", stdio) }, async (dir) => {
      const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", ...LONG_GRACE], { cwd: dir });
      const sleepers = async () =>
        (await Deno.readTextFile(`${dir}/sleepers.txt`)).trim().split("\n").map(Number);
      try {
        const url = await server.url();
        await waitFor("v1", async () => await bodyAt(url) === "v1");
        await Deno.writeTextFile(`${dir}/app.ts`, SUBPROCESS_APP("v2", stdio));
        await waitFor("v2", async () => await bodyAt(url) === "v2", 10_000);
        const [first] = await sleepers();
        await waitFor(`the first sleep (pid ${first}) to end`, () => !processIsAlive(first!));
      } finally {
        await stopAndCheck(server);
      }
      for (const pid of await sleepers()) {
        await waitFor(`sleep ${pid} to end`, () => !processIsAlive(pid), 5_000);
      }
    });
  });
}

const SHUTDOWN_APP = (version: string) =>
  `// A lock the app holds while it runs, as a database file would be.
const lock = "app.lock";
let clash = false;
try { Deno.statSync(lock); clash = true; } catch { /* free */ }
Deno.writeTextFileSync(lock, "${version}");
Deno.addSignalListener("SIGTERM", async () => {
  await new Promise((resolve) => setTimeout(resolve, 300)); // closing the database
  Deno.removeSync(lock);
  Deno.writeTextFileSync("shutdowns.txt", "${version}\\n", { append: true });
  Deno.exit(0);
});
export default { fetch: () => new Response(clash ? "lock still held" : "${version}") };
`;

Deno.test("the app's own SIGTERM handler runs to the end before the next generation loads the app", async () => {
  await withTempDir({ "app.ts": SHUTDOWN_APP("v1") }, async (dir) => {
    // The app's lock and its notes are its data, not its code.
    const server = new DevsrvProcess(
      ["serve", "app.ts", "-p", "0", "--ignore", "app.lock", "--ignore", "shutdowns.txt"],
      { cwd: dir },
    );
    try {
      const url = await server.url();
      await waitFor("v1", async () => await bodyAt(url) === "v1");
      await Deno.writeTextFile(`${dir}/app.ts`, SHUTDOWN_APP("v2"));
      await waitFor("v2", async () => {
        const body = await bodyAt(url);
        assert.notEqual(body, "lock still held");
        return body === "v2";
      });
      assert.equal(await Deno.readTextFile(`${dir}/shutdowns.txt`), "v1\n");
      await server.waitForOutput(
        /is stopping · waiting for the app's SIGTERM handler \(up to 5 s\)/,
      );
    } finally {
      await stopAndCheck(server);
    }
    // devsrv's own SIGTERM stops the last generation the same way.
    assert.equal(await Deno.readTextFile(`${dir}/shutdowns.txt`), "v1\nv2\n");
  });
});

const UPLOAD_APP = (version: string) =>
  `export default { async fetch(req) {
  if (req.method === "POST") return new Response("${version} got " + (await req.arrayBuffer()).byteLength);
  return new Response("${version}");
} };
`;

Deno.test("an upload in progress across a reload reaches the old child whole", async () => {
  await withTempDir({ "app.ts": UPLOAD_APP("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
    try {
      const url = await server.url();
      await waitFor("v1", async () => await bodyAt(url) === "v1");
      const chunk = new Uint8Array(1024 * 1024);
      const total = 24;
      let sent = 0;
      let from = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === total / 2) {
            // Half way: edit the app and go on only once the restart has begun.
            from = server.output.length;
            await Deno.writeTextFile(`${dir}/app.ts`, UPLOAD_APP("v2"));
            await server.waitForOutput(/restarting/, { from });
          }
          if (sent === total) {
            controller.close();
            return;
          }
          sent++;
          controller.enqueue(chunk);
        },
      });
      const response = await fetch(`${url}/upload`, { method: "POST", body });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), `v1 got ${total * chunk.length}`);
      await waitFor("v2", async () => await bodyAt(url) === "v2");
    } finally {
      await stopAndCheck(server);
    }
  });
});

const SLOW_START_APP = (version: string) =>
  `await new Promise((resolve) => setTimeout(resolve, 1500)); // a slow start: connecting, warming up
export default { fetch: () => new Response("${version}") };
`;

Deno.test("a change while the app is still starting abandons that start: the next request gets the newest code", async () => {
  await withTempDir({ "app.ts": SLOW_START_APP("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
    try {
      const url = await server.url();
      await waitFor("v1", async () => await bodyAt(url) === "v1");
      let from = server.output.length;
      await Deno.writeTextFile(`${dir}/app.ts`, SLOW_START_APP("v2"));
      await server.waitForOutput(/restarting/, { from });
      from = server.output.length;
      await Deno.writeTextFile(`${dir}/app.ts`, SLOW_START_APP("v3"));
      await server.waitForOutput(/restarting/, { from });
      assert.equal(await bodyAt(url), "v3", "a request sent after v3 was seen waits for v3");
      await server.waitForOutput(/was still starting · starting the newest code instead/);
    } finally {
      await stopAndCheck(server);
    }
  });
});

const LOUD_APP = (version: string) =>
  `console.log("loaded ${version}");
export default { fetch: () => new Response("${version}") };
`;

/**
 * A debounce long enough that the serving child's answer to the head
 * start's question always comes before the batch, however busy the machine
 * (with the default 10 ms, a child busy for a moment, as one starting
 * Deno's Node layer at its first timer, answers after the batch: no head
 * start, rightly).
 */
const HEAD_START_DEBOUNCE = ["--debounce", "300"];

Deno.test("a change's head start loads the code during the debounce, and is the restart's child", async () => {
  await withVerboseApp(LOUD_APP("v1"), HEAD_START_DEBOUNCE, async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    await server.waitForOutput(/child 2 connected/); // the standby has booted
    const from = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP("v2"));
    await waitFor("v2", async () => await bodyAt(url) === "v2");
    await server.waitForOutput(/child 2's head start taken/, { from });
    // Its output, kept back until it was taken, is shown once.
    await server.waitForOutput(/loaded v2/, { from });
    assert.equal(server.output.slice(from).match(/loaded v2/g)?.length, 1);
    assert.equal(server.output.slice(from).match(/ serving app\.ts/g)?.length, 1);
  });
});

Deno.test("a head start overtaken by the rest of a save is discarded unseen: one restart, with the whole save", async () => {
  // A long debounce: the second half of the save comes within it, after the head start began.
  await withVerboseApp(LOUD_APP("v1"), ["--debounce", "400"], async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    await server.waitForOutput(/child 2 connected/);
    const from = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP("half"));
    await server.waitForOutput(/child 2 told to start ahead of the batch/, { from });
    await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP("v2"));
    await server.waitForOutput(/child 2's head start discarded: overtaken by another change/, {
      from,
    });
    await waitFor("v2", async () => {
      const body = await bodyAt(url);
      assert.notEqual(body, "half", "the half save was served");
      return body === "v2";
    });
    const after = server.output.slice(from);
    assert.doesNotMatch(after, /loaded half/, "the discarded head start's output was shown");
    assert.equal(after.match(/restarting/g)?.length, 1, after);
    assert.equal(after.match(/ serving app\.ts/g)?.length, 1, after);
  });
});

/** Apps that save their state as they end, and read it as they start, each registering that differently. */
const SAVES_ON_SHUTDOWN: Record<
  string,
  { hook: string; runs?: false; app: (version: string) => string }
> = {
  "a SIGTERM handler added in node:http's listen callback": {
    hook: "SIGTERM",
    app: (version) =>
      `import http from "node:http";
import fs from "node:fs";
const n = fs.existsSync("state.json") ? JSON.parse(fs.readFileSync("state.json", "utf8")).n : 0;
let hits = n;
const server = http.createServer((_req, res) => { hits++; res.end("${version} " + hits); });
server.listen(0, () => {
  process.on("SIGTERM", () => {
    fs.writeFileSync("state.json", JSON.stringify({ n: hits }));
    server.close(() => process.exit(0));
  });
});
`,
  },
  "an unload listener": {
    hook: "unload",
    app: (version) =>
      `let hits = 0;
try { hits = JSON.parse(Deno.readTextFileSync("state.json")).n; } catch { /* first start */ }
globalThis.addEventListener("unload", () => Deno.writeTextFileSync("state.json", JSON.stringify({ n: hits })));
export default { fetch: () => new Response("${version} " + ++hits) };
`,
  },
  "an unload listener added through EventTarget's prototype": {
    hook: "unload",
    app: (version) =>
      `let hits = 0;
try { hits = JSON.parse(Deno.readTextFileSync("state.json")).n; } catch { /* first start */ }
EventTarget.prototype.addEventListener.call(globalThis, "unload", () =>
  Deno.writeTextFileSync("state.json", JSON.stringify({ n: hits })));
export default { fetch: () => new Response("${version} " + ++hits) };
`,
  },
  // Node runs no 'exit' listener on SIGTERM, and neither does devsrv's stop: held all the same.
  "a process.on('exit') listener": {
    hook: "exit",
    runs: false,
    app: (version) =>
      `let hits = 0;
try { hits = JSON.parse(Deno.readTextFileSync("state.json")).n; } catch { /* first start */ }
process.on("exit", () => Deno.writeTextFileSync("state.json", JSON.stringify({ n: hits })));
export default { fetch: () => new Response("${version} " + ++hits) };
`,
  },
};

for (const [name, { hook, runs, app }] of Object.entries(SAVES_ON_SHUTDOWN)) {
  Deno.test(`no head start for an app with ${name}: its next start reads what it saved`, async () => {
    await withTempDir({ "app.ts": app("v1") }, async (dir) => {
      const server = new DevsrvProcess(
        // A long debounce: the child's answer always comes before the batch, however busy the machine.
        ["serve", "app.ts", "-p", "0", "--verbose", "--ignore", "state.json", "--debounce", "300"],
        { cwd: dir },
      );
      try {
        const url = await server.url();
        await waitFor("v1", async () => (await bodyAt(url)).startsWith("v1"));
        let saved = 0;
        for (let i = 0; i < 5; i++) saved = Number((await bodyAt(url)).split(" ")[1]);
        await server.waitForOutput(/child 2 connected/);
        const from = server.output.length;
        await Deno.writeTextFile(`${dir}/app.ts`, app("v2"));
        await waitFor("v2", async () => (await bodyAt(url)).startsWith("v2"));
        // v2 counts on from what v1 saved as it ended: it read it after v1 had stopped.
        const next = Number((await bodyAt(url)).split(" ")[1]);
        if (runs !== false) {
          assert.ok(next > saved, `v2 counted from ${next}, v1 had reached ${saved}`);
        }
        const after = server.output.slice(from);
        assert.match(after, new RegExp(`no head start: the app has an? [^,]*${hook}`));
        assert.doesNotMatch(after, /head start taken/);
      } finally {
        await stopAndCheck(server);
      }
    });
  });
}

Deno.test("saves spread over a few ms: the head start learns to wait for the whole save", async () => {
  await withVerboseApp(LOUD_APP("v1"), [], async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    let from = 0;
    for (const version of ["v2", "v3", "v4"]) {
      await waitForStandby(url);
      from = server.output.length;
      // An editor's save in two writes 4 ms apart (a busy wait: timers fire late).
      await Deno.writeTextFile(`${dir}/app.ts`, "");
      const until = performance.now() + 4;
      while (performance.now() < until) { /* the editor's own work */ }
      await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP(version));
      await waitFor(version, async () => await bodyAt(url) === version);
    }
    // The first save taught it the spread: the last one's head start (if any) was not overtaken.
    assert.doesNotMatch(server.output.slice(from), /discarded: overtaken/);
  });
});

const COUNTING_APP = (version: string) =>
  `let count = 0;
try { count = JSON.parse(Deno.readTextFileSync("state.json")).count; } catch { /* first start */ }
export default {
  fetch() {
    Deno.writeTextFileSync("state.json", JSON.stringify({ count: ++count }));
    return new Response("${version} " + count);
  },
};
`;

Deno.test("a request that comes while a head start loads waits for the batch: no update is lost", async () => {
  // A long debounce: the request surely comes while the head start waits for the batch.
  await withVerboseApp(
    COUNTING_APP("v1"),
    ["--debounce", "400", "--ignore", "state.json"],
    async (server, url, dir) => {
      await waitFor("v1", async () => (await bodyAt(url)).startsWith("v1"));
      const before = Number((await bodyAt(url)).split(" ")[1]);
      await waitForStandby(url);
      const from = server.output.length;
      await Deno.writeTextFile(`${dir}/app.ts`, COUNTING_APP("v2"));
      await server.waitForOutput(/told to start ahead of the batch/, { from });
      // Held, then answered by the new code, which read every update the old one made.
      assert.equal(await bodyAt(url), `v2 ${before + 1}`);
      assert.match(server.output.slice(from), /head start taken/);
    },
  );
});

Deno.test("a save undone within the debounce discards its head start, and requests go on to the old child", async () => {
  await withVerboseApp(LOUD_APP("v1"), ["--debounce", "300"], async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    await waitForStandby(url);
    const from = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP("v2"));
    await server.waitForOutput(/told to start ahead of the batch/, { from });
    await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP("v1")); // undone
    await server.waitForOutput(/head start discarded/, { from });
    // Held while the head start loaded, then answered by the old child: never stuck.
    assert.equal(await bodyAt(url), "v1");
    assert.doesNotMatch(server.output.slice(from), /restarting|serving app\.ts/);
  });
});

Deno.test("a top-level throw fails its head start and the retry: the code's fault, so head starts go on", async () => {
  await withVerboseApp(LOUD_APP("v1"), HEAD_START_DEBOUNCE, async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    await waitForStandby(url);
    let from = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, 'throw new Error("boom");\n' + LOUD_APP("v2"));
    await server.waitForOutput(/Waiting for a change to restart/, { from });
    await waitForStandby(url); // a failing app boots one too
    from = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP("v3"));
    await waitFor("v3", async () => await bodyAt(url) === "v3");
    assert.match(server.output.slice(from), /head start taken/);
    assert.doesNotMatch(server.output, /no head starts from now on/);
  });
});

/** An app whose load takes a while, so that a second save comes while it starts. */
const SLOW_LOAD_APP = (version: string) =>
  `await new Promise((resolve) => setTimeout(resolve, 150));
console.log("loaded ${version}");
export default { fetch: () => new Response("${version}") };
`;

Deno.test("a start abandoned for newer code is no failure: head starts go on", async () => {
  await withVerboseApp(SLOW_LOAD_APP("v1"), [], async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1", 30_000);
    for (const [first, second] of [["v2", "v3"], ["v4", "v5"], ["v6", "v7"]]) {
      await waitForStandby(url);
      const from = server.output.length;
      await Deno.writeTextFile(`${dir}/app.ts`, SLOW_LOAD_APP(first!));
      // The second save comes while the first one's child still loads (150 ms).
      await server.waitForOutput(/restarting/, { from });
      await server.waitForOutput(/head start taken|told to start/, { from });
      await Deno.writeTextFile(`${dir}/app.ts`, SLOW_LOAD_APP(second!));
      await waitFor(second!, async () => await bodyAt(url) === second);
    }
    assert.doesNotMatch(server.output, /no head starts from now on/);
  });
});

/** An app that logs each evaluation, and whose SIGTERM handler waits for a file named `release`. */
const HELD_STOP_APP = (version: string) =>
  `Deno.writeTextFileSync("evals.log", "${version}\\n", { append: true });
Deno.addSignalListener("SIGTERM", () => {
  const poll = setInterval(() => {
    try {
      Deno.statSync("release");
      clearInterval(poll);
      Deno.exit(0);
    } catch { /* not yet */ }
  }, 10);
});
export default { fetch: () => new Response("${version}") };
`;

Deno.test("a save the next child has read before its event's batch does not run that code again", async () => {
  // `release` is not ignored: a file that restarts nothing, in the same batch as v3.
  const flags = ["--debounce", "300", "--no-head-start", "--ignore", "evals.log"];
  await withVerboseApp(HELD_STOP_APP("v1"), flags, async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    await Deno.writeTextFile(`${dir}/app.ts`, HELD_STOP_APP("v2"));
    // v1's handler holds its exit, so the next child is told to start only once released.
    await server.waitForOutput(/is stopping · waiting for .*SIGTERM handler/);
    await Deno.writeTextFile(`${dir}/app.ts`, HELD_STOP_APP("v3"));
    await Deno.writeTextFile(`${dir}/release`, "");
    // The next child reads v3, well before v3's own batch (300 ms after its write).
    await waitFor("v3", async () => await bodyAt(url) === "v3");
    await server.waitForOutput(/has read these changes already: no restart/);
    const evals = (await Deno.readTextFile(`${dir}/evals.log`)).trim().split("\n");
    assert.deepEqual(evals, ["v1", "v3"]);
  });
});

/** An entry that imports `ver.ts` only once a file named `go` exists: the test says when it reads. */
const GATED_ENTRY = `while (true) {
  try {
    Deno.statSync("go");
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
const { V } = await import("./ver.ts");
if (V === undefined) throw new Error("ver.ts exports no V");
Deno.serve((_req) => new Response(V));
`;
const VERSION_MODULE = (version: string) => `export const V = "${version}";\n`;
const GATED_FLAGS = ["--debounce", "300", "--no-head-start", "--ignore", "go"];

/**
 * The gated app serving `first`, then restarting for `next` with `go`
 * removed: the new child waits to read `ver.ts` until the body creates `go`.
 */
async function withGatedRestart(
  first: string,
  next: string,
  body: (server: DevsrvProcess, url: string, dir: string, from: number) => Promise<void>,
): Promise<void> {
  await withTempDir(
    { "main.ts": GATED_ENTRY, "ver.ts": VERSION_MODULE(first), "go": "" },
    async (dir) => {
      const server = new DevsrvProcess(
        ["serve", "main.ts", "-p", "0", "--verbose", ...GATED_FLAGS],
        {
          cwd: dir,
        },
      );
      try {
        const url = await server.url();
        await waitFor(first, async () => await bodyAt(url) === first);
        await Deno.remove(`${dir}/go`);
        const from = server.output.length;
        await Deno.writeTextFile(`${dir}/ver.ts`, VERSION_MODULE(next));
        await server.waitForOutput(/told to start/, { from });
        await body(server, url, dir, from);
      } finally {
        await stopAndCheck(server);
      }
    },
  );
}

Deno.test("a file the next child read in the middle of a save that then came back (A, B, A) restarts it: B is not left serving", async () => {
  await withGatedRestart("a1", "a2", async (server, url, dir, from) => {
    // The child reads B; A comes back within the debounce: the batch is empty.
    await Deno.writeTextFile(`${dir}/ver.ts`, VERSION_MODULE("b"));
    await Deno.writeTextFile(`${dir}/go`, "");
    await waitFor("b served", async () => await bodyAt(url) === "b");
    await Deno.writeTextFile(`${dir}/ver.ts`, VERSION_MODULE("a2"));
    await waitFor("a2, the file on disk", async () => await bodyAt(url) === "a2");
    assert.match(server.output.slice(from), /changed and changed back while child \d+ read it/);
  });
});

Deno.test("a failing app whose file came back as it was after a save it read half-written restarts: no 503 left", async () => {
  await withGatedRestart("v1", "v2", async (server, url, dir, from) => {
    // A save of the same bytes, read between its truncate and its write: the load fails.
    await Deno.writeTextFile(`${dir}/ver.ts`, "");
    await Deno.writeTextFile(`${dir}/go`, "");
    await server.waitForOutput(/failed/, { from });
    await Deno.writeTextFile(`${dir}/ver.ts`, VERSION_MODULE("v2"));
    await waitFor("v2 served", async () => await bodyAt(url) === "v2");
  });
});

Deno.test("--no-head-start loads a change's code only once its batch is decided", async () => {
  await withVerboseApp(LOUD_APP("v1"), ["--no-head-start"], async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    await server.waitForOutput(/child 2 connected/);
    const from = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, LOUD_APP("v2"));
    await waitFor("v2", async () => await bodyAt(url) === "v2");
    await server.waitForOutput(/child 2 told to start \(/, { from });
    assert.doesNotMatch(server.output.slice(from), /head start/);
  });
});

Deno.test("a save while the first start loads the program restarts it, though the watch begins after", async () => {
  await withTempDir({ "app.ts": SLOW_START_APP("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--verbose"], { cwd: dir });
    try {
      await server.waitForOutput(/child 1 told to start/);
      await Deno.writeTextFile(`${dir}/app.ts`, SLOW_START_APP("v2"));
      const url = await server.url();
      await waitFor("v2", async () => await bodyAt(url) === "v2");
      assert.match(server.output, /app\.ts changed/);
    } finally {
      await stopAndCheck(server);
    }
  });
});

/** Says when its top level runs (the program has been read), then starts slowly. */
const LOADING_APP = (version: string) =>
  `console.log("loading ${version}");
await new Promise((resolve) => setTimeout(resolve, 1500)); // a slow start: connecting, warming up
export default { fetch: () => new Response("${version}") };
`;

/** How a save can leave a file's mtime older than the moment the program was read. */
const OLD_MTIME_SAVES: Record<string, (dir: string, spare: string) => Promise<void>> = {
  // An editor's safe write: the temporary file, written before devsrv started, renamed over.
  "a temporary file written earlier, renamed over it": async (dir, spare) => {
    await Deno.rename(`${spare}/app.ts`, `${dir}/app.ts`);
  },
  // `cp -p`, `rsync -t`, `tar`: the content is new, the mtime is the source's.
  "a write that sets an old mtime": async (dir, spare) => {
    await Deno.writeTextFile(`${dir}/app.ts`, await Deno.readTextFile(`${spare}/app.ts`));
    await Deno.utime(`${dir}/app.ts`, new Date(), (await Deno.stat(`${spare}/app.ts`)).mtime!);
  },
};

for (const [style, save] of Object.entries(OLD_MTIME_SAVES)) {
  Deno.test(`a save while the first start loads the program restarts it, with ${style}`, async () => {
    await withTempDir({ "app.ts": LOADING_APP("v2") }, async (spare) => {
      const mtime = (await Deno.stat(`${spare}/app.ts`)).mtime!;
      await Deno.utime(`${spare}/app.ts`, new Date(), new Date(mtime.getTime() - 60_000));
      await withTempDir({ "app.ts": LOADING_APP("v1") }, async (dir) => {
        const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--verbose"], {
          cwd: dir,
        });
        try {
          // The program has been read, and the tree is not watched yet (the
          // first start is not over: the scan waits for it, up to 500 ms).
          await server.waitForOutput(/loading v1/);
          await save(dir, spare);
          assert.doesNotMatch(server.output, / · watching /, "saved before the watch began");
          const url = await server.url();
          await waitFor("v2", async () => await bodyAt(url) === "v2");
          assert.match(server.output, /app\.ts changed/);
        } finally {
          await stopAndCheck(server);
        }
      });
    });
  });
}

Deno.test("a library script that changes directory before serve() restarts", async () => {
  const modUrl = new URL("../../src/mod.ts", import.meta.url).href;
  const script = (version: string) =>
    `import { serve } from ${JSON.stringify(modUrl)};
Deno.chdir("sub");
await serve(() => new Response("${version} in " + Deno.cwd().split("/").pop()), { reload: true, port: 0 });
`;
  await withTempDir({ "server.ts": script("v1"), "sub/.keep": "" }, async (dir) => {
    const server = new DevsrvProcess([], { cwd: dir, script: "server.ts" });
    try {
      const url = await server.url();
      await waitFor("v1", async () => await bodyAt(url) === "v1 in sub");
      await Deno.writeTextFile(`${dir}/server.ts`, script("v2"));
      await waitFor("v2", async () => await bodyAt(url) === "v2 in sub");
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
    }
  });
});

Deno.test("devsrv started in the background of an interactive shell serves and is not stopped", async () => {
  await withTempDir({
    "app.ts": "export default { fetch: () => new Response('in the background') };\n",
  }, async (dir) => {
    const main = new URL("../../main.ts", import.meta.url).pathname;
    const shell = `
${Deno.execPath()} run -A ${main} serve app.ts -p 0 > devsrv.log 2>&1 &
pid=$!
for i in $(seq 1 300); do grep -q "ready in" devsrv.log && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*' devsrv.log | head -n 1)
echo "BODY:$(curl -s "$url/")"
jobs -l
kill $pid
wait $pid
echo "EXIT:$?"
`;
    await Deno.writeTextFile(`${dir}/session.sh`, shell);
    // `script` gives bash a terminal, so it runs with job control as a person's shell does.
    const { stdout } = await new Deno.Command("script", {
      args: ["-qec", "bash --norc -i session.sh", "/dev/null"],
      cwd: dir,
      env: { NO_COLOR: "1", PS1: "" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout);
    assert.match(output, /BODY:in the background/, output);
    assert.doesNotMatch(output, /Stopped/, output);
    assert.match(output, /EXIT:0/, output);
  });
});

// The escape codes are built at run time, so the source excerpt on the page holds none.
const CRASH_APP = `const esc = String.fromCharCode(27);
console.log(esc + "[" + "31m" + "red text" + esc + "[" + "0m");
setTimeout(() => { throw new Error("crashed after serving"); }, 50);
export default { fetch: () => new Response("up") };
`;

Deno.test("error pages name what happened and show no terminal codes; a crash is not restarted in a loop", async () => {
  await withTempDir({ "app.ts": CRASH_APP }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
    try {
      const url = await server.url();
      await server.waitForOutput(/failed: app "app\.ts" crashed: Error: crashed after serving/);
      for (const accept of ["text/html", "text/plain"]) {
        const page = await fetchText(url, { headers: { accept } });
        assert.equal(page.status, 503);
        assert.match(page.body, /App crashed/);
        assert.match(page.body, /red text/);
        // The escape character is what the page must not contain.
        // deno-lint-ignore no-control-regex
        assert.doesNotMatch(page.body, /\x1b|\[1m|\[31m/, "no terminal escape codes");
        assert.doesNotMatch(page.body, /output above|App failed to load/);
      }
      const status =
        await (await fetch(`${url}/__devsrv`, { headers: { accept: "application/json" } }))
          .json();
      assert.equal(status.generation, 1, "not restarted after the crash");
      await Deno.writeTextFile(`${dir}/app.ts`, "Deno.exit(5);\n");
      await server.waitForOutput(/exited with code 5 before it was ready/);
      const exited = await fetchText(url, { headers: { accept: "text/plain" } });
      assert.match(exited.body, /App failed to load|App exited/);
      await Deno.writeTextFile(
        `${dir}/app.ts`,
        "export default { fetch: () => new Response('fixed') };\n",
      );
      await waitFor("fixed", async () => await bodyAt(url) === "fixed");
    } finally {
      await stopAndCheck(server);
    }
  });
});

/** An app that holds a port of its own, with a slow request that keeps its process up. */
const OWN_PORT_APP = (admin: number, version: string) =>
  `const admin = Deno.listen({ hostname: "127.0.0.1", port: ${admin} });
(async () => { for await (const conn of admin) conn.close(); })();
export default {
  async fetch(request: Request) {
    if (new URL(request.url).pathname === "/slow") {
      console.log("slow request started");
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    return new Response("${version}");
  },
};
`;

Deno.test("an app that holds a port of its own is tried again once the old child, still finishing a request, has exited", async () => {
  const admin = freePort();
  const source = (version: string) => OWN_PORT_APP(admin, version);
  await withServer({ "app.ts": source("v1") }, ["app.ts"], async (server, url, dir) => {
    await waitFor("v1", async () => (await bodyAt(url)) === "v1");
    const slow = fetchText(`${url}/slow`);
    await server.waitForOutput(/slow request started/);
    await Deno.writeTextFile(`${dir}/app.ts`, source("v2"));
    assert.equal((await slow).body, "v1", "the request in flight finishes on the old code");
    await waitFor("v2", async () => (await bodyAt(url)) === "v2");
    // The new child starts while the old one finishes /slow, and finds the port taken.
    assert.match(
      server.output,
      /failed while the old child was still stopping \(.*\) · trying again once it has exited/,
    );
    assert.doesNotMatch(server.output, /Waiting for a change to restart/);
    assert.doesNotMatch(server.output, /error: Uncaught/, "the failed start's own output");
    // Learned: the next child waits for the old one's exit, even while a request keeps it up.
    const next = server.output.length;
    const slow3 = fetchText(`${url}/slow`);
    await server.waitForOutput(/slow request started/, { from: next });
    await Deno.writeTextFile(`${dir}/app.ts`, source("v3"));
    assert.equal((await slow3).body, "v2");
    await waitFor("v3", async () => (await bodyAt(url)) === "v3");
    assert.doesNotMatch(server.output.slice(next), /failed while|error: Uncaught/);
  });
});

Deno.test("a head start that finds the serving child's own port taken is tried again fresh, its failure unseen", async () => {
  const admin = freePort();
  const source = (version: string) => OWN_PORT_APP(admin, version);
  await withVerboseApp(source("v1"), HEAD_START_DEBOUNCE, async (server, url, dir) => {
    await waitFor("v1", async () => await bodyAt(url) === "v1");
    await server.waitForOutput(/child 2 connected/);
    // The old child holds its port until this request is answered.
    const slow = fetchText(`${url}/slow`);
    await server.waitForOutput(/slow request started/);
    const from = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, source("v2"));
    assert.equal((await slow).body, "v1");
    await waitFor("v2", async () => await bodyAt(url) === "v2");
    // The fresh child served: the old one held the port, and every head start would fail.
    await server.waitForOutput(
      /no head starts from now on: the last one failed while the old child ran/,
      { from },
    );
    const after = server.output.slice(from);
    assert.match(after, /child 2's head start taken/);
    assert.match(after, /failed while the old child was still stopping \(.*\) · trying again/);
    assert.doesNotMatch(after, /error: Uncaught/, "the head start's own output");
    await waitForStandby(url);
    const next = server.output.length;
    await Deno.writeTextFile(`${dir}/app.ts`, source("v3"));
    await waitFor("v3", async () => await bodyAt(url) === "v3");
    assert.doesNotMatch(server.output.slice(next), /head start|failed while/);
  });
});

Deno.test("a save that breaks the code fails once: no second start for a syntax error or a missing module", async () => {
  await withServer({ "app.ts": appSource("v1") }, ["app.ts"], async (server, url, dir) => {
    await waitFor("v1", async () => (await bodyAt(url)) === "v1");
    await Deno.writeTextFile(`${dir}/app.ts`, `${appSource("v2")}const x = ;\n`);
    await server.waitForOutput(/failed: app "app\.ts" has a syntax error/);
    await Deno.writeTextFile(`${dir}/app.ts`, `import "./gone.ts";\n${appSource("v3")}`);
    await server.waitForOutput(/failed: app "app\.ts" imports a module that cannot be found/);
    assert.doesNotMatch(server.output, /trying again once it has exited/);
    await Deno.writeTextFile(`${dir}/app.ts`, appSource("v4"));
    await waitFor("v4", async () => (await bodyAt(url)) === "v4");
  });
});
