/**
 * The pure parts of running a user's program: where its servers are served
 * (public address), how Node's `listen()` arguments read, how the child's
 * command line is built, and how a child's exit is explained.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readListenArguments } from "../../src/serve/capture_node_http.ts";
import { narrowedHost, publicHost, publicPort } from "../../src/listen/public_address.ts";
import {
  programCommand,
  type ReexecInput,
  splitRunCommandLine,
} from "../../src/supervisor/reexec.ts";
import { denoErrorInOutput, failureFromExit } from "../../src/supervisor/child_failure.ts";

const none = { host: undefined, port: undefined };

Deno.test("publicPort() takes --port for the first server, else the program's port, else 8000", () => {
  assert.equal(publicPort(0, { hostname: undefined, port: 3000 }, none), 3000);
  assert.equal(publicPort(0, { hostname: undefined, port: undefined }, none), 8000);
  assert.equal(publicPort(0, { hostname: undefined, port: 0 }, none), 0);
  assert.equal(publicPort(0, { hostname: undefined, port: 3000 }, { ...none, port: 9000 }), 9000);
  assert.equal(publicPort(1, { hostname: undefined, port: 3001 }, { ...none, port: 9000 }), 3001);
});

Deno.test("publicHost() keeps loopback, narrows everything else unless --host says so", () => {
  assert.equal(publicHost({ hostname: undefined, port: 1 }, none), "127.0.0.1");
  assert.equal(publicHost({ hostname: "0.0.0.0", port: 1 }, none), "127.0.0.1");
  assert.equal(publicHost({ hostname: "::", port: 1 }, none), "127.0.0.1");
  assert.equal(publicHost({ hostname: "192.168.1.5", port: 1 }, none), "127.0.0.1");
  assert.equal(publicHost({ hostname: "localhost", port: 1 }, none), "127.0.0.1");
  assert.equal(publicHost({ hostname: "[::1]", port: 1 }, none), "::1");
  assert.equal(publicHost({ hostname: "127.0.0.2", port: 1 }, none), "127.0.0.2");
  assert.equal(
    publicHost({ hostname: "127.0.0.1", port: 1 }, { ...none, host: "0.0.0.0" }),
    "0.0.0.0",
  );
});

Deno.test("narrowedHost() names what a program asked for beyond loopback, only when it is narrowed", () => {
  assert.equal(narrowedHost({ hostname: "0.0.0.0", port: 1 }, none), "0.0.0.0");
  assert.equal(narrowedHost({ hostname: undefined, port: 1 }, none), undefined);
  assert.equal(narrowedHost({ hostname: "127.0.0.1", port: 1 }, none), undefined);
  assert.equal(
    narrowedHost({ hostname: "0.0.0.0", port: 1 }, { ...none, host: "0.0.0.0" }),
    undefined,
  );
});

Deno.test("readListenArguments() reads every form of Node's listen()", () => {
  const callback = () => {};
  const read = (...args: unknown[]) => {
    const result = readListenArguments(args);
    return result &&
      {
        port: result.port,
        host: result.host,
        backlog: result.backlog,
        cb: result.callback === callback,
      };
  };
  assert.deepEqual(read(), { port: 0, host: undefined, backlog: undefined, cb: false });
  assert.deepEqual(read(callback), { port: 0, host: undefined, backlog: undefined, cb: true });
  assert.deepEqual(read(3000), { port: 3000, host: undefined, backlog: undefined, cb: false });
  assert.deepEqual(read("3000", callback), {
    port: 3000,
    host: undefined,
    backlog: undefined,
    cb: true,
  });
  assert.deepEqual(read(3000, "0.0.0.0", 511, callback), {
    port: 3000,
    host: "0.0.0.0",
    backlog: 511,
    cb: true,
  });
  assert.deepEqual(read(3000, 100), { port: 3000, host: undefined, backlog: 100, cb: false });
  assert.deepEqual(read({ port: 4000, host: "::" }, callback), {
    port: 4000,
    host: "::",
    backlog: undefined,
    cb: true,
  });
  assert.deepEqual(read({ port: "4001" }), {
    port: 4001,
    host: undefined,
    backlog: undefined,
    cb: false,
  });
  assert.deepEqual(read(undefined, callback), {
    port: 0,
    host: undefined,
    backlog: undefined,
    cb: true,
  });
  assert.equal(read("/tmp/app.sock"), undefined, "a Unix socket path is not captured");
  assert.equal(read({ path: "/tmp/app.sock" }), undefined);
  assert.equal(read({ fd: 3 }), undefined);
  assert.equal(read({ _handle: {} }), undefined, "a server handle is not captured");
});

const input: ReexecInput = {
  execPath: "/usr/bin/deno",
  standalone: false,
  args: ["serve", "app.ts"],
  cmdline: [
    "deno",
    "run",
    "-A",
    "--env-file=.env",
    "--config",
    "x.json",
    "main.ts",
    "serve",
    "app.ts",
  ],
  mainModule: "file:///work/main.ts",
  permissionFlags: ["--allow-net"],
  cwd: "/work",
};
const target = {
  preload: "/work/src/serve/preload.ts",
  entry: "/app/main.ts",
  args: ["--flag", "x"],
};

Deno.test("splitRunCommandLine() finds the script by the main module, not by position", () => {
  assert.deepEqual(splitRunCommandLine(input.cmdline!, input.mainModule, input.cwd), {
    denoFlags: ["-A", "--env-file=.env", "--config", "x.json"],
    script: "main.ts",
    scriptArgs: ["serve", "app.ts"],
  });
  // `deno main.ts` without `run`, the script given as an absolute path or a URL.
  assert.equal(
    splitRunCommandLine(["deno", "/work/main.ts", "serve"], input.mainModule, "/")?.script,
    "/work/main.ts",
  );
  assert.equal(
    splitRunCommandLine(["deno", "run", "file:///work/main.ts"], input.mainModule, "/")?.script,
    "file:///work/main.ts",
  );
  assert.equal(
    splitRunCommandLine(["deno", "run", "other.ts"], input.mainModule, "/work"),
    undefined,
  );
});

Deno.test("programCommand() runs the program as the main module with devsrv preloaded and the same Deno flags", () => {
  assert.deepEqual(programCommand(input, target), {
    command: "/usr/bin/deno",
    args: [
      "run",
      "--preload=/work/src/serve/preload.ts",
      "-A",
      "--env-file=.env",
      "--config",
      "x.json",
      "/app/main.ts",
      "--flag",
      "x",
    ],
  });
  assert.deepEqual(programCommand({ ...input, cmdline: undefined }, target).args, [
    "run",
    "--preload=/work/src/serve/preload.ts",
    "--allow-net",
    "/app/main.ts",
    "--flag",
    "x",
  ]);
});

Deno.test("programCommand() in a compiled binary re-executes the binary itself", () => {
  const compiled = {
    ...input,
    standalone: true,
    execPath: "/usr/local/bin/devsrv",
    cmdline: undefined,
  };
  assert.deepEqual(programCommand(compiled, target), {
    command: "/usr/local/bin/devsrv",
    args: ["serve", "app.ts"],
    cwd: "/work",
  });
});

Deno.test("denoErrorInOutput() reads Deno's last error report, colour codes and backtrace aside", () => {
  const output =
    "booting\n\x1b[1m\x1b[31merror\x1b[0m: Uncaught (in promise) TypeError: boom\n    at file:///app/main.ts:3:9\n\nStack backtrace:\n   0: <unknown>\n";
  assert.deepEqual(denoErrorInOutput(output), {
    name: "TypeError",
    message: "boom",
    text: "error: Uncaught (in promise) TypeError: boom\n    at file:///app/main.ts:3:9",
    uncaught: true,
  });
  const missing = denoErrorInOutput(
    'error: Module not found "file:///app/x.ts".\n    at file:///app/main.ts:1:8\n',
  );
  assert.equal(missing?.message, 'Module not found "file:///app/x.ts".');
  assert.equal(denoErrorInOutput("all fine\n"), undefined);
});

Deno.test("failureFromExit() tells a failed start, a crash, a program that ended, and a bare exit apart", () => {
  const failed = { success: false, code: 1, signal: null };
  const syntax = "error: SyntaxError: Expression expected\n    at file:///app/main.ts:2:5\n";
  const start = failureFromExit(failed, syntax, "main.ts", false);
  assert.match(
    start.message,
    /^app "main\.ts" has a syntax error at .*main\.ts:2:5: Expression expected$/,
  );
  assert.equal(start.line, 2);
  const crash = failureFromExit(
    failed,
    "error: Uncaught Error: gone\n    at file:///app/main.ts:9:1\n",
    "main.ts",
    true,
  );
  assert.equal(crash.message, 'app "main.ts" crashed: Error: gone');
  const ended = failureFromExit(
    { success: true, code: 0, signal: null },
    "hello\n",
    "main.ts",
    false,
  );
  assert.match(ended.message, /ended \(exit code 0\) without starting a server/);
  assert.match(ended.fix ?? "", /Deno\.serve\(handler\)/);
  const killed = failureFromExit(
    { success: false, code: 137, signal: "SIGKILL" },
    "",
    "main.ts",
    true,
  );
  assert.equal(killed.message, "the child was killed by SIGKILL");
});
