/**
 * Compares the parent's CPU time per request of two devsrv checkouts (say,
 * a branch point exported with `git archive` and the working tree):
 *
 * ```sh
 * mkdir /tmp/base && git archive <commit> | tar -x -C /tmp/base
 * deno run -A bench/ab_parent_cpu.ts /tmp/base . /api/time 30 2 32
 * ```
 *
 * Both serve the example app side by side and `wrk` (one thread) drives
 * them in turn, in short windows whose order alternates, so that each pair
 * of windows sees the same load on the machine; on a shared machine the
 * `deno task bench` throughput figures of two separate runs differ by more
 * than the change being measured. Per window it reads the parent's
 * user + system time from `/proc` (10 ms ticks) and wrk's request count.
 *
 * Arguments: before root, after root, path (`/api/time`), pairs (30),
 * seconds per window (2), connections (32). Needs `wrk` on the PATH.
 *
 * @module
 */

import { resolve } from "node:path";
import { cpuMs, freePort } from "./_process.ts";

/** One devsrv under measurement. */
interface Server {
  process: Deno.ChildProcess;
  url: string;
  dir: string;
  /** Parent CPU µs per request, per window. */
  cpuPerRequest: number[];
  /** wrk's requests per second, per window. */
  rps: number[];
}

const encoder = new TextEncoder();
function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

async function startServer(checkout: string, path: string): Promise<Server> {
  const root = resolve(checkout);
  const dir = await Deno.makeTempDir({ prefix: "devsrv_ab_" });
  await Deno.copyFile(`${root}/examples/hello/app.ts`, `${dir}/app.ts`);
  const port = freePort();
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}/main.ts`, "serve", "app.ts", "-p", String(port), "--quiet"],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const server = {
    process,
    url: `http://127.0.0.1:${port}${path}`,
    dir,
    cpuPerRequest: [],
    rps: [],
  };
  try {
    await waitForAnswer(server.url);
  } catch (error) {
    await stopServer(server);
    throw error;
  }
  return server;
}

async function waitForAnswer(url: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`No answer from ${url}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stopServer(server: Server): Promise<void> {
  server.process.kill("SIGTERM");
  await server.process.status;
  await Deno.remove(server.dir, { recursive: true });
}

async function wrk(
  url: string,
  seconds: number,
  connections: number,
): Promise<{ requests: number; rps: number }> {
  const output = await new Deno.Command("wrk", {
    args: ["-t1", `-c${connections}`, `-d${seconds}s`, url],
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const requests = text.match(/(\d+) requests in/)?.[1];
  const rps = text.match(/Requests\/sec:\s*([\d.]+)/)?.[1];
  if (!output.success || requests === undefined || rps === undefined || /Non-2xx/.test(text)) {
    throw new Error(`wrk failed: ${text.trim()}`);
  }
  return { requests: Number(requests), rps: Number(rps) };
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const [before = "", after = "", path = "/api/time", pairs = "30", seconds = "2", conns = "32"] =
    Deno.args;
  if (before === "" || after === "") {
    print("usage: deno run -A bench/ab_parent_cpu.ts BEFORE_ROOT AFTER_ROOT [PATH PAIRS S CONNS]");
    return;
  }
  const started: Server[] = [];
  const start = async (root: string) => {
    const server = await startServer(root, path);
    started.push(server);
    return server;
  };
  try {
    const servers = { before: await start(before), after: await start(after) };
    for (const server of Object.values(servers)) await wrk(server.url, 2, Number(conns)); // warm up
    const cpuRatios: number[] = [];
    const rpsRatios: number[] = [];
    for (let pair = 0; pair < Number(pairs); pair++) {
      const order = pair % 2 === 0
        ? [servers.before, servers.after]
        : [servers.after, servers.before];
      for (const server of order) {
        const started = cpuMs(server.process.pid);
        const { requests, rps } = await wrk(server.url, Number(seconds), Number(conns));
        server.cpuPerRequest.push(((cpuMs(server.process.pid) - started) * 1000) / requests);
        server.rps.push(rps);
      }
      cpuRatios.push(servers.after.cpuPerRequest.at(-1)! / servers.before.cpuPerRequest.at(-1)!);
      rpsRatios.push(servers.after.rps.at(-1)! / servers.before.rps.at(-1)!);
    }
    for (const [name, server] of Object.entries(servers)) {
      print(
        `${name.padEnd(6)} ${path} c${conns}: parent CPU ${
          median(server.cpuPerRequest).toFixed(1)
        } µs/request (median of ${pairs} windows), wrk ${median(server.rps).toFixed(0)} req/s`,
      );
    }
    print(
      `after / before, median of ${pairs} pairs: CPU per request ${
        median(cpuRatios).toFixed(3)
      }, requests per second ${median(rpsRatios).toFixed(3)}`,
    );
  } finally {
    for (const server of started) await stopServer(server);
  }
}

if (import.meta.main) await main();
