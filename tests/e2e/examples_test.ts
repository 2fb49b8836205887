/**
 * Every example under `examples/`, run as its README line says: `deno task
 * dev` in its folder, with devsrv installed as a command (`deno install`
 * into a temporary root, on `PATH`). Each type-checks with its own
 * deno.json, serves its page, and stops cleanly.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import { collectOutput, fetchText, MAIN_TS, REPO_ROOT, waitFor } from "../_harness/devsrv.ts";

/** One example and what its page says. */
interface Example {
  /** Its folder under `examples/`. */
  dir: string;
  /** The module to type-check; a static site has none. */
  module?: string;
  /** What its first page shows. */
  text: RegExp;
  /** Arguments for `deno task dev`, and the environment. */
  args: string[];
  env?: Record<string, string>;
}

const EXAMPLES: Example[] = [
  { dir: "hello", module: "app.ts", text: /Hello from devsrv/, args: ["-p", "0"] },
  { dir: "deno_serve", module: "main.ts", text: /Hello from Deno\.serve/, args: ["-p", "0"] },
  { dir: "hono", module: "main.ts", text: /Hello from Hono/, args: ["-p", "0"] },
  { dir: "express", module: "main.ts", text: /Hello from Express/, args: ["-p", "0"] },
  { dir: "static", text: /Hello from a static site/, args: ["-p", "0"] },
  // The library's script chooses its port: from PORT, as the example reads it.
  {
    dir: "library",
    module: "server.ts",
    text: /Hello from the library example/,
    args: [],
    env: { PORT: "0" },
  },
];

const DENO_DIR = dirname(Deno.execPath());

async function output(command: Deno.Command): Promise<{ code: number; text: string }> {
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { code, text: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Runs `deno task dev` in the example's folder until its page has been read. */
async function runExample(example: Example, path: string): Promise<void> {
  const cwd = `${REPO_ROOT}examples/${example.dir}`;
  if (example.module) {
    const checked = await output(
      new Deno.Command(Deno.execPath(), { args: ["check", example.module], cwd, stdin: "null" }),
    );
    assert.equal(checked.code, 0, `deno check in ${example.dir}:\n${checked.text}`);
  }
  const task = new Deno.Command(Deno.execPath(), {
    args: ["task", "dev", ...example.args],
    cwd,
    env: { NO_COLOR: "1", PATH: path, ...example.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reading = collectOutput(task, (piece) => text += piece);
  try {
    const url = await waitFor(
      `${example.dir} to serve`,
      () => text.includes("ready in") && text.match(/Running on (http:\/\/\S+)/)?.[1],
      60_000,
    ).catch((error) => {
      throw new Error(`${error.message}\n${text}`);
    });
    const page = await fetchText(`${url}/`);
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, example.text);
  } finally {
    // deno task starts devsrv as a process of its own: stop devsrv, then the task ends.
    const pid = text.match(/reloader pid (\d+)/)?.[1];
    if (pid) Deno.kill(Number(pid), "SIGTERM");
    else task.kill("SIGTERM");
    const status = await task.status;
    await Promise.all(reading);
    assert.equal(status.code, 0, `${example.dir}:\n${text}`);
  }
}

Deno.test("every example runs with deno task dev and an installed devsrv", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "devsrv_install_" });
  try {
    const installed = await output(
      new Deno.Command(Deno.execPath(), {
        args: ["install", "-g", "-A", "--root", root, "--name", "devsrv", MAIN_TS],
        stdin: "null",
      }),
    );
    assert.equal(installed.code, 0, installed.text);
    const path = `${root}/bin:${DENO_DIR}:${Deno.env.get("PATH") ?? ""}`;
    const listed = [...Deno.readDirSync(`${REPO_ROOT}examples`)]
      .filter((entry) => entry.isDirectory).map((entry) => entry.name).sort();
    assert.deepEqual(listed, EXAMPLES.map((example) => example.dir).sort(), "each is tested");
    for (const example of EXAMPLES) {
      await t.step(example.dir, () => runExample(example, path));
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
