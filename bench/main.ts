/**
 * `deno task bench`: devsrv measured side by side with `deno run --watch`,
 * in the same run, on the same example app (examples/hello/app.ts):
 *
 * - reload latency: from the write of a file to the first response with
 *   the new content (median, p90), and devsrv's ratio to the reference;
 * - failed requests under a steady load across 20 reloads;
 * - requests per second through the parent versus `--no-reload`, and the
 *   added latency per request;
 * - resident memory of parent and child;
 * - idle CPU of the parent over 10,000 watched files, for OS events and
 *   for `--poll`;
 * - the cost of working out the app's module graph (`deno info --json`,
 *   as the reloader runs it after each restart) for the example app and an
 *   Express app.
 *
 * @module
 */

import { quantile, runFetchLoad, runLoad, runWrk, sequentialLatencies } from "./_load.ts";
import { cpuMs, freePort, MAIN_TS, privateMb, residentMb, ServerProcess } from "./_process.ts";
import { CHECK_INTERVAL_MS } from "../src/front/memory_release.ts";
import { loadModuleGraph } from "../src/watch/module_graph.ts";

const EDITS = Number(Deno.env.get("BENCH_EDITS") ?? 25);
const RELOADS_UNDER_LOAD = 20;
const LOAD_SECONDS = Number(Deno.env.get("BENCH_LOAD_SECONDS") ?? 4);
const LOAD_CONNECTIONS = 32;
const IDLE_SECONDS = 5;
/** After a load, two quiet checks of the parent's memory release and time for its collection. */
const MEMORY_SETTLE_MS = 2 * CHECK_INTERVAL_MS + 1000;
const TREE_FILES = 10_000;
/** How often the module graph is worked out per app. */
const GRAPH_RUNS = 15;
/** An Express app as people write them: the package, and a module of its own. */
const EXPRESS_APP = {
  "main.ts": `import express from "npm:express@5.1.0";
import { greeting } from "./greeting.ts";
const app = express();
app.get("/", (_req, res) => res.send(greeting));
app.listen(3000);
`,
  "greeting.ts": 'export const greeting = "Hello from Express";\n',
};
const EXAMPLE_APP = new URL("../examples/hello/app.ts", import.meta.url);
const GREETING = 'const GREETING = "Hello from devsrv";';

const encoder = new TextEncoder();
function print(line = ""): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** A dev server setup under comparison. */
interface Tool {
  name: string;
  start(dir: string, port: number): ServerProcess;
}

const devsrv: Tool = {
  name: "devsrv",
  start: (dir, port) =>
    new ServerProcess(
      ["run", "-A", MAIN_TS, "serve", "app.ts", "-p", String(port), "--quiet"],
      dir,
    ),
};

const denoRunWatch: Tool = {
  name: "deno run --watch",
  start: (dir, port) =>
    new ServerProcess(["run", "--watch", "-A", "entry.ts"], dir, { PORT: String(port) }),
};

const RUN_WATCH_ENTRY = `import app from "./app.ts";
Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.env.get("PORT")), onListen() {} }, app.fetch);
`;

async function makeAppDir(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_bench_" });
  await Deno.writeTextFile(`${dir}/app.ts`, await Deno.readTextFile(EXAMPLE_APP));
  await Deno.writeTextFile(`${dir}/entry.ts`, RUN_WATCH_ENTRY);
  return dir;
}

async function bodyOrError(url: string): Promise<string | Error> {
  try {
    const response = await fetch(url);
    const body = await response.text();
    return response.status === 200 ? body : new Error(`status ${response.status}`);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function waitForContent(url: string, marker: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const body = await bodyOrError(url);
    if (typeof body === "string" && body.includes(marker)) return;
  }
  throw new Error(`"${marker}" never appeared at ${url}`);
}

async function writeVersion(dir: string, marker: string): Promise<void> {
  const source = await Deno.readTextFile(EXAMPLE_APP);
  await Deno.writeTextFile(
    `${dir}/app.ts`,
    source.replace(GREETING, `const GREETING = "${marker}";`),
  );
}

async function withTool<T>(
  tool: Tool,
  body: (url: string, dir: string, server: ServerProcess) => Promise<T>,
): Promise<T> {
  const dir = await makeAppDir();
  const port = freePort();
  const server = tool.start(dir, port);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForContent(url, "Hello from devsrv");
    return await body(url, dir, server);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function reloadLatencies(tool: Tool): Promise<number[]> {
  return await withTool(tool, async (url, dir) => {
    const latencies: number[] = [];
    for (let i = 1; i <= EDITS; i++) {
      const marker = `edit number ${i}`;
      const started = performance.now();
      await writeVersion(dir, marker);
      await waitForContent(url, marker);
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 150)); // let the watcher settle between edits
    }
    return latencies;
  });
}

