/**
 * The supervisor built in this process, with its own command line and
 * environment (nothing read from argv), driving real children: a program
 * run with devsrv's preload, served through the front on a real port,
 * restarted by calling `restart()` (the watcher and the terminal are other
 * tests' concern), shown as a 503 page while it cannot load, and gone when
 * the session ends. Its decisions are `lifecycle_test.ts`'s.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { defaultServeOptions } from "../../src/options.ts";
import { loadHandler } from "../../src/serve/app_loader.ts";
import type { AppSource } from "../../src/serve/app_source.ts";
import { preloadSpecifier } from "../../src/supervisor/launch_program.ts";
import { Supervisor } from "../../src/supervisor/supervisor.ts";
import { appSource, processIsAlive, waitFor, withTempDir } from "../_harness/devsrv.ts";

/** A supervisor for `app.ts` in `dir`, its lines collected, bound to a free port. */
function supervisorFor(dir: string, lines: string[]): { supervisor: Supervisor; url: string } {
  const entry = `${dir}/app.ts`;
  const source: AppSource = {
    display: "app.ts",
    kind: "module",
    path: entry,
    load: () => loadHandler(entry, "app.ts"),
  };
  const supervisor = new Supervisor({
    source,
    options: { ...defaultServeOptions(), port: 0, liveReload: false, graceMs: 2000 },
    log: createLogger({ print: (line) => lines.push(line), color: false }),
    command: {
      command: Deno.execPath(),
      args: ["run", `--preload=${preloadSpecifier()}`, "-A", entry],
      cwd: dir,
    },
    cwd: dir,
  });
  const { port } = supervisor.bindFirst();
  return { supervisor, url: `http://127.0.0.1:${port}/` };
}

function childPid(supervisor: Supervisor): number | undefined {
  const phase = supervisor.phase;
  return "child" in phase ? phase.child?.pid : undefined;
}

async function body(url: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text() };
}

Deno.test("Supervisor serves a program, restarts it with the new code, and leaves no process behind", async () => {
  await withTempDir({ "app.ts": appSource("v1") }, async (dir) => {
    const lines: string[] = [];
    const { supervisor, url } = supervisorFor(dir, lines);
    const pids: number[] = [];
    try {
      supervisor.restart({ reason: "start", files: [] });
      await waitFor("the first child to serve", () => supervisor.phase.kind === "ready");
      pids.push(childPid(supervisor)!);
      assert.deepEqual(await body(url), { status: 200, text: "v1" });
      await Deno.writeTextFile(`${dir}/app.ts`, appSource("v2"));
      supervisor.restart({ reason: "change", files: ["app.ts"] });
      await waitFor(
        "the next child to serve",
        () => supervisor.phase.kind === "ready" && childPid(supervisor) !== pids[0],
      );
      pids.push(childPid(supervisor)!);
      assert.deepEqual(await body(url), { status: 200, text: "v2" });
      const status = supervisor.status();
      assert.equal(status.state, "ready");
      assert.equal(status.lastRestart?.reason, "change");
      assert.equal(status.lastRestart?.ok, true);
      await waitFor("a standby child", () => supervisor.status().standbyPid ?? undefined);
      pids.push(supervisor.status().standbyPid!);
    } finally {
      await supervisor.shutdown();
    }
    assert.equal(supervisor.phase.kind, "shutdown");
    for (const pid of pids) assert.ok(!processIsAlive(pid), `pid ${pid} outlived the session`);
    assert.ok(lines.some((line) => /Child pid \d+ serving app\.ts · ready in/.test(line)));
  });
});

Deno.test("Supervisor answers with the 503 page while the program cannot load, and serves it once fixed", async () => {
  await withTempDir({ "app.ts": "export default {\n" }, async (dir) => {
    const lines: string[] = [];
    const { supervisor, url } = supervisorFor(dir, lines);
    try {
      supervisor.restart({ reason: "start", files: [] });
      await waitFor("the start to fail", () => supervisor.phase.kind === "failed");
      const page = await body(url);
      assert.equal(page.status, 503);
      assert.match(page.text, /App failed to load/);
      assert.equal(supervisor.route(0, "/").kind, "forward", "to the page server");
      assert.ok(lines.some((line) => line.includes("Waiting for a change to restart")));
      await Deno.writeTextFile(`${dir}/app.ts`, appSource("fixed"));
      supervisor.restart({ reason: "change", files: ["app.ts"] });
      await waitFor("the fixed app to serve", () => supervisor.phase.kind === "ready");
      assert.deepEqual(await body(url), { status: 200, text: "fixed" });
    } finally {
      await supervisor.shutdown();
    }
  });
});
