/**
 * The reloader end to end: the real program as a subprocess (parent and
 * re-executed child), real files edited in a temp dir, real requests.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  appSource,
  childPids,
  collectOutput,
  DevsrvProcess,
  fetchText,
  MAIN_TS,
  processIsAlive,
  waitFor,
  waitForAppIdle,
  withServer,
  withTempDir,
} from "../_harness/devsrv.ts";

/** Waits until GET url answers 200 with exactly `body`. */
async function waitForBody(url: string, body: string, timeoutMs = 15_000): Promise<void> {
  let last = "";
  await waitFor(`body "${body}" at ${url}`, async () => {
    try {
      const response = await fetchText(url);
      last = `${response.status} ${response.body}`;
      return response.status === 200 && response.body === body;
    } catch {
      return false;
    }
  }, timeoutMs).catch((error) => {
    throw new Error(`${error.message} (last answer: ${last || "none"})`);
  });
}

function countMatches(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].length;
}

/** The files named by the reloader's restart lines (` * lib/db.ts changed (...) · restarting`). */
function restartedFiles(output: string): string[] {
  return [...output.matchAll(/ \* (\S+) (?:changed|created|deleted)[^\n]* · restarting\n/g)]
    .map((match) => match[1]!);
}

Deno.test("reloader serves the app from a re-executed child", async () => {
  await withServer({ "app.ts": appSource("v1") }, ["app.ts"], async (server, url) => {
    await waitForBody(url, "v1");
    const ready = await server.waitForOutput(
      /Child pid (\d+) \(DEVSRV_RUN_MAIN=true\) serving app\.ts · ready in \d+ ms/,
    );
    const banner = await server.waitForOutput(
      /reloader pid (\d+) · watching \. \((watchfs|poll), \d+ files?\)/,
    );
    assert.notEqual(ready[1], banner[1], "the child is another process");
    assert.equal(server.process.pid, Number(banner[1]));
  });
});

