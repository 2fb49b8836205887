/**
 * Parsing the command line: pure logic, tested directly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseCommand, parseIntegerFlag } from "../src/cli/args.ts";
import { defaultServeOptions } from "../src/cli/options.ts";
import { UsageError } from "../src/errors.ts";

Deno.test("parseCommand() gives the defaults for a bare serve", () => {
  const command = parseCommand(["serve"]);
  assert.equal(command.kind, "serve");
  if (command.kind === "serve") assert.deepEqual(command.options, defaultServeOptions());
});

Deno.test("parseCommand() reads every flag", () => {
  const command = parseCommand([
    "serve",
    "site",
    "--host",
    "0.0.0.0",
    "-p",
    "0",
    "--no-reload",
    "-q",
    "--watch",
    "lib",
    "--watch",
    "../shared",
    "--ext",
    "ts,.HTML",
    "--ext",
    "css",
    "--ignore",
    "*.gen.ts",
    "--no-gitignore",
    "--debounce",
    "10",
    "--poll",
    "--interval",
    "250",
    "--grace",
    "100",
    "--dotfiles",
    "--no-live-reload",
    "--open",
    "--allowed-host",
    "dev.test",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
  ]);
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") return;
  assert.deepEqual(command.options, {
    entry: "site",
    host: "0.0.0.0",
    port: 0,
    reload: false,
    quiet: true,
    watch: ["lib", "../shared"],
    ext: ["ts", "html", "css"],
    ignore: ["*.gen.ts"],
    gitignore: false,
    debounceMs: 10,
    poll: true,
    intervalMs: 250,
    graceMs: 100,
    dotfiles: true,
    liveReload: false,
    open: true,
    allowedHosts: ["dev.test"],
    cert: "c.pem",
    key: "k.pem",
    args: [],
  });
});

Deno.test("parseCommand() gives what follows -- to the program, and leaves host and port to it", () => {
  const command = parseCommand(["serve", "main.ts", "--", "--port", "9", "x"]);
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") return;
  assert.deepEqual(command.options.args, ["--port", "9", "x"]);
  assert.equal(command.options.port, undefined, "the program's --port is its own");
  assert.equal(command.options.host, undefined);
});

Deno.test("parseCommand() answers help and version", () => {
  assert.deepEqual(parseCommand([]), { kind: "help" });
  assert.deepEqual(parseCommand(["serve", "--help"]), { kind: "help" });
  assert.deepEqual(parseCommand(["help"]), { kind: "help" });
  assert.deepEqual(parseCommand(["-V"]), { kind: "version" });
});

Deno.test("parseCommand() strips brackets from an IPv6 host", () => {
  const command = parseCommand(["serve", "--host", "[::1]"]);
  assert.equal(command.kind === "serve" && command.options.host, "::1");
});

Deno.test("parseIntegerFlag() accepts whole numbers in range only", () => {
  assert.equal(parseIntegerFlag("--port", "8080", 0, 65535), 8080);
  for (const bad of ["", "1.5", "0x10", "1e3", "65536", " ", "-3", "８０"]) {
    assert.throws(() => parseIntegerFlag("--port", bad, 0, 65535), UsageError, bad);
  }
});
