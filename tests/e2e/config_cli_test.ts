/**
 * Configuration as a person meets it: the real `devsrv serve` configured
 * by deno.json's `"devsrv"` section, by `DEVSRV_*`, `PORT` and `HOST`, and
 * by flags over both; `--print-config`; and one line with exit code 2 for
 * a bad key or variable.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  appSource,
  DevsrvProcess,
  fetchText,
  freePort,
  runDevsrv,
  waitFor,
  withTempDir,
} from "../_harness/devsrv.ts";

function assertOneLineError(output: string, pattern: RegExp): void {
  const lines = output.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${output}`);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
}

/** Starts devsrv, waits for its address, runs `body`, and stops it with exit code 0. */
async function withDevsrv(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
  body: (server: DevsrvProcess, url: string) => Promise<void>,
): Promise<void> {
  const server = new DevsrvProcess(args, options);
  try {
    await body(server, await server.url());
  } finally {
    const status = await server.stop();
    assert.equal(status.code, 0, server.output);
  }
}

Deno.test("devsrv serve takes its entry and port from deno.json's devsrv section", async () => {
  const port = freePort();
  await withTempDir({
    "deno.jsonc": `{
  // read by devsrv; Deno ignores the section
  "devsrv": { "app": "src/app.ts", "port": ${port}, "quiet": true },
}
`,
    "src/app.ts": appSource("from deno.json"),
  }, async (dir) => {
    await withDevsrv(["serve"], { cwd: dir }, async (server, url) => {
      assert.equal(url, `http://127.0.0.1:${port}`);
      assert.equal((await fetchText(url)).body, "from deno.json");
      assert.match(server.output, /serving src\/app\.ts/);
      assert.doesNotMatch(server.output, /GET \/ 200/, "quiet from deno.json");
    });
  });
});

Deno.test("devsrv serve: flags over the environment over deno.json, and --print-config says so", async () => {
  const [fromConfig, fromEnv, fromFlag] = [freePort(), freePort(), freePort()];
  await withTempDir({
    "deno.json": JSON.stringify({ devsrv: { port: fromConfig, grace: 100, watch: ["lib"] } }),
    "app.ts": appSource("hi"),
    "lib/util.ts": "export {};\n",
  }, async (dir) => {
    const env = { DEVSRV_PORT: String(fromEnv), DEVSRV_GRACE: "200" };
    await withDevsrv(["serve", "app.ts"], { cwd: dir }, (_server, url) => {
      assert.equal(url, `http://127.0.0.1:${fromConfig}`, "deno.json over the default");
      return Promise.resolve();
    });
    await withDevsrv(["serve", "app.ts"], { cwd: dir, env }, (_server, url) => {
      assert.equal(url, `http://127.0.0.1:${fromEnv}`, "the environment over deno.json");
      return Promise.resolve();
    });
    await withDevsrv(["serve", "app.ts", "-p", String(fromFlag)], { cwd: dir, env }, (_, url) => {
      assert.equal(url, `http://127.0.0.1:${fromFlag}`, "the flag over the environment");
      return Promise.resolve();
    });
    const { code, output } = await runDevsrv(
      ["serve", "app.ts", "--grace", "300", "--print-config"],
      dir,
      env,
    );
    assert.equal(code, 0, output);
    assert.match(output, /^configuration file: deno\.json$/m);
    assert.match(output, /^ {2}app +app\.ts +ENTRY/m);
    assert.match(output, new RegExp(`^  port +${fromEnv} +env DEVSRV_PORT`, "m"));
    assert.match(output, /^ {2}grace +300 +--grace/m);
    assert.match(output, /^ {2}watch +lib +deno\.json/m);
    assert.match(output, /^ {2}interval +500 +default/m);
    assert.doesNotMatch(output, /Running on/, "--print-config serves nothing");
  });
});

Deno.test("devsrv serve rejects an unknown key or a wrong type in deno.json with one line and exit code 2", async () => {
  const cases: [unknown, RegExp][] = [
    [
      { prot: 3000 },
      /unknown key "prot" in the "devsrv" section of \S+\/deno\.json; did you mean "port"\?/,
    ],
    [
      { poll: "yes" },
      /"poll": "yes" in \S+\/deno\.json is not true or false; write "poll": true or "poll": false/,
    ],
  ];
  for (const [section, pattern] of cases) {
    await withTempDir({
      "deno.json": JSON.stringify({ devsrv: section }),
      "app.ts": appSource("hi"),
    }, async (dir) => {
      const { code, output } = await runDevsrv(["serve", "app.ts"], dir);
      assert.equal(code, 2, output);
      assertOneLineError(output, pattern);
      assert.ok(output.includes(`${dir}/deno.json`), "the file is named");
    });
  }
});

Deno.test("devsrv serve takes PORT and DEVSRV_APP from the environment", async () => {
  const port = freePort();
  await withTempDir({ "web/app.ts": appSource("from the environment") }, async (dir) => {
    const env = { PORT: String(port), DEVSRV_APP: "web/app.ts" };
    await withDevsrv(["serve"], { cwd: dir, env }, async (server, url) => {
      assert.equal(url, `http://127.0.0.1:${port}`);
      assert.equal((await fetchText(url)).body, "from the environment");
      assert.match(server.output, /serving web\/app\.ts/);
    });
  });
});

Deno.test("DEVSRV_RELOAD=0 is --no-reload", async () => {
  await withTempDir({ "app.ts": appSource("one process") }, async (dir) => {
    const env = { DEVSRV_RELOAD: "0" };
    await withDevsrv(["serve", "app.ts", "-p", "0"], { cwd: dir, env }, async (server, url) => {
      assert.equal((await fetchText(url)).body, "one process");
      assert.match(server.output, /single process pid/);
      assert.doesNotMatch(server.output, /reloader pid/);
    });
  });
});

Deno.test("DEVSRV_POLL=1 forces polling, which sees a change", async () => {
  await withTempDir({ "app.ts": appSource("v1") }, async (dir) => {
    const env = { DEVSRV_POLL: "1", DEVSRV_INTERVAL: "50" };
    await withDevsrv(["serve", "app.ts", "-p", "0"], { cwd: dir, env }, async (server, url) => {
      await server.waitForOutput(/reloader pid \d+ · watching \. \(poll, \d+ files?\)/);
      await waitFor("v1", async () => (await fetchText(url)).body === "v1");
      await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2"));
      await waitFor("v2 after the poll", async () => (await fetchText(url)).body === "v2");
    });
  });
});

Deno.test("devsrv serve names the variable whose value cannot be read, with exit code 2", async () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { DEVSRV_RELOAD: "maybe" },
      /DEVSRV_RELOAD="maybe" is neither on nor off; set DEVSRV_RELOAD to 1/,
    ],
    [{ PORT: "eighty" }, /PORT="eighty" is not a whole number; give PORT a number from 0 to 65535/],
  ];
  await withTempDir({ "app.ts": appSource("hi") }, async (dir) => {
    for (const [env, pattern] of cases) {
      const { code, output } = await runDevsrv(["serve", "app.ts"], dir, env);
      assert.equal(code, 2, output);
      assertOneLineError(output, pattern);
    }
  });
});

Deno.test("HOST beyond loopback warns as --host does", async () => {
  await withTempDir({ "app.ts": appSource("hi") }, async (dir) => {
    const env = { HOST: "0.0.0.0" };
    await withDevsrv(["serve", "app.ts", "-p", "0"], { cwd: dir, env }, async (server) => {
      await server.waitForOutput(
        /WARNING: host 0\.0\.0\.0 makes this development server reachable from other machines/,
      );
    });
  });
});
