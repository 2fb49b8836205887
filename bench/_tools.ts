/**
 * The two dev servers the bench compares, devsrv and `deno run --watch`,
 * each running an app from `_apps.ts` in a temporary directory of its own:
 * starting one, editing its app, knowing when it has settled after a
 * change, and its processes.
 *
 * @module
 */

import { join } from "node:path";
import { type BenchApp, FIRST_MARKER } from "./_apps.ts";
import {
  delay,
  freePort,
  MAIN_TS,
  makeTempDir,
  removeTempDir,
  ServerProcess,
  waitForQuiet,
} from "./_process.ts";

/** How long the first start of an app may take (Deno may fill its npm cache first). */
const FIRST_START_TIMEOUT_MS = 120_000;
/**
 * A server has settled after a change when its processes have used no CPU
 * for this long. Longer than devsrv's wait before it works out the module
 * graph again (250 ms), so that `deno info` is part of what is waited for.
 */
export const QUIET_MS = Number(Deno.env.get("BENCH_QUIET_MS") ?? 300);
/** Most a settle may take before the bench goes on anyway (and counts it). */
const SETTLE_TIMEOUT_MS = 5_000;
/** How many ports a start tries when the one it picked is taken before the server binds it. */
const PORT_ATTEMPTS = 3;
/** Pause between two polls that did not see what they wait for. */
const POLL_PAUSE_MS = 2;

/** A dev server under comparison. */
export interface Tool {
  /** Its name in the output. */
  name: string;
  /** Its Deno arguments for an app on a port. */
  args(app: BenchApp, port: number): string[];
}

/** `devsrv serve`, from this checkout, without access lines. */
export const DEVSRV: Tool = {
  name: "devsrv",
  args: (app, port) => [
    "run",
    "-A",
    MAIN_TS,
    "serve",
    app.devsrvEntry,
    ...(app.portFlag ? ["-p", String(port)] : []),
    "--quiet",
  ],
};

/** What a Deno user would pick instead. */
export const DENO_RUN_WATCH: Tool = {
  name: "deno run --watch",
  args: (app) => ["run", "--watch", "-A", app.watchEntry],
};

/**
 * Two Deno processes in sequence, the first spawning the second (which runs
 * the app) as its first act: the floor of a parent-and-child cold start.
 */
export const TWO_PROCESSES: Tool = {
  name: "two Deno processes",
  args: (
    app,
  ) => ["run", "-A", new URL("./_two_processes.ts", import.meta.url).pathname, app.watchEntry],
};

/** The pids devsrv's `/__devsrv` reports. */
export interface DevsrvPids {
  parentPid: number;
  childPid: number | null;
  standbyPid: number | null;
}

/** An app served by a tool. */
export class Running {
  readonly tool: Tool;
  readonly app: BenchApp;
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly server: ServerProcess;
  /** Settles that gave up at their deadline. */
  settleTimeouts = 0;

