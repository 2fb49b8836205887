/**
 * Env files and restarts: which files, what they define, and what a child
 * inherits. Pure logic, tested directly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { childEnvironment, parseEnvFile } from "../../src/supervisor/env_files.ts";
import { envFilePaths } from "../../src/watch/startup_files.ts";

Deno.test("envFilePaths() reads --env-file in every spelling, and stops at the script", () => {
  assert.deepEqual(
    envFilePaths([
      "run",
      "-A",
      "--env-file",
      "--env-file=config/dev.env",
      "main.ts",
      "--env-file=x",
    ], "/app"),
    ["/app/.env", "/app/config/dev.env"],
  );
  assert.deepEqual(envFilePaths(["-A", "--env=/etc/app.env", "main.ts"], "/app"), ["/etc/app.env"]);
  assert.deepEqual(envFilePaths(["serve", "app.ts"], "/app"), []); // a compiled binary's args
});

Deno.test("parseEnvFile() reads names and values as dotenv files write them", () => {
  const variables = parseEnvFile(
    [
      "# a comment",
      "PLAIN=value",
      "export EXPORTED=yes",
      'DOUBLE="two words"',
      "SINGLE='kept $as is'",
      "TRAILING=value # comment",
      "EMPTY=",
      "  SPACED = padded  ",
      "not a line",
      "WINDOWS=crlf\r",
    ].join("\n"),
  );
  assert.deepEqual(Object.fromEntries(variables), {
    PLAIN: "value",
    EXPORTED: "yes",
    DOUBLE: "two words",
    SINGLE: "kept $as is",
    TRAILING: "value",
    EMPTY: "",
    SPACED: "padded",
    WINDOWS: "crlf",
  });
});

Deno.test("childEnvironment() drops what the env files gave, and keeps what the user set", () => {
  const fromFiles = new Map([["GREETING", "one"], ["PORT", "8000"]]);
  const env = { GREETING: "one", PORT: "9999", PATH: "/usr/bin" };
  assert.deepEqual(childEnvironment(env, fromFiles), { PORT: "9999", PATH: "/usr/bin" });
});
