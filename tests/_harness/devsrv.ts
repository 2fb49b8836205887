/**
 * Test helpers: start the real devsrv program as a subprocess, wait for a
 * log line or a condition with a deadline (never a fixed sleep), and clean
 * up temp directories.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ACTIVITY_LEAD_MS, ACTIVITY_TAIL_MS } from "../../src/watch/app_activity.ts";
import { EVENT_LATENCY_MS } from "../../src/watch/watch.ts";

/** The CLI entry of the program under test. */
export const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));
/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Waits until `check` returns a truthy value, or fails after the deadline.
 *
 * @param what What is awaited, for the failure message.
 * @param check Returns a value when the condition holds.
 * @param timeoutMs The deadline.
 * @returns The value.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let delay = 5;
  while (true) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 50);
  }
}

/**
 * Waits until the app behind a reloader at `url` has been idle (not
 * starting, no request in flight) for longer than the window in which a
 * changed file counts as written by the app (see
 * `src/watch/app_activity.ts`; a deleted or renamed file is dated by
 * when it was seen, up to {@linkcode EVENT_LATENCY_MS} late), so that a
 * change the test makes next is taken as a person's edit. `/__devsrv`
 * requests are not the app's work.
 *
 * @param url The reloader's base URL.
 */
export async function waitForAppIdle(url: string): Promise<void> {
  await waitFor("the app to be idle", async () => {
    const response = await fetch(`${url}/__devsrv`, { headers: { accept: "application/json" } });
    const { appIdleMs } = await response.json();
    return typeof appIdleMs === "number" &&
      appIdleMs > ACTIVITY_LEAD_MS + ACTIVITY_TAIL_MS + EVENT_LATENCY_MS;
  });
}

/**
 * Reads a process's stdout and stderr as text, each with its own decoder
 * (a character split across two chunks must not meet the other stream's).
 *
 * @param process A process spawned with both streams piped.
 * @param onText Called with each decoded piece, in arrival order.
 * @returns One task per stream, done when the stream ends.
 */
export function collectOutput(
  process: Deno.ChildProcess,
  onText: (text: string) => void,
): Promise<void>[] {
  return [process.stdout, process.stderr].map(async (stream) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  });
}

/** A running devsrv, its output collected as it comes. */
export class DevsrvProcess {
  readonly process: Deno.ChildProcess;
  #output = "";
  #reading: Promise<void>[];

