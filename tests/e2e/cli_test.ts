/**
 * The `devsrv` command as a person meets it: help, version, and a clear
 * one-line error with the right exit code for every bad input.
 *
 * @module
 */

import assert from "node:assert/strict";
import { appSource, DevsrvProcess, runDevsrv, withTempDir } from "../_harness/devsrv.ts";

function assertOneLineError(output: string, pattern: RegExp): void {
  const lines = output.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${output}`);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(output, /^\s+at /m, "no stack trace");
}

Deno.test("devsrv --help lists every flag", async () => {
  for (const args of [["--help"], ["serve", "--help"], []]) {
    const { code, output } = await runDevsrv(args);
    assert.equal(code, 0);
    for (
      const flag of [
        "--host",
        "--port",
        "--no-reload",
        "--quiet",
        "--help",
        "--version",
        "--watch",
        "--ext",
        "--ignore",
        "--no-gitignore",
        "--debounce",
        "--poll",
        "--interval",
        "--grace",
        "--dotfiles",
        "--no-live-reload",
        "--open",
        "--allowed-host",
        "--cert",
        "--key",
        "--cors",
        "--print-config",
        "DEVSRV_",
        "deno.json",
      ]
    ) {
      assert.ok(output.includes(flag), `help mentions ${flag}`);
    }
  }
});

Deno.test("devsrv --version prints the version", async () => {
  const { code, output } = await runDevsrv(["--version"]);
  assert.equal(code, 0);
  assert.match(output, /^devsrv \d+\.\d+\.\d+ \(Deno \d/);
});

Deno.test("devsrv rejects bad command lines with exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["serve", "--bogus"], /unknown flag "--bogus"/],
    [["serve", "--port"], /"--port" needs a value/],
    [
      ["serve", "--port", "abc"],
      /--port "abc" is not a whole number.*0 to 65535/,
    ],
    [["serve", "--port", "70000"], /--port 70000 is out of range/],
    [["serve", "--port", "-1"], /"--port" is followed by a value that starts with "-"/],
    [["serve", "--port=-1"], /--port -1 is out of range/],
    [["serve", "--debounce", "x"], /--debounce "x" is not a whole number/],
    [["serve", "--cert", "c.pem"], /--cert was given without --key/],
    [["serve", "a.ts", "b.ts"], /serve takes one ENTRY/],
    [["bogus"], /unknown command "bogus".*devsrv serve bogus/],
    [["serve", "--ext", ","], /--ext is empty/],
    [
      ["serve", "--host", "localhost:3000"],
      /--host "localhost:3000" has a port in it.*--port 3000/,
    ],
  ];
  for (const [args, pattern] of cases) {
    const { code, output } = await runDevsrv(args);
    assert.equal(code, 2, `exit code for ${args.join(" ")}:\n${output}`);
    assertOneLineError(output, pattern);
  }
});

Deno.test("devsrv serve reports a missing entry", async () => {
  await withTempDir({}, async (dir) => {
    const missing = await runDevsrv(["serve", "nope.ts", "--no-reload"], dir);
    assert.equal(missing.code, 1);
    assertOneLineError(missing.output, /entry "nope.ts" does not exist/);
    const nothing = await runDevsrv(["serve", "--no-reload"], dir);
    assert.equal(nothing.code, 1);
    assertOneLineError(
      nothing.output,
      /no app found .*looked for app\.ts.*index\.html and public\//,
    );
  });
});

Deno.test("devsrv serve --no-reload reports broken apps in one line", async () => {
  await withTempDir({
    "syntax.ts": "export default {\n  fetch() {\n    return new Response('x'\n  }\n};\n",
    "throws.ts": "const ready = true;\nif (ready) throw new Error('boom at import');\n",
    "none.ts": "export const port = 1;\nexport function helper() {}\n",
    "missing_import.ts":
      "import './nowhere.ts';\nexport default { fetch: () => new Response('') };\n",
    "notes.txt": "not a module",
  }, async (dir) => {
    const cases: [string, RegExp][] = [
      ["syntax.ts", /app "syntax.ts" has a syntax error at syntax\.ts:4:3/],
      [
        "throws.ts",
        /app "throws.ts" threw while loading at throws\.ts:2:\d+: Error: boom at import/,
      ],
      [
        "none.ts",
        /no request handler \(its exports: helper, port\); start a server .* or export one: export default \{ fetch/,
      ],
      [
        "missing_import.ts",
        /imports a module that cannot be found.*nowhere\.ts/,
      ],
      ["notes.txt", /entry "notes.txt" is not a module devsrv can serve/],
    ];
    for (const [entry, pattern] of cases) {
      const { code, output } = await runDevsrv([
        "serve",
        entry,
        "--no-reload",
        "-p",
        "0",
      ], dir);
      assert.equal(code, 1, `${entry}: ${output}`);
      assertOneLineError(output, pattern);
    }
  });
});

Deno.test("devsrv serve reports a port in use and suggests --port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await withTempDir({ "app.ts": appSource("hi") }, async (dir) => {
      for (const mode of [["--no-reload"], []]) {
        const { code, output } = await runDevsrv([
          "serve",
          "-p",
          String(listener.addr.port),
          ...mode,
        ], dir);
        assert.equal(code, 1, output);
        assertOneLineError(
          output,
          new RegExp(`port ${listener.addr.port} is already in use.*--port`),
        );
      }
    });
  } finally {
    listener.close();
  }
});

Deno.test("devsrv serve reports a host it cannot bind", async () => {
  await withTempDir({ "app.ts": appSource("hi") }, async (dir) => {
    const { code, output } = await runDevsrv([
      "serve",
      "--host",
      "192.0.2.1",
      "-p",
      "0",
      "--no-reload",
    ], dir);
    assert.equal(code, 1, output);
    assertOneLineError(
      output,
      /cannot listen on 192\.0\.2\.1\b.*--host 127\.0\.0\.1/,
    );
  });
});

Deno.test("a host that cannot be bound, or a missing --watch path, is one line before the program runs", async () => {
  const program = `Deno.writeTextFileSync("ran", "yes");
Deno.serve({ port: 0 }, () => new Response("hi"));
`;
  await withTempDir({ "main.ts": program }, async (dir) => {
    const cases: [string[], Record<string, string>, RegExp, number][] = [
      [
        ["--host", "no-such-host.invalid"],
        {},
        /cannot listen on no-such-host\.invalid: .*--host 127\.0\.0\.1/,
        1,
      ],
      [[], { HOST: "192.0.2.1" }, /cannot listen on 192\.0\.2\.1: .*--host 127\.0\.0\.1/, 1],
      [
        ["--watch", "no/such/dir"],
        {},
        /a path to watch does not exist: no\/such\/dir; give --watch/,
        2,
      ],
    ];
    for (const [args, env, pattern, exitCode] of cases) {
      const { code, output } = await runDevsrv(["serve", "main.ts", ...args], dir, env);
      assert.equal(code, exitCode, output);
      assertOneLineError(output, pattern);
      assert.equal(await Deno.stat(`${dir}/ran`).catch(() => null), null, "the program never ran");
    }
  });
});

Deno.test("devsrv serve warns when the host is not loopback", async () => {
  await withTempDir({ "app.ts": appSource("hi") }, async (dir) => {
    const server = new DevsrvProcess([
      "serve",
      "--host",
      "0.0.0.0",
      "-p",
      "0",
      "--no-reload",
    ], { cwd: dir });
    try {
      await server.url();
      await server.waitForOutput(
        /WARNING: host 0\.0\.0\.0 makes this development server reachable/,
      );
    } finally {
      assert.equal((await server.stop("SIGINT")).code, 0);
    }
  });
});

Deno.test("DEVSRV_RUN_MAIN=true set by hand is one error: line, whatever else the environment holds", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stale = `127.0.0.1:${(closed.addr as Deno.NetAddr).port}`;
  closed.close(); // the address of a reloader that is gone
  const environments: [Record<string, string>, RegExp][] = [
    [{}, /DEVSRV_CHANNEL, DEVSRV_TOKEN, DEVSRV_GENERATION are missing/],
    [{ DEVSRV_GENERATION: "1" }, /DEVSRV_CHANNEL, DEVSRV_TOKEN are missing/],
    [
      { DEVSRV_CHANNEL: stale, DEVSRV_TOKEN: "x", DEVSRV_GENERATION: "1" },
      new RegExp(`no devsrv reloader listens at ${stale}`),
    ],
  ];
  await withTempDir({ "app.ts": appSource("x") }, async (dir) => {
    for (const [env, pattern] of environments) {
      for (
        const args of [["serve", "app.ts"], ["serve", "app.ts", "--no-reload"], ["serve", "."]]
      ) {
        const { code, output } = await runDevsrv(args, dir, { DEVSRV_RUN_MAIN: "true", ...env });
        assert.equal(code, 1, output);
        assertOneLineError(output, /^error: DEVSRV_RUN_MAIN=true is set, but no devsrv reloader/);
        assert.match(output, pattern);
        assert.match(output, /; unset DEVSRV_RUN_MAIN and run devsrv again$/m);
      }
    }
  });
});
