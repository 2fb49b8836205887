/**
 * How the child's command line is built, under `deno run` and in a
 * compiled binary: pure logic, tested directly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { childCommand, type ReexecInput, splitCmdline } from "../../src/supervisor/reexec.ts";

const base: ReexecInput = {
  execPath: "/usr/local/bin/deno",
  standalone: false,
  args: ["serve", "app.ts", "--port", "0"],
  cmdline: undefined,
  mainModule: "file:///work/my%20app/main.ts",
  permissionFlags: ["--allow-read", "--allow-net"],
  cwd: "/work",
};

Deno.test("childCommand() starts the child where this process started, whatever the script changed", () => {
  assert.equal(childCommand({ ...base, cwd: "/started/here" }).cwd, "/started/here");
});

Deno.test("childCommand() reuses the exact deno arguments from /proc/self/cmdline", () => {
  const cmdline = [
    "deno",
    "run",
    "--allow-read=.",
    "--allow-net=127.0.0.1",
    "--config",
    "deno.json",
    "--env-file=.env",
    "--unstable-kv",
    "main.ts",
    "serve",
    "app.ts",
    "--port",
    "0",
  ];
  assert.deepEqual(childCommand({ ...base, cmdline }), {
    command: "/usr/local/bin/deno",
    args: cmdline.slice(1),
    cwd: "/work",
  });
});

Deno.test("childCommand() rebuilds the arguments where /proc is missing", () => {
  assert.deepEqual(childCommand(base), {
    command: "/usr/local/bin/deno",
    args: [
      "run",
      "--allow-read",
      "--allow-net",
      "/work/my app/main.ts",
      "serve",
      "app.ts",
      "--port",
      "0",
    ],
    cwd: "/work",
  });
});

Deno.test("childCommand() keeps a remote main module as a URL", () => {
  const remote = childCommand({
    ...base,
    mainModule: "https://example.com/main.ts",
    permissionFlags: ["-A"],
  });
  assert.deepEqual(remote.args.slice(0, 3), ["run", "-A", "https://example.com/main.ts"]);
});

Deno.test("childCommand() runs a compiled binary with its own arguments only", () => {
  const compiled = childCommand({
    ...base,
    standalone: true,
    execPath: "/home/me/bin/devsrv",
    cmdline: ["/home/me/bin/devsrv", "serve", "app.ts", "--port", "0"],
  });
  assert.deepEqual(compiled, {
    command: "/home/me/bin/devsrv",
    args: ["serve", "app.ts", "--port", "0"],
    cwd: "/work",
  });
});

Deno.test("splitCmdline() splits NUL-separated arguments and keeps empty ones", () => {
  assert.deepEqual(splitCmdline("deno\0run\0-A\0main.ts\0\0"), [
    "deno",
    "run",
    "-A",
    "main.ts",
    "",
  ]);
  assert.deepEqual(splitCmdline("deno\0run\0"), ["deno", "run"]);
});
