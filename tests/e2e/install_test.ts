/**
 * devsrv as an installed command: `deno task install` and the README's
 * `deno install -g -A --name devsrv <main.ts>`, from the checkout and from a
 * URL, into a temporary root. The command runs as `deno run -A main.ts`
 * does, re-execution included, and the program it serves still gets its
 * own deno.json (not the configuration deno install wrote for devsrv).
 *
 * @module
 */

import assert from "node:assert/strict";
import { dirname } from "node:path";
import {
  collectOutput,
  fetchText,
  MAIN_TS,
  REPO_ROOT,
  waitFor,
  withInProcessServer,
  withTempDir,
} from "../_harness/devsrv.ts";

/** `deno` on PATH, as the wrapper script that deno install writes needs it. */
const PATH = `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}`;

/** Runs a command to its end. */
async function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(command, {
    args,
    cwd: options.cwd ?? REPO_ROOT,
    env: { NO_COLOR: "1", PATH, ...options.env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Installs devsrv from `module` into a temporary root, and removes it afterwards. */
async function withInstalled(
  module: string,
  env: Record<string, string>,
  body: (devsrv: string, root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "devsrv_install_" });
  try {
    const installed = await run(
      Deno.execPath(),
      ["install", "-g", "-A", "--root", root, "--name", "devsrv", module],
      { env },
    );
    assert.equal(installed.code, 0, installed.output);
    await body(`${root}/bin/devsrv`, root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** The installed command serving in `cwd` until `body` is done; it must exit 0. */
async function withCommand(
  devsrv: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
  body: (url: string, output: () => string) => Promise<void>,
): Promise<void> {
  const process = new Deno.Command(devsrv, {
    args,
    cwd: options.cwd,
    env: { NO_COLOR: "1", PATH, ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const reading = collectOutput(process, (text) => output += text);
  try {
    const url = await waitFor(
      "the installed devsrv's address",
      () => output.match(/Running on (http:\/\/\S+)/)?.[1],
      60_000,
    ).catch((error) => {
      throw new Error(`${error.message}\n${output}`);
    });
    await body(url, () => output);
  } finally {
    process.kill("SIGTERM");
    const status = await process.status;
    await Promise.all(reading);
    assert.equal(status.code, 0, output);
  }
}

async function bodyAt(url: string): Promise<string> {
  try {
    return (await fetchText(url)).body;
  } catch (error) {
    if (error instanceof TypeError) return ""; // between two servers
    throw error;
  }
}

/** A program that needs its deno.json's import map, as a user's would. */
const PROGRAM = {
  "deno.json": JSON.stringify({ imports: { lib: "./v1/lib.ts" } }),
  "v1/lib.ts": 'export const text = "lib v1";\n',
  "v2/lib.ts": 'export const text = "lib v2";\n',
  "main.ts": 'import { text } from "lib";\nDeno.serve((_req) => new Response(text));\n',
};

/**
 * Serves the program with an installed devsrv: its import map applies, an
 * edit of its deno.json reloads it, and `--no-reload` runs it too.
 */
async function checkProgram(devsrv: string, env: Record<string, string> = {}): Promise<void> {
  await withTempDir(PROGRAM, async (dir) => {
    await withCommand(devsrv, ["serve", "main.ts", "-p", "0"], { cwd: dir, env }, async (url) => {
      await waitFor("lib v1", async () => await bodyAt(url) === "lib v1", 30_000);
      const config = JSON.stringify({ imports: { lib: "./v2/lib.ts" } });
      await Deno.writeTextFile(`${dir}/deno.json`, config);
      await waitFor("lib v2 after the reload", async () => await bodyAt(url) === "lib v2", 30_000);
    });
    const once = ["serve", "main.ts", "-p", "0", "--no-reload"];
    await withCommand(devsrv, once, { cwd: dir, env }, async (url) => {
      await waitFor("lib v2 in one process", async () => await bodyAt(url) === "lib v2", 30_000);
    });
  });
}

Deno.test("deno task install gives a devsrv command that prints its version", async () => {
  const root = await Deno.makeTempDir({ prefix: "devsrv_install_" });
  try {
    const task = await run(Deno.execPath(), ["task", "install"], {
      env: { DENO_INSTALL_ROOT: root },
    });
    assert.equal(task.code, 0, task.output);
    const version = await run(`${root}/bin/devsrv`, ["--version"]);
    assert.equal(version.code, 0, version.output);
    assert.match(version.output, /^devsrv \d+\.\d+\.\d+ \(Deno \d/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an installed devsrv reloads a program that needs its own deno.json", async () => {
  await withInstalled(MAIN_TS, {}, async (devsrv, root) => {
    const installConfig = await Deno.readTextFile(`${root}/bin/.devsrv/deno.json`);
    assert.doesNotMatch(installConfig, /lib/, "the premise: deno install wrote its own config");
    await checkProgram(devsrv);
    assert.doesNotMatch(
      await Deno.readTextFile(`${root}/bin/.devsrv/deno.lock`).catch(() => ""),
      /v1\/lib|v2\/lib/,
      "the program's modules stay out of devsrv's lock",
    );
  });
});

Deno.test("an installed devsrv serves a static directory, re-executing itself", async () => {
  await withInstalled(MAIN_TS, {}, async (devsrv) => {
    await withTempDir({ "site/index.html": "<h1>v1</h1>\n" }, async (dir) => {
      await withCommand(devsrv, ["serve", "site", "-p", "0"], { cwd: dir }, async (url, output) => {
        assert.match(await bodyAt(`${url}/`), /<h1>v1<\/h1>/);
        assert.match(output(), /Child pid \d+ \(DEVSRV_RUN_MAIN=true\) serving site\//);
      });
    });
  });
});

Deno.test("devsrv installed from a URL serves a program with its own deno.json", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "devsrv_deno_dir_" });
  try {
    // The checkout, published over HTTP as a static host would publish it.
    await withInProcessServer(async (request) => {
      const path = decodeURIComponent(new URL(request.url).pathname);
      try {
        const body = await Deno.readFile(`${REPO_ROOT}${path.slice(1)}`);
        return new Response(body, { headers: { "content-type": "application/typescript" } });
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
        return new Response("not found", { status: 404 });
      }
    }, async (port) => {
      const env = { DENO_DIR: denoDir };
      await withInstalled(`http://127.0.0.1:${port}/main.ts`, env, async (devsrv) => {
        const version = await run(devsrv, ["--version"], { env });
        assert.match(version.output, /^devsrv \d+\.\d+\.\d+/m, version.output);
        await checkProgram(devsrv, env);
      });
    });
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
