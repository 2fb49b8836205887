/**
 * Parsing the command line: pure logic, tested directly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseCommand, parseIntegerFlag } from "../../src/cli/args.ts";
import { resolveLayers } from "../../src/cli/layers.ts";
import { defaultServeOptions, type ServeOptions } from "../../src/options.ts";
import { UsageError } from "../../src/errors.ts";

/** The options a command line gives on its own, over the defaults. */
function optionsOf(args: string[]): ServeOptions {
  const command = parseCommand(args);
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") throw new Error("not serve");
  return resolveLayers([command.flags], command.args).options;
}

Deno.test("parseCommand() gives the defaults for a bare serve", () => {
  const command = parseCommand(["serve"]);
  assert.deepEqual(command, { kind: "serve", flags: {}, args: [], printConfig: false });
  assert.deepEqual(optionsOf(["serve"]), defaultServeOptions());
});

Deno.test("parseCommand() reads every flag", () => {
  const options = optionsOf([
    "serve",
    "site",
    "--host",
    "0.0.0.0",
    "-p",
    "0",
    "--no-reload",
    "-q",
    "-v",
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
    "--no-head-start",
    "--dotfiles",
    "--no-live-reload",
    "--open",
    "--allowed-host",
    "dev.test",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--cors",
    "http://LOCALHOST:5173/",
    "--cors",
    "*",
  ]);
  assert.deepEqual(options, {
    entry: "site",
    host: "0.0.0.0",
    port: 0,
    reload: false,
    quiet: true,
    verbose: true,
    watch: ["lib", "../shared"],
    ext: ["ts", "html", "css"],
    ignore: ["*.gen.ts"],
    gitignore: false,
    debounceMs: 10,
    poll: true,
    intervalMs: 250,
    graceMs: 100,
    headStart: false,
    dotfiles: true,
    liveReload: false,
    open: true,
    allowedHosts: ["dev.test"],
    cert: "c.pem",
    key: "k.pem",
    cors: ["http://localhost:5173", "*"],
    args: [],
  });
});

Deno.test("parseCommand() gives what follows -- to the program, and leaves host and port to it", () => {
  const options = optionsOf(["serve", "main.ts", "--", "--port", "9", "x"]);
  assert.deepEqual(options.args, ["--port", "9", "x"]);
  assert.equal(options.port, undefined, "the program's --port is its own");
  assert.equal(options.host, undefined);
});

Deno.test("parseCommand() answers help and version", () => {
  assert.deepEqual(parseCommand([]), { kind: "help" });
  assert.deepEqual(parseCommand(["serve", "--help"]), { kind: "help" });
  assert.deepEqual(parseCommand(["help"]), { kind: "help" });
  assert.deepEqual(parseCommand(["-V"]), { kind: "version" });
  const printing = parseCommand(["serve", "--help", "--print-config"]);
  assert.equal(printing.kind === "serve" && printing.printConfig, true);
});

Deno.test("parseCommand() names where each value came from", () => {
  const command = parseCommand(["serve", "app.ts", "-p", "3000", "--no-poll"]);
  if (command.kind !== "serve") throw new Error("not serve");
  assert.deepEqual(command.flags.entry?.origin, { kind: "flag", name: "ENTRY" });
  assert.deepEqual(command.flags.port, { value: 3000, origin: { kind: "flag", name: "--port" } });
  assert.deepEqual(command.flags.poll, { value: false, origin: { kind: "flag", name: "--poll" } });
});

Deno.test("parseCommand() rejects a --cors that is not an origin", () => {
  for (const bad of ["localhost:5173", "http://localhost:5173/app", "file:///x", "null", ""]) {
    assert.throws(() => parseCommand(["serve", "--cors", bad]), /is not an origin/, bad);
  }
});

Deno.test("parseCommand() strips brackets from an IPv6 host", () => {
  assert.equal(optionsOf(["serve", "--host", "[::1]"]).host, "::1");
});

Deno.test("parseIntegerFlag() accepts whole numbers in range only", () => {
  assert.equal(parseIntegerFlag("--port", "8080", 0, 65535), 8080);
  for (const bad of ["", "1.5", "0x10", "1e3", "65536", " ", "-3", "８０"]) {
    assert.throws(() => parseIntegerFlag("--port", bad, 0, 65535), UsageError, bad);
  }
});