async function failuresUnderLoad(tool: Tool): Promise<{ failed: number; total: number }> {
  return await withTool(tool, async (url, dir) => {
    let running = true;
    let failed = 0;
    let total = 0;
    const port = Number(new URL(url).port);
    const fresh = async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(
          encoder.encode(`GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
        );
        const buffer = new Uint8Array(4096);
        let head = "";
        while (true) {
          const n = await conn.read(buffer);
          if (n === null) break;
          head += new TextDecoder().decode(buffer.subarray(0, n));
        }
        if (!head.startsWith("HTTP/1.1 200")) throw new Error(head.slice(0, 20) || "empty");
      } finally {
        conn.close();
      }
    };
    const loop = async (send: () => Promise<unknown>) => {
      while (running) {
        total++;
        try {
          const result = await send();
          if (result instanceof Error) failed++;
        } catch {
          failed++;
        }
      }
    };
    const loops = [
      loop(() => bodyOrError(url)),
      loop(() => bodyOrError(url)),
      loop(fresh),
      loop(fresh),
    ];
    for (let i = 1; i <= RELOADS_UNDER_LOAD; i++) {
      const marker = `load edit ${i}`;
      await writeVersion(dir, marker);
      await waitForContent(url, marker);
    }
    running = false;
    await Promise.all(loops);
    return { failed, total };
  });
}

/** What one throughput run measured. */
interface Throughput {
  rawRps: number;
  fetchRps: number;
  /** `null` when wrk is not installed. */
  wrkRps: number | null;
  latencyMs: number;
  parentMb?: number;
  /** The parent once the load has stopped long enough for it to release memory. */
  settledParentMb?: number;
  /** The part of that only the parent holds. */
  settledParentPrivateMb?: number;
  childMb: number;
  /** The process started by the command, before any load. */
  idleParentMb: number;
}

/** The flag `deno task serve` and the compiled binary run with: a small young generation. */
const SMALL_YOUNG_GENERATION = "--v8-flags=--max-semi-space-size=1";

async function throughput(reload: boolean, v8Flags: string[] = []): Promise<Throughput> {
  const dir = await makeAppDir();
  const port = freePort();
  const args = ["run", "-A", ...v8Flags, MAIN_TS, "serve", "app.ts", "-p", String(port), "--quiet"];
  const server = new ServerProcess(reload ? args : [...args, "--no-reload"], dir);
  try {
    await waitForContent(`http://127.0.0.1:${port}`, "Hello from devsrv");
    const idleParentMb = residentMb(server.process.pid);
    await runLoad(port, LOAD_CONNECTIONS, 1); // warm-up
    const raw = await runLoad(port, LOAD_CONNECTIONS, LOAD_SECONDS);
    const viaFetch = await runFetchLoad(port, LOAD_CONNECTIONS, LOAD_SECONDS);
    const wrkRps = await runWrk(port, LOAD_CONNECTIONS, LOAD_SECONDS);
    const latencies = await sequentialLatencies(port, 30);
    const result: Throughput = {
      rawRps: raw.rps,
      fetchRps: viaFetch.rps,
      wrkRps,
      latencyMs: quantile(latencies, 0.5),
      childMb: residentMb(server.process.pid),
      idleParentMb,
    };
    if (reload) {
      const status = await (await fetch(`http://127.0.0.1:${port}/__devsrv`, {
        headers: { accept: "application/json" },
      })).json();
      result.parentMb = residentMb(status.parentPid);
      result.childMb = residentMb(status.childPid);
      await new Promise((resolve) => setTimeout(resolve, MEMORY_SETTLE_MS));
      result.settledParentMb = residentMb(status.parentPid);
      result.settledParentPrivateMb = privateMb(status.parentPid);
    }
    return result;
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

async function idleCpu(
  poll: boolean,
): Promise<{ cpuPercent: number; files: number; scanMs: number }> {
  const dir = await makeAppDir();
  for (let d = 0; d < 100; d++) {
    await Deno.mkdir(`${dir}/src/dir${d}`, { recursive: true });
    for (let f = 0; f < TREE_FILES / 100; f++) {
      await Deno.writeTextFile(
        `${dir}/src/dir${d}/file${f}.ts`,
        `export const value${f} = ${f};\n`,
      );
    }
  }
  const port = freePort();
  const args = ["run", "-A", MAIN_TS, "serve", "app.ts", "-p", String(port), "--quiet"];
  const started = performance.now();
  const server = new ServerProcess(poll ? [...args, "--poll"] : args, dir);
  try {
    const banner = await server.waitFor(/\((watchfs|poll), (\d+) files\)/);
    const scanMs = performance.now() - started;
    await waitForContent(`http://127.0.0.1:${port}`, "Hello from devsrv");
    await new Promise((resolve) => setTimeout(resolve, 1000)); // let start-up work finish
    const before = cpuMs(server.process.pid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_SECONDS * 1000));
    const used = cpuMs(server.process.pid) - before;
    return { cpuPercent: (used / (IDLE_SECONDS * 1000)) * 100, files: Number(banner[2]), scanMs };
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Median and p90 of `deno info --json` on an app, as the reloader runs it after a restart. */
async function graphCost(
  files: Record<string, string>,
  entry: string,
): Promise<{ median: number; p90: number; files: number; npm: number } | string> {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_bench_graph_" });
  try {
    for (const [name, content] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, content);
    }
    const first = await loadModuleGraph(entry, { cwd: dir, priority: "low" }); // fills Deno's cache
    if (first.kind === "unknown") return first.reason;
    const times: number[] = [];
    for (let i = 0; i < GRAPH_RUNS; i++) {
      const result = await loadModuleGraph(entry, { cwd: dir, priority: "low" });
      if (result.kind === "unknown") return result.reason;
      times.push(result.ms);
    }
    return {
      median: quantile(times, 0.5),
      p90: quantile(times, 0.9),
      files: first.graph.files.size,
      npm: first.graph.npmPackages.length,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function fmt(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function main(): Promise<void> {
  print(
    `devsrv benchmark · Deno ${Deno.version.deno} · ${Deno.build.os} · ${navigator.hardwareConcurrency} cores`,
  );
  print();
  print(
    `Reload latency: write of app.ts → first response with the new content (${EDITS} edits each)`,
  );
  const ours = await reloadLatencies(devsrv);
  const theirs = await reloadLatencies(denoRunWatch);
  const [oursMedian, theirsMedian] = [quantile(ours, 0.5), quantile(theirs, 0.5)];
  print(`  ${"tool".padEnd(18)} ${"median ms".padStart(10)} ${"p90 ms".padStart(10)}`);
  print(
    `  ${devsrv.name.padEnd(18)} ${fmt(oursMedian).padStart(10)} ${
      fmt(quantile(ours, 0.9)).padStart(10)
    }`,
  );
  print(
    `  ${denoRunWatch.name.padEnd(18)} ${fmt(theirsMedian).padStart(10)} ${
      fmt(quantile(theirs, 0.9)).padStart(10)
    }`,
  );
  print(
    `  ratio devsrv / deno run --watch (median): ${
      fmt(oursMedian / theirsMedian, 2)
    } (target ≤ 0.33)`,
  );
  print();

  print(
    `Failed requests across ${RELOADS_UNDER_LOAD} reloads under a steady load (2 keep-alive + 2 fresh-connection loops)`,
  );
  for (const tool of [devsrv, denoRunWatch]) {
    const { failed, total } = await failuresUnderLoad(tool);
    print(`  ${tool.name.padEnd(18)} ${String(failed).padStart(6)} failed of ${total}`);
  }
  print();

  print(
    `Throughput: ${LOAD_CONNECTIONS} concurrent clients, ${LOAD_SECONDS} s each; latency: one keep-alive connection`,
  );
  const through = await throughput(true);
  const direct = await throughput(false);
  const row = (name: string, t: Throughput) =>
    `  ${name.padEnd(26)} ${fmt(t.rawRps, 0).padStart(12)} ${fmt(t.fetchRps, 0).padStart(12)} ${
      (t.wrkRps === null ? "-" : fmt(t.wrkRps, 0)).padStart(12)
    } ${fmt(t.latencyMs * 1000, 0).padStart(10)}`;
  print(
    `  ${"setup".padEnd(26)} ${"raw req/s".padStart(12)} ${"fetch req/s".padStart(12)} ${
      "wrk req/s".padStart(12)
    } ${"median µs".padStart(10)}`,
  );
  print(row("devsrv (through parent)", through));
  print(row("devsrv --no-reload", direct));
  print(
    `  ratio through parent / --no-reload: raw TCP client ${
      fmt(through.rawRps / direct.rawRps, 2)
    }, fetch client ${fmt(through.fetchRps / direct.fetchRps, 2)}, wrk ${
      through.wrkRps === null || direct.wrkRps === null
        ? "not installed"
        : fmt(through.wrkRps / direct.wrkRps, 2)
    } (target ≥ 0.70)`,
  );
  print(
    `  added latency per request (median): ${
      fmt((through.latencyMs - direct.latencyMs) * 1000, 0)
    } µs`,
  );
  const tuned = await throughput(true, [SMALL_YOUNG_GENERATION]);
  const settleSeconds = MEMORY_SETTLE_MS / 1000;
  print(
    `  parent resident memory, MB (target < 60) ${"idle".padStart(8)} ${
      "after load".padStart(11)
    } ${`${settleSeconds} s later`.padStart(11)} ${"(private)".padStart(10)}`,
  );
  const memoryRow = (name: string, t: Throughput) =>
    `    ${name.padEnd(38)} ${fmt(t.idleParentMb).padStart(8)} ${
      fmt(t.parentMb ?? NaN).padStart(11)
    } ${fmt(t.settledParentMb ?? NaN).padStart(11)} ${
      `(${fmt(t.settledParentPrivateMb ?? NaN)})`.padStart(10)
    }`;
  print(memoryRow("deno run -A main.ts serve", through));
  print(memoryRow(`with ${SMALL_YOUNG_GENERATION}`, tuned));
  print(
    `  child resident memory after the load: ${fmt(through.childMb)} MB; --no-reload process ${
      fmt(direct.childMb)
    } MB`,
  );
  print();

  print(`Idle CPU of the parent over ${TREE_FILES} watched files (${IDLE_SECONDS} s)`);
  for (const poll of [false, true]) {
    const { cpuPercent, files, scanMs } = await idleCpu(poll);
    print(
      `  ${(poll ? "--poll (500 ms)" : "watchfs").padEnd(18)} ${
        fmt(cpuPercent, 2).padStart(6)
      } % CPU · ${files} files · banner after ${fmt(scanMs, 0)} ms`,
    );
  }
  print();

  print(
    `Module graph per restart: deno info --json, as the reloader runs it once the new child serves (${GRAPH_RUNS} runs)`,
  );
  const apps: [string, Record<string, string>, string][] = [
    ["example app", { "app.ts": await Deno.readTextFile(EXAMPLE_APP) }, "app.ts"],
    ["Express app (npm:express@5.1.0)", EXPRESS_APP, "main.ts"],
  ];
  for (const [name, files, entry] of apps) {
    const cost = await graphCost(files, entry);
    print(
      typeof cost === "string"
        ? `  ${name.padEnd(34)} unavailable: ${cost}`
        : `  ${name.padEnd(34)} median ${fmt(cost.median, 0)} ms, p90 ${
          fmt(cost.p90, 0)
        } ms · ${cost.files} files, ${cost.npm} npm packages`,
    );
  }
}

if (import.meta.main) await main();
