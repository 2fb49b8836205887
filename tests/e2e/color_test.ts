/**
 * Colour: `NO_COLOR` and `FORCE_COLOR` honoured as Deno honours them, none
 * when the output is not a terminal, and the child's lines following the
 * parent that relays them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { colorWanted } from "../../src/log.ts";
import { DevsrvProcess, fetchText, runDevsrv, withTempDir } from "../_harness/devsrv.ts";

const RED = "\x1b[31m";

Deno.test("colorWanted() follows FORCE_COLOR, then NO_COLOR, then the terminal", () => {
  const cases: [Parameters<typeof colorWanted>[0], boolean, boolean][] = [
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: "1" }, true, false],
    [{ NO_COLOR: "" }, true, true],
    [{ FORCE_COLOR: "1" }, false, true],
    [{ FORCE_COLOR: "0" }, false, true],
    [{ FORCE_COLOR: "" }, false, false],
    [{ FORCE_COLOR: "1", NO_COLOR: "1" }, false, true],
    [{ DEVSRV_COLOR: "1", NO_COLOR: "1" }, false, true],
    [{ DEVSRV_COLOR: "0", FORCE_COLOR: "1" }, true, false],
  ];
  for (const [env, isTerminal, expected] of cases) {
    assert.equal(colorWanted(env, isTerminal), expected, `${JSON.stringify(env)} ${isTerminal}`);
  }
});

/** Runs a program whose handler throws, asks once, and returns devsrv's output. */
async function outputOfAFailingRequest(env: Record<string, string>): Promise<string> {
  let output = "";
  await withTempDir({
    "main.ts": 'Deno.serve({ port: 0 }, () => {\n  throw new Error("boom");\n});\n',
  }, async (dir) => {
    const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir, env });
    try {
      const response = await fetchText(`${await server.url()}/`);
      assert.equal(response.status, 500);
      await server.waitForOutput(/Error in GET \//);
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
      output = server.output;
    }
  });
  return output;
}

Deno.test("devsrv colours its lines, the child's too, when FORCE_COLOR is set", async () => {
  const output = await outputOfAFailingRequest({ NO_COLOR: "", FORCE_COLOR: "1" });
  const line = output.split("\n").find((line) => line.includes("Error in GET /"));
  assert.ok(line?.startsWith(`${RED} * child `), `a red child line: ${JSON.stringify(line)}`);
});

Deno.test("devsrv's lines have no colour when output is not a terminal, or with NO_COLOR", async () => {
  for (const env of [{ NO_COLOR: "", FORCE_COLOR: "" }, { NO_COLOR: "1", FORCE_COLOR: "" }]) {
    const output = await outputOfAFailingRequest(env);
    const ours = output.split("\n").filter((line) => line.includes(" * "));
    assert.ok(ours.length > 2, output);
    for (const line of ours) {
      assert.ok(!line.includes("\x1b["), `no colour in ${JSON.stringify(line)}`);
    }
  }
});

Deno.test("--no-reload turns Deno's report of a program that fails to load into one line, coloured or not", async () => {
  await withTempDir(
    { "main.ts": 'import "./missing.ts";\nDeno.serve(() => new Response("x"));\n' },
    async (dir) => {
      // Deno colours its own "error:" even into a pipe, unless NO_COLOR is set.
      for (const env of [{ NO_COLOR: "", FORCE_COLOR: "" }, { NO_COLOR: "1", FORCE_COLOR: "" }]) {
        const { code, output } = await runDevsrv(
          ["serve", "main.ts", "--no-reload", "-p", "0"],
          dir,
          env,
        );
        assert.equal(code, 1, output);
        const lines = output.trim().split("\n");
        assert.equal(lines.length, 1, `one line with ${JSON.stringify(env)}:\n${output}`);
        assert.match(lines[0]!, /^error: app "main\.ts" imports a module that cannot be found/);
      }
    },
  );
});
