/**
 * What a fresh machine downloads to serve: `deno task serve` in an empty
 * `DENO_DIR` fetches the packages serving needs (deno.lock) and none that
 * only the tests use (tests/deno.lock).
 *
 * @module
 */

import assert from "node:assert/strict";
import { collectOutput, REPO_ROOT, waitFor } from "../_harness/devsrv.ts";

/** The npm package names a lock file pins, e.g. `mime` or `@puppeteer/browsers`. */
async function lockedPackages(path: string): Promise<Set<string>> {
  const lock = JSON.parse(await Deno.readTextFile(path)) as { npm?: Record<string, unknown> };
  return new Set(Object.keys(lock.npm ?? {}).map((key) => key.slice(0, key.lastIndexOf("@"))));
}

/** The npm packages in a `DENO_DIR`'s cache, scoped ones as `@scope/name`. */
function cachedPackages(denoDir: string): string[] {
  const registry = `${denoDir}/npm/registry.npmjs.org`;
  const names: string[] = [];
  try {
    for (const entry of Deno.readDirSync(registry)) {
      if (!entry.name.startsWith("@")) {
        names.push(entry.name);
        continue;
      }
      for (const scoped of Deno.readDirSync(`${registry}/${entry.name}`)) {
        names.push(`${entry.name}/${scoped.name}`);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

Deno.test("deno task serve in a fresh DENO_DIR fetches no test-only package", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "devsrv_deno_dir_" });
  const serving = await lockedPackages(`${REPO_ROOT}deno.lock`);
  const testOnly = [...await lockedPackages(`${REPO_ROOT}tests/deno.lock`)]
    .filter((name) => !serving.has(name));
  assert.ok(testOnly.includes("puppeteer-core"), "tests/deno.lock pins the browser driver");
  const task = new Deno.Command(Deno.execPath(), {
    args: ["task", "serve", "-p", "0"],
    cwd: REPO_ROOT,
    env: { DENO_DIR: denoDir, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const reading = collectOutput(task, (text) => output += text);
  try {
    const url = await waitFor(
      "the served example",
      () => output.match(/Running on (http:\/\/\S+)/)?.[1],
      60_000,
    ).catch((error) => {
      throw new Error(`${error.message}\n${output}`);
    });
    await waitFor("the first child", () => output.includes("ready in"), 60_000);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const cached = cachedPackages(denoDir);
    assert.deepEqual(cached.filter((name) => !serving.has(name)), [], "only locked packages");
    assert.deepEqual(cached.filter((name) => testOnly.includes(name)), []);
    assert.doesNotMatch(output, /puppeteer/);
  } finally {
    // `deno task` runs devsrv as its own process: stop devsrv by its pid, then the task ends.
    const pid = output.match(/reloader pid (\d+)/)?.[1];
    if (pid) Deno.kill(Number(pid), "SIGTERM");
    else task.kill("SIGTERM");
    await task.status;
    await Promise.all(reading);
    await Deno.remove(denoDir, { recursive: true });
  }
});