  /**
   * Starts `deno run -A main.ts ...args`.
   *
   * @param args devsrv's arguments.
   * @param options Working directory and extra environment.
   */
  constructor(
    args: string[],
    options: {
      cwd?: string;
      env?: Record<string, string>;
      stdin?: "piped" | "null";
      /** The script to run instead of devsrv's main.ts (a library user's script). */
      script?: string;
      /** Deno's own flags. @default {["-A"]} */
      denoFlags?: string[];
    } = {},
  ) {
    this.process = new Deno.Command(Deno.execPath(), {
      args: ["run", ...(options.denoFlags ?? ["-A"]), options.script ?? MAIN_TS, ...args],
      cwd: options.cwd ?? REPO_ROOT,
      env: { NO_COLOR: "1", ...options.env },
      stdin: options.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = collectOutput(this.process, (text) => this.#output += text);
  }

  /** Everything printed so far (stdout and stderr). */
  get output(): string {
    return this.#output;
  }

  /**
   * Waits for output matching a pattern, counting from `from` characters.
   *
   * @param pattern What to look for.
   * @param options Deadline and start offset.
   * @returns The match.
   */
  waitForOutput(
    pattern: RegExp,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<RegExpMatchArray> {
    const from = options.from ?? 0;
    return waitFor(
      `${pattern} in output:\n${this.#output}`,
      () => this.#output.slice(from).match(pattern) ?? undefined,
      options.timeoutMs,
    ).catch((error) => {
      throw new Error(
        `${error.message}\n--- output so far ---\n${this.#output}`,
      );
    });
  }

  /** Waits for the "Running on" line and returns the base URL. */
  async url(): Promise<string> {
    const match = await this.waitForOutput(/Running on (https?:\/\/\S+)/);
    return match[1]!;
  }

  /** Sends a signal if the process still runs. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.process.kill(signal);
    } catch {
      // already exited
    }
  }

  /** Waits for the exit and for all output. */
  async finished(): Promise<Deno.CommandStatus> {
    const status = await this.process.status;
    await Promise.all(this.#reading);
    return status;
  }

  /** Stops the process (SIGTERM) and waits for it. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.kill(signal);
    return await this.finished();
  }
}

/**
 * Runs devsrv to completion.
 *
 * @param args devsrv's arguments.
 * @param cwd The working directory.
 * @param env Extra environment variables.
 * @returns Exit code and combined output.
 */
export async function runDevsrv(
  args: string[],
  cwd = REPO_ROOT,
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/**
 * Makes a temp directory with the given files, and removes it afterwards.
 *
 * @param files Relative path → content.
 * @param body The test, given the directory.
 */
export async function withTempDir(
  files: Record<string, string>,
  body: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "devsrv_test_" }),
  );
  try {
    for (const [path, content] of Object.entries(files)) {
      const full = `${dir}/${path}`;
      await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), {
        recursive: true,
      });
      await Deno.writeTextFile(full, content);
    }
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Fetches a URL and reads the whole body.
 *
 * @param url The URL.
 * @param init Request options.
 * @returns Status, headers and body text.
 */
export async function fetchText(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    headers: response.headers,
    body: await response.text(),
  };
}

/** A minimal `deno serve` style app whose body is `text`. */
export function appSource(text: string): string {
  return `export default { fetch() { return new Response(${JSON.stringify(text)}); } };\n`;
}

/**
 * Tells whether a test must be ignored because a system tool it needs is
 * missing. Only outside CI: `.ci/run` installs every such tool, so in CI a
 * missing one fails the test instead of hiding it.
 *
 * @param tool The tool's path or command name.
 * @returns `true` when the test should be ignored.
 */
export function missingOutsideCi(tool: string): boolean {
  if (Deno.env.get("CI") === "true") return false;
  try {
    if (tool.startsWith("/")) return !Deno.statSync(tool).isFile;
    return !new Deno.Command("sh", {
      args: ["-c", `command -v ${tool}`],
      stdout: "null",
      stderr: "null",
    })
      .outputSync().success;
  } catch {
    return true;
  }
}

/**
 * Tells whether a process exists and is not a zombie.
 *
 * @param pid The process id.
 * @returns `true` while it runs.
 */
export function processIsAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * The pids of the children a reloader reported ready, from its output.
 *
 * @param output The reloader's output.
 * @returns Their pids, in order.
 */
export function childPids(output: string): number[] {
  return [...output.matchAll(/Child pid (\d+)[^\n]*ready in/g)].map((match) => Number(match[1]));
}

/**
 * Runs `devsrv serve ...args -p 0` in a temp dir with the given files, then
 * stops it with `signal` and checks that it exited 0 and left no child.
 *
 * @param files Relative path → content.
 * @param args Arguments after `serve`.
 * @param body The test, given the process, its URL and the directory.
 * @param signal How to stop it.
 */
export async function withServer(
  files: Record<string, string>,
  args: string[],
  body: (server: DevsrvProcess, url: string, dir: string) => Promise<void>,
  signal: Deno.Signal = "SIGTERM",
): Promise<void> {
  await withTempDir(files, async (dir) => {
    const server = new DevsrvProcess(["serve", ...args, "-p", "0"], { cwd: dir });
    try {
      await body(server, await server.url(), dir);
    } finally {
      const status = await server.stop(signal);
      assert.equal(status.code, 0, `exit code, output:\n${server.output}`);
      for (const pid of childPids(server.output)) {
        assert.ok(!processIsAlive(pid), `child ${pid} outlived the parent`);
      }
    }
  });
}

/**
 * Serves `handler` in this process on 127.0.0.1 and a free port while
 * `body` runs, then stops the server and waits for it.
 *
 * @param handler The request handler.
 * @param body The test, given the port.
 */
export async function withInProcessServer(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  body: (port: number) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: controller.signal, onListen: () => {} },
    handler,
  );
  try {
    await body(server.addr.port);
  } finally {
    controller.abort();
    await server.finished;
  }
}

/** How devsrv can run: with the reloader (parent + child) or as one process. */
export interface ServeMode {
  name: string;
  args: string[];
}

/** Both modes, for suites that must hold in each. */
export const SERVE_MODES: readonly ServeMode[] = [
  { name: "reloader", args: [] },
  { name: "--no-reload", args: ["--no-reload"] },
];

/**
 * Finds a TCP port that is free on 127.0.0.1 now, for a program under test
 * that asks for a port of its own.
 *
 * @returns The port.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** The inodes of the sockets listening on a TCP port, from /proc/net/tcp and tcp6. */
function listeningSocketInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(table).split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // local_address is "HEXIP:HEXPORT"; state 0A is LISTEN; field 9 is the inode.
      if (fields[1]?.endsWith(`:${hexPort}`) && fields[3] === "0A" && fields[9]) {
        inodes.add(fields[9]);
      }
    }
  }
  return inodes;
}

/**
 * Tells which of some processes hold a socket listening on a port (Linux).
 *
 * @param port The TCP port.
 * @param pids The processes to look at.
 * @returns Those among them that listen on it.
 */
export function listeningPids(port: number, pids: number[]): number[] {
  const sockets = [...listeningSocketInodes(port)].map((inode) => `socket:[${inode}]`);
  return pids.filter((pid) => {
    try {
      for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
        if (sockets.includes(Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`))) return true;
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return false;
  });
}