  /** Use {@linkcode startApp}. */
  constructor(tool: Tool, app: BenchApp, dir: string, port: number, server: ServerProcess) {
    this.tool = tool;
    this.app = app;
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}/`;
    this.server = server;
  }

  /** Rewrites the app's edited file with a new marker, as an editor's save does. */
  async edit(marker: string): Promise<void> {
    const content = this.app.files(this.port, marker)[this.app.edited];
    if (content === undefined) throw new Error(`${this.app.name} has no "${this.app.edited}"`);
    await Deno.writeTextFile(join(this.dir, this.app.edited), content);
  }

  /**
   * Waits until the server is done with the last change: for devsrv, a
   * standby child is ready for the next one, then (both tools) no process
   * of the server has used CPU for {@linkcode QUIET_MS}.
   */
  async settle(): Promise<void> {
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    if (this.tool === DEVSRV) {
      while ((await this.devsrvPids()).standbyPid === null && performance.now() < deadline) {
        await delay(20);
      }
    }
    const left = Math.max(0, deadline - performance.now());
    if (!await waitForQuiet([this.server.pid], QUIET_MS, left)) this.settleTimeouts++;
  }

  /** devsrv's processes, from `/__devsrv`. */
  async devsrvPids(): Promise<DevsrvPids> {
    const response = await fetch(new URL("/__devsrv", this.url), {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) throw new Error(`/__devsrv answered ${response.status}`);
    const status = await response.json() as DevsrvPids;
    return {
      parentPid: status.parentPid,
      childPid: status.childPid,
      standbyPid: status.standbyPid,
    };
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    try {
      await this.server.stop();
    } finally {
      await removeTempDir(this.dir);
    }
  }
}

/** Writes an app's files into a directory. */
export async function writeApp(
  app: BenchApp,
  dir: string,
  port: number,
  marker = FIRST_MARKER,
): Promise<void> {
  for (const [name, content] of Object.entries(app.files(port, marker))) {
    await Deno.writeTextFile(join(dir, name), content);
  }
}

/**
 * Starts a tool on an app in a new directory and waits for its first page.
 *
 * @param options `denoFlags` go right after `deno run` (`--v8-flags=...`), `toolFlags` after
 * the tool's own (`--no-reload`, `--poll`); `setUp` adds files to the directory first.
 */
export async function startApp(
  tool: Tool,
  app: BenchApp,
  options: {
    denoFlags?: string[];
    toolFlags?: string[];
    setUp?: (dir: string) => Promise<void>;
  } = {},
): Promise<Running> {
  const dir = await makeTempDir("devsrv_bench_");
  try {
    await options.setUp?.(dir);
    for (let attempt = 1;; attempt++) {
      const port = freePort();
      await writeApp(app, dir, port);
      const [run = "run", ...rest] = tool.args(app, port);
      const server = new ServerProcess(
        [run, ...options.denoFlags ?? [], ...rest, ...options.toolFlags ?? []],
        dir,
      );
      const running = new Running(tool, app, dir, port, server);
      try {
        await waitForContent(running.url, FIRST_MARKER, FIRST_START_TIMEOUT_MS, server);
        return running;
      } catch (error) {
        await server.stop();
        if (!portWasTaken(error) || attempt === PORT_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    await removeTempDir(dir);
    throw error;
  }
}

/**
 * Whether a start failed because its port was taken meanwhile: a port that
 * {@linkcode freePort} found free may be another socket's by the time the
 * server binds it (on a shared machine, any connection's local port).
 */
export function portWasTaken(error: unknown): boolean {
  return error instanceof Error && PORT_TAKEN.test(error.message);
}

/** devsrv's line for a port in use, and Deno's error (which `deno run --watch` survives). */
const PORT_TAKEN = /already in use|AddrInUse/;

/** A response's body, or why there was none (a refused connection, a status other than 200). */
export async function bodyOrError(url: string, timeoutMs = 30_000): Promise<string | Error> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.text();
    return response.status === 200 ? body : new Error(`status ${response.status}`);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Polls a URL until a 200 response's body contains `marker`.
 *
 * @param server When given, its output goes into the error, and its exit ends the wait.
 * @throws {Error} At the deadline.
 */
export async function waitForContent(
  url: string,
  marker: string,
  timeoutMs = 30_000,
  server?: ServerProcess,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: string | Error = "";
  let exited = false;
  server?.process.status.then(() => exited = true);
  const from = server?.output.length ?? 0;
  // `deno run --watch` stays up after its program fails, waiting for a change: look at its output.
  const portTaken = () => PORT_TAKEN.test(server?.output.slice(from) ?? "");
  while (performance.now() < deadline && !exited && !portTaken()) {
    last = await bodyOrError(url, Math.max(1, deadline - performance.now()));
    if (typeof last === "string" && last.includes(marker)) return;
    await delay(POLL_PAUSE_MS);
  }
  const seen = last instanceof Error ? last.message : `a page without it: ${last.slice(0, 200)}`;
  throw new Error(
    `"${marker}" never appeared at ${url}${exited ? " (the server exited)" : ""}${
      portTaken() ? " (its port was taken)" : ""
    }; last: ${seen}` +
      (server ? `\noutput:\n${server.output.slice(-4000)}` : ""),
  );
}