Deno.test("reloader restarts the child when a file changes", async () => {
  await withServer({ "app.ts": appSource("v1") }, ["app.ts"], async (server, url, dir) => {
    await waitForBody(url, "v1");
    await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2"));
    await waitForBody(url, "v2");
    await server.waitForOutput(/ \* app\.ts changed \(the app's entry\) · restarting/);
    await server.waitForOutput(/Child pid \d+ serving app\.ts · ready in \d+ ms/);
    assert.equal(new Set(childPids(server.output)).size, 2);
  });
});

const LISTING_APP =
  `const names = [...Deno.readDirSync(".")].map((e) => e.name).filter((n) => n.endsWith(".ts")).sort();
export default { fetch: () => new Response(names.join(",")) };
`;

Deno.test("reloader restarts on created, deleted and renamed files", async () => {
  await withServer({ "app.ts": LISTING_APP }, ["app.ts"], async (server, url, dir) => {
    await waitForBody(url, "app.ts");
    // A file written while the app answers a request is the app's own: so the app is left idle
    // before each change, and asked again only once the change has been judged.
    await waitForAppIdle(url);
    await Deno.writeTextFile(`${dir}/b.ts`, "export const b = 1;\n");
    await server.waitForOutput(/ \* b\.ts created \(new source file\) · restarting/);
    await waitForBody(url, "app.ts,b.ts");
    await waitForAppIdle(url);
    let from = server.output.length;
    await Deno.rename(`${dir}/b.ts`, `${dir}/c.ts`);
    await server.waitForOutput(
      // Either reason: a source file added or removed, or any source file
      // while the graph is worked out again after the last restart.
      / \* [bc]\.ts (created|deleted) \((source file \w+|a source file, while the module graph is worked out again after a restart)\) and 1 more · restarting/,
      { from },
    );
    await waitForBody(url, "app.ts,c.ts");
    await waitForAppIdle(url);
    from = server.output.length;
    await Deno.remove(`${dir}/c.ts`);
    await server.waitForOutput(/ \* c\.ts deleted \(source file removed\) · restarting/, { from });
    await waitForBody(url, "app.ts");
  });
});

Deno.test("reloader turns a burst of 50 writes into one or two restarts", async () => {
  // A roomy quiet period: the test is about batching, not a loaded machine's scheduling.
  await withServer(
    { "app.ts": appSource("v0") },
    ["app.ts", "--debounce", "150"],
    async (server, url, dir) => {
      await waitForBody(url, "v0");
      for (let i = 1; i <= 50; i++) await Deno.writeTextFile(`${dir}/app.ts`, appSource(`v${i}`));
      await waitForBody(url, "v50");
      const restarts = countMatches(server.output, / · restarting\n/g);
      assert.ok(restarts >= 1 && restarts <= 2, `${restarts} restarts:\n${server.output}`);
    },
  );
});

Deno.test("reloader turns an editor's save (truncate, write, rename over, chmod) into one restart", async () => {
  // The default --debounce: the burst an editor makes within a few ms is one change.
  await withServer({ "app.ts": appSource("v1") }, ["app.ts"], async (server, url, dir) => {
    await waitForBody(url, "v1");
    const before = await devsrvStatus(url);
    const from = server.output.length;
    const app = `${dir}/app.ts`;
    // An in-place save, then an atomic one over it, as editors do them: a
    // step every millisecond (a busy wait: a timer may fire much later).
    const steps = [
      () => Deno.truncateSync(app),
      () => Deno.writeTextFileSync(app, appSource("v2")),
      () => Deno.writeTextFileSync(`${dir}/app.ts.tmp`, appSource("v3")),
      () => Deno.renameSync(`${dir}/app.ts.tmp`, app),
      () => Deno.chmodSync(app, 0o644),
    ];
    for (const step of steps) {
      step();
      for (const until = performance.now() + 1; performance.now() < until;) {
        // the editor's own work between two system calls
      }
    }
    await waitForBody(url, "v3");
    // A sentinel save: once it is served, every event of the burst has been seen.
    await Deno.writeTextFile(app, appSource("v4"));
    await waitForBody(url, "v4");
    const after = await devsrvStatus(url);
    const output = server.output.slice(from);
    assert.equal(countMatches(output, / · restarting\n/g), 2, output);
    assert.doesNotMatch(output, /was still starting/);
    assert.equal(after.generation, (before.generation as number) + 2, output);
  });
});

Deno.test("reloader shows a broken app's error with 503 and recovers when it is fixed", async () => {
  await withServer({ "app.ts": appSource("ok") }, ["app.ts"], async (server, url, dir) => {
    await waitForBody(url, "ok");
    await Deno.writeTextFile(
      `${dir}/app.ts`,
      "export default {\n  fetch() {\n    return new Response('x'\n  }\n};\n",
    );
    const broken = await waitFor("503", async () => {
      const response = await fetchText(url);
      return response.status === 503 ? response : undefined;
    });
    assert.match(broken.body, /syntax error at app\.ts:4:3/);
    const html = await fetchText(url, { headers: { accept: "text/html" } });
    assert.equal(html.status, 503);
    assert.match(html.headers.get("content-type") ?? "", /text\/html/);
    assert.match(html.body, /app\.ts:4:3/);
    assert.match(html.body, /<span class="hl">4 \| {3}\}<\/span>/);
    await server.waitForOutput(/Child pid \d+ failed: app "app\.ts" has a syntax error/);
    await Deno.writeTextFile(`${dir}/app.ts`, appSource("fixed"));
    await waitForBody(url, "fixed");
  });
});

Deno.test("reloader reports a module without a handler and one that throws at import", async () => {
  await withServer({ "app.ts": "export const x = 1;\n" }, ["app.ts"], async (server, url, dir) => {
    await server.waitForOutput(/no request handler \(its exports: x\)/);
    assert.equal((await fetchText(url)).status, 503);
    await Deno.writeTextFile(`${dir}/app.ts`, "throw new Error('kaput');\n");
    await server.waitForOutput(/threw while loading at app\.ts:1:\d+: Error: kaput/);
    const page = await fetchText(url);
    assert.equal(page.status, 503);
    assert.match(page.body, /kaput/);
  });
});

Deno.test("reloader restarts at once when the child exits with code 3", async () => {
  const app = `export default { fetch(req) {
  if (new URL(req.url).pathname === "/restart") setTimeout(() => Deno.exit(3), 10);
  return new Response("pid " + Deno.pid);
} };
`;
  await withServer({ "app.ts": app }, ["app.ts"], async (server, url) => {
    const first = (await fetchText(url)).body;
    await (await fetch(`${url}/restart`)).body?.cancel();
    await server.waitForOutput(/asked for a restart \(exit code 3\)/);
    await waitFor("a new child", async () => {
      const body = (await fetchText(url).catch(() => ({ body: first }))).body;
      return body !== first && body.startsWith("pid ");
    });
  });
});

Deno.test("reloader keeps watching when the child exits on its own", async () => {
  const app = `export default { fetch(req) {
  if (new URL(req.url).pathname === "/exit") setTimeout(() => Deno.exit(7), 10);
  return new Response("alive");
} };
`;
  await withServer({ "app.ts": app }, ["app.ts"], async (server, url, dir) => {
    await waitForBody(url, "alive");
    await (await fetch(`${url}/exit`)).body?.cancel();
    await server.waitForOutput(/Child pid \d+ ended: the child exited with code 7/);
    assert.equal((await fetchText(url)).status, 503);
    await Deno.writeTextFile(`${dir}/app.ts`, appSource("back"));
    await waitForBody(url, "back");
  });
});

Deno.test("reloader kills a child that does not stop within --grace", async () => {
  const app = `export default { fetch(req) {
  if (new URL(req.url).pathname === "/hang") return new Promise(() => {});
  return new Response("v1");
} };
`;
  await withServer({ "app.ts": app }, ["app.ts", "--grace", "300"], async (server, url, dir) => {
    await waitForBody(url, "v1");
    const controller = new AbortController();
    const hanging = fetch(`${url}/hang`, { signal: controller.signal }).then((r) =>
      r.body?.cancel()
    ).catch(() => {});
    await server.waitForOutput(/GET \/ 200/); // the first request went through
    await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2"));
    await server.waitForOutput(/did not stop within 300 ms \(--grace\) · killed it/);
    await waitForBody(url, "v2");
    controller.abort();
    await hanging;
  });
});

Deno.test("reloader leaves no child behind when the parent is killed with SIGKILL", async () => {
  await withTempDir({ "app.ts": appSource("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
    const url = await server.url();
    await waitForBody(url, "v1");
    const [childPid] = childPids(server.output);
    assert.ok(childPid && processIsAlive(childPid));
    await server.stop("SIGKILL");
    await waitFor(`child ${childPid} to exit`, () => !processIsAlive(childPid), 3000);
  });
});

Deno.test("reloader stops parent and child on SIGINT with exit code 0", async () => {
  await withTempDir({ "app.ts": appSource("v1") }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
    const url = await server.url();
    await waitForBody(url, "v1");
    const [childPid] = childPids(server.output);
    const status = await server.stop("SIGINT");
    assert.equal(status.code, 0);
    assert.ok(childPid && !processIsAlive(childPid));
  });
});

Deno.test("reloader ignores ignored, .gitignored and node_modules files", async () => {
  await withServer(
    {
      "app.ts": appSource("v1"),
      ".gitignore": "generated/\n*.log.ts\n",
      "generated/out.ts": "export const a = 1;\n",
      "node_modules/pkg/index.js": "module.exports = 1;\n",
      "skip/me.ts": "export const s = 1;\n",
    },
    ["app.ts", "--ignore", "skip/"],
    async (server, url, dir) => {
      await waitForBody(url, "v1");
      await Deno.writeTextFile(`${dir}/generated/out.ts`, "export const a = 2;\n");
      await Deno.writeTextFile(`${dir}/debug.log.ts`, "export const b = 2;\n");
      await Deno.writeTextFile(`${dir}/node_modules/pkg/index.js`, "module.exports = 2;\n");
      await Deno.writeTextFile(`${dir}/skip/me.ts`, "export const s = 2;\n");
      await Deno.writeTextFile(`${dir}/notes.bin`, "not a watched extension");
      await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2")); // the sentinel
      await waitForBody(url, "v2");
      assert.deepEqual(restartedFiles(server.output), ["app.ts"], server.output);
    },
  );
});

Deno.test("reloader does not restart on a save that leaves the content unchanged", async () => {
  await withServer(
    { "app.ts": appSource("v1"), "other.ts": "export const o = 1;\n" },
    ["app.ts"],
    async (server, url, dir) => {
      await waitForBody(url, "v1");
      await Deno.writeTextFile(`${dir}/other.ts`, "export const o = 1;\n"); // same bytes
      await Deno.readTextFile(`${dir}/app.ts`); // only read
      await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2")); // the sentinel
      await waitForBody(url, "v2");
      assert.deepEqual(restartedFiles(server.output), ["app.ts"], server.output);
    },
  );
});

Deno.test("reloader --poll detects a change", async () => {
  await withServer(
    { "app.ts": appSource("v1") },
    ["app.ts", "--poll", "--interval", "50"],
    async (server, url, dir) => {
      await server.waitForOutput(/\(poll, \d+ files?\)/);
      await waitForBody(url, "v1");
      await Deno.writeTextFile(`${dir}/app.ts`, appSource("polled"));
      await waitForBody(url, "polled");
    },
  );
});

Deno.test("reloader --watch adds a root outside the current directory", async () => {
  await withTempDir({ "shared/config.json": '{"greeting":"one"}' }, async (other) => {
    const app = `const config = JSON.parse(Deno.readTextFileSync(${
      JSON.stringify(`${other}/shared/config.json`)
    }));
export default { fetch: () => new Response(config.greeting) };
`;
    await withServer(
      { "app.ts": app },
      ["app.ts", "--watch", `${other}/shared`],
      async (server, url) => {
        await waitForBody(url, "one");
        await waitForAppIdle(url);
        await Deno.writeTextFile(`${other}/shared/config.json`, '{"greeting":"two"}');
        await server.waitForOutput(/config\.json changed \(named by --watch\) · restarting/);
        await waitForBody(url, "two");
      },
    );
  });
});

Deno.test("GET /__devsrv shows parent, child, generation and the last restart", async () => {
  await withServer({ "app.ts": appSource("v1") }, ["app.ts"], async (_server, url, dir) => {
    await waitForBody(url, "v1");
    await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2"));
    await waitForBody(url, "v2");
    const status =
      await (await fetch(`${url}/__devsrv`, { headers: { accept: "application/json" } })).json();
    assert.equal(status.mode, "reloader");
    assert.equal(status.generation, 2);
    assert.equal(status.state, "ready");
    assert.equal(typeof status.parentPid, "number");
    assert.equal(typeof status.childPid, "number");
    assert.notEqual(status.parentPid, status.childPid);
    assert.match(status.reloader, /^(watchfs|poll)$/);
    assert.deepEqual(status.watchRoots, ["."]);
    assert.equal(status.lastRestart.reason, "change");
    assert.deepEqual(status.lastRestart.files, ["app.ts"]);
    assert.equal(status.lastRestart.ok, true);
    const html = await fetchText(`${url}/__devsrv`, { headers: { accept: "text/html" } });
    assert.match(html.body, /parent pid/);
  });
});

Deno.test("library serve({ reload: true }) re-executes the user's script", async () => {
  const modUrl = new URL("../../src/mod.ts", import.meta.url).href;
  const script = `import { isRunningFromReloader, serve } from ${JSON.stringify(modUrl)};
console.log("top level in " + (isRunningFromReloader() ? "child" : "reloader") + " " + Deno.pid);
await serve(() => new Response("from library v1"), { reload: true, port: 0 });
`;
  await withTempDir({ "server.ts": script }, async (dir) => {
    const server = new DevsrvProcess([], { cwd: dir, script: "server.ts" });
    try {
      const url = await server.url();
      await waitForBody(url, "from library v1");
      await server.waitForOutput(/top level in reloader \d+/);
      await server.waitForOutput(/top level in child \d+/);
      // A standby would run this script's top level, old code and all, before the edit.
      assert.equal((await devsrvStatus(url)).standbyPid, null);
      await Deno.writeTextFile(`${dir}/server.ts`, script.replace("library v1", "library v2"));
      await waitForBody(url, "from library v2");
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
    }
  });
});

/** devsrv in a real terminal (`script` gives it a pty), where it reads keys as a person types. */
class TerminalSession {
  readonly process: Deno.ChildProcess;
  output = "";
  #reading: Promise<void>[];
  #writer: WritableStreamDefaultWriter<Uint8Array>;

  constructor(args: string[], cwd: string) {
    // `exec`: script runs the command through $SHELL, and a shell that stays in between (dash
    // does) dies of the terminal's SIGINT itself, hiding devsrv's own exit code.
    const words = [Deno.execPath(), "run", "-A", MAIN_TS, ...args].map((arg) => `'${arg}'`);
    const command = `exec ${words.join(" ")}`;
    this.process = new Deno.Command("script", {
      args: ["-qfec", command, "/dev/null"],
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = collectOutput(this.process, (text) => this.output += text);
    this.#writer = this.process.stdin.getWriter();
  }

  async url(): Promise<string> {
    return (await waitFor(
      "Running on",
      () => this.output.match(/Running on (http:\/\/[^\s]+)/) ?? undefined,
    ))[1]!;
  }

  type(text: string): Promise<void> {
    return this.#writer.write(new TextEncoder().encode(text));
  }

  /** Waits for the terminal to end, ending it first if it still runs. */
  async close(): Promise<Deno.CommandStatus> {
    await this.#writer.close().catch(() => {});
    try {
      this.process.kill("SIGTERM");
    } catch {
      // already gone
    }
    const status = await this.process.status;
    await Promise.all(this.#reading);
    return status;
  }
}

Deno.test("typing rs and Enter in a terminal restarts the child", async () => {
  await withTempDir({
    "app.ts": "export default { fetch: () => new Response('pid ' + Deno.pid) };\n",
  }, async (dir) => {
    const terminal = new TerminalSession(["serve", "app.ts", "-p", "0"], dir);
    try {
      const url = await terminal.url();
      const first = await waitFor("first child", async () => {
        const body = (await fetchText(url).catch(() => ({ body: "" }))).body;
        return body.startsWith("pid ") ? body : undefined;
      });
      await terminal.type("rs\n");
      await waitFor(
        "restart requested",
        () => /Restart requested \(rs\) · restarting/.test(terminal.output),
      );
      await waitFor("a new child", async () => {
        const body = (await fetchText(url).catch(() => ({ body: first }))).body;
        return body !== first && body.startsWith("pid ");
      });
    } finally {
      await terminal.close();
    }
  });
});

Deno.test("Ctrl+C in a terminal ends parent, child and standby, with exit code 0", async () => {
  await withTempDir({ "app.ts": appSource("v1") }, async (dir) => {
    const terminal = new TerminalSession(["serve", "app.ts", "-p", "0"], dir);
    try {
      const url = await terminal.url();
      await waitForBody(url, "v1");
      const status = await waitFor("a booted standby", async () => {
        const current = await devsrvStatus(url);
        return typeof current.standbyPid === "number" ? current : undefined;
      });
      await terminal.type("\x03"); // the terminal sends SIGINT to the whole foreground group
      assert.equal((await terminal.process.status).code, 0, terminal.output);
      for (const pid of [status.parentPid, status.childPid, status.standbyPid] as number[]) {
        await waitFor(`process ${pid} to end`, () => !processIsAlive(pid), 3000);
      }
    } finally {
      await terminal.close();
    }
  });
});

async function devsrvStatus(url: string): Promise<Record<string, unknown>> {
  return await (await fetch(`${url}/__devsrv`, { headers: { accept: "application/json" } })).json();
}

Deno.test("a standby child is not used when a file Deno read at its start changed (--env-file)", async () => {
  const app =
    "export default { fetch: () => new Response(Deno.env.get('GREETING') ?? 'unset') };\n";
  await withTempDir({ "app.ts": app, ".env": "GREETING=one\n" }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], {
      cwd: dir,
      denoFlags: ["-A", "--env-file=.env"],
    });
    try {
      const url = await server.url();
      await waitForBody(url, "one");
      // The standby has booted, with GREETING=one from the .env of that moment.
      await waitFor(
        "a booted standby",
        async () => typeof (await devsrvStatus(url)).standbyPid === "number",
      );
      await Deno.writeTextFile(`${dir}/.env`, "GREETING=two\n");
      await waitForBody(url, "two");
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
    }
  });
});

Deno.test("a standby child serves the next change of an app module", async () => {
  await withServer({ "app.ts": appSource("v1") }, ["app.ts"], async (_server, url, dir) => {
    await waitForBody(url, "v1");
    const standby = await waitFor(
      "a booted standby",
      async () => (await devsrvStatus(url)).standbyPid as number | null,
    );
    await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2"));
    await waitForBody(url, "v2");
    const status = await devsrvStatus(url);
    assert.equal(status.childPid, standby, "the standby became the child");
  });
});

Deno.test("a standby child is not used when the import map a deno.json names changes", async () => {
  const map = (version: string) => JSON.stringify({ imports: { lib: `./${version}.ts` } });
  await withTempDir({
    "deno.json": JSON.stringify({ importMap: "./maps/im.json" }),
    "maps/im.json": map("../v1"),
    "v1.ts": 'export const text = "lib v1";\n',
    "v2.ts": 'export const text = "lib v2";\n',
    "app.ts": 'import { text } from "lib";\nexport default { fetch: () => new Response(text) };\n',
  }, async (dir) => {
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], { cwd: dir });
    try {
      const url = await server.url();
      await waitForBody(url, "lib v1");
      await waitFor(
        "a booted standby",
        async () => typeof (await devsrvStatus(url)).standbyPid === "number",
      );
      await Deno.writeTextFile(`${dir}/maps/im.json`, map("../v2"));
      await waitForBody(url, "lib v2");
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
    }
  });
});
