/**
 * What a server costs besides reloads: cold start (spawn → first 200),
 * memory (proportional set size of all its processes), requests per second
 * through devsrv's parent, the parent's idle CPU over a large tree, and the
 * module graph that devsrv works out after each restart.
 *
 * Where two setups are compared, their runs alternate (A, B, A, B...), so
 * that the other work on a shared machine falls on both alike.
 *
 * @module
 */

import { join } from "node:path";
import { type BenchApp, FIRST_MARKER } from "./_apps.ts";
import { quantile, runFetchLoad, runLoad, runWrk, sequentialLatencies } from "./_load.ts";
import {
  cpuMs,
  delay,
  descendants,
  freePort,
  MAIN_TS,
  makeTempDir,
  privateMb,
  pssMb,
  removeTempDir,
  residentMb,
  ServerProcess,
  waitForQuiet,
} from "./_process.ts";
import {
  DEVSRV,
  portWasTaken,
  QUIET_MS,
  type Running,
  startApp,
  type Tool,
  waitForContent,
  writeApp,
} from "./_tools.ts";
import { CHECK_INTERVAL_MS } from "../src/front/memory_release.ts";
import { loadModuleGraph } from "../src/watch/module_graph.ts";

/** Most a cold start may take. */
const START_TIMEOUT_MS = 60_000;
/** After a load, two quiet checks of the parent's memory release and time for its collection. */
export const MEMORY_SETTLE_MS = 2 * CHECK_INTERVAL_MS + 1000;
/** Requests a server answers before its memory is read. */
const REQUESTS_BEFORE_MEMORY = 10;

// --- cold start ------------------------------------------------------------

/** The command each tool is started with for a cold start, on an app in `dir`. */
function coldStartArgs(tool: Tool, app: BenchApp, port: number): string[] {
  return tool === DEVSRV
    ? ["run", "-A", MAIN_TS, "serve", app.devsrvEntry, "-p", String(port)] // as a user types it
    : tool.args(app, port);
}

/** One cold start: spawn → the first 200 with the app's page through the public port, in ms. */
async function coldStartOnce(args: string[], dir: string, port: number): Promise<number> {
  const server = new ServerProcess(args, dir);
  try {
    await waitForContent(`http://127.0.0.1:${port}/`, FIRST_MARKER, START_TIMEOUT_MS, server);
    return performance.now() - server.spawnedAt;
  } finally {
    await server.stop();
  }
}

/** One tool's cold starts: its directory, its port, its times. */
interface StartSetup {
  tool: Tool;
  dir: string;
  port: number;
  times: number[];
}

/**
 * Cold starts of each tool on an app, alternating, after one start of each
 * that is not counted (it fills Deno's caches for that directory).
 *
 * @returns The times of each tool, in the order of `tools`.
 */
export async function coldStarts(tools: Tool[], app: BenchApp, runs: number): Promise<number[][]> {
  const setups: StartSetup[] = [];
  try {
    for (const tool of tools) {
      const dir = await makeTempDir("devsrv_bench_start_");
      setups.push({ tool, dir, port: 0, times: [] as number[] });
    }
    /** A start on a fresh port, uncounted: it fills Deno's caches for the app's files. */
    const prepare = async (setup: StartSetup) => {
      setup.port = freePort();
      await writeApp(app, setup.dir, setup.port);
      await coldStartOnce(coldStartArgs(setup.tool, app, setup.port), setup.dir, setup.port);
    };
    for (const setup of setups) await retryOnTakenPort(() => prepare(setup));
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? setups : [...setups].reverse();
      for (const setup of order) {
        const args = () => coldStartArgs(setup.tool, app, setup.port);
        const ms = await retryOnTakenPort(
          () => coldStartOnce(args(), setup.dir, setup.port),
          () => prepare(setup), // another port, and its uncounted start
        );
        setup.times.push(ms);
      }
    }
    return setups.map((setup) => setup.times);
  } finally {
    for (const setup of setups) await removeTempDir(setup.dir);
  }
}

/** Runs `body`; when its port was taken, runs `before` (a new port) and tries again, twice at most. */
async function retryOnTakenPort<T>(
  body: () => Promise<T>,
  before: () => Promise<unknown> = () => Promise.resolve(),
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await body();
    } catch (error) {
      if (!portWasTaken(error) || attempt === 3) throw error;
      await retryOnTakenPort(before);
    }
  }
}

/**
 * One cold start of devsrv with `--verbose`: its time, and its phase lines
 * (parent and first child) up to the first child's "ready" line.
 */
export async function verboseColdStart(app: BenchApp): Promise<{ ms: number; phases: string[] }> {
  const dir = await makeTempDir("devsrv_bench_verbose_");
  try {
    const { server, ms } = await retryOnTakenPort(async () => {
      const port = freePort();
      await writeApp(app, dir, port);
      const server = new ServerProcess([...coldStartArgs(DEVSRV, app, port), "--verbose"], dir);
      try {
        await waitForContent(`http://127.0.0.1:${port}/`, FIRST_MARKER, START_TIMEOUT_MS, server);
        return { server, ms: performance.now() - server.spawnedAt };
      } catch (error) {
        await server.stop();
        throw error;
      }
    });
    try {
      await server.waitFor(/child 1: ready/, 5_000);
      await delay(200); // the first child's last lines
    } finally {
      await server.stop();
    }
    const lines = server.output.split("\n");
    const firstChild = server.output.match(/child 1 spawned \(pid (\d+)\)/)?.[1];
    const ready = lines.findIndex((line) => line.includes("child 1: ready"));
    const phases = lines.filter((line, i) =>
      /\[\d+\.\d ms\]/.test(line) &&
      (/^ \* child \d+ ·/.test(line) ? line.includes(`child ${firstChild} ·`) : i <= ready)
    );
    return { ms, phases };
  } finally {
    await removeTempDir(dir);
  }
}

// --- memory ------------------------------------------------------------------

/** One process's memory. */
export interface ProcessMemory {
  role: string;
  pid: number;
  pssMb: number;
  privateMb: number;
}

/** A server's processes' memory, idle after its start and a few requests. */
export interface MemorySample {
  processes: ProcessMemory[];
  pssMb: number;
  privateMb: number;
}

async function sampleMemory(running: Running): Promise<MemorySample> {
  for (let i = 0; i < REQUESTS_BEFORE_MEMORY; i++) {
    const response = await fetch(running.url, { signal: AbortSignal.timeout(10_000) });
    await response.body?.cancel();
  }
  await running.settle();
  const roles: [string, number][] = [];
  if (running.tool === DEVSRV) {
    const { parentPid, childPid, standbyPid } = await running.devsrvPids();
    roles.push(["parent", parentPid]);
    if (childPid !== null) roles.push(["child", childPid]);
    if (standbyPid !== null) roles.push(["standby", standbyPid]);
  } else {
    roles.push([running.tool.name, running.server.pid]);
  }
  // Any other process of the server's (there should be none at rest).
  for (const pid of descendants(running.server.pid)) {
    if (!roles.some(([, known]) => known === pid)) roles.push(["other", pid]);
  }
  const processes = roles.map(([role, pid]) => ({
    role,
    pid,
    pssMb: pssMb(pid),
    privateMb: privateMb(pid),
  }));
  return {
    processes,
    pssMb: processes.reduce((sum, p) => sum + p.pssMb, 0),
    privateMb: processes.reduce((sum, p) => sum + p.privateMb, 0),
  };
}

/** One tool's memory samples, and its floor's: as many bare idle Deno processes. */
export interface MemorySamples {
  server: MemorySample[];
  floor: MemorySample[];
}

/**
 * Memory of each tool serving an app, started afresh per round, tools
 * alternating; right after each sample, its floor (see
 * {@linkcode bareIdleSample}), so that both see the same machine.
 *
 * @returns The samples of each tool, in the order of `tools`.
 */
export async function memorySamples(
  tools: Tool[],
  app: BenchApp,
  rounds: number,
): Promise<MemorySamples[]> {
  const samples = tools.map((): MemorySamples => ({ server: [], floor: [] }));
  const dir = await makeTempDir("devsrv_bench_bare_");
  try {
    await Deno.writeTextFile(join(dir, "idle.ts"), IDLE_PROGRAM);
    await bareIdleSample(1, dir); // fills Deno's cache for it
    for (let round = 0; round < rounds; round++) {
      const order = tools.map((_, i) => i);
      if (round % 2 === 1) order.reverse();
      for (const i of order) {
        const running = await startApp(tools[i]!, app);
        let sample: MemorySample;
        try {
          sample = await sampleMemory(running);
        } finally {
          await running.stop();
        }
        samples[i]!.server.push(sample);
        samples[i]!.floor.push(await bareIdleSample(sample.processes.length, dir));
      }
    }
    return samples;
  } finally {
    await removeTempDir(dir);
  }
}

/** A bare Deno program: it says it is up, then only keeps itself alive. */
const IDLE_PROGRAM = 'console.log("up");\nsetInterval(() => {}, 100_000);\n';

/**
 * The floor for `count` processes: that many bare idle Deno processes
 * running together, their PSS added up. They share Deno's executable as a
 * server's processes share it, so no server of `count` Deno processes can
 * use less.
 */
async function bareIdleSample(count: number, dir: string): Promise<MemorySample> {
  const servers: ServerProcess[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(new ServerProcess(["run", "idle.ts"], dir));
    for (const server of servers) await server.waitFor(/^up$/m, START_TIMEOUT_MS);
    await waitForQuiet(servers.map((server) => server.pid), QUIET_MS);
    const processes = servers.map((server) => ({
      role: "bare",
      pid: server.pid,
      pssMb: pssMb(server.pid),
      privateMb: privateMb(server.pid),
    }));
    return {
      processes,
      pssMb: processes.reduce((sum, p) => sum + p.pssMb, 0),
      privateMb: processes.reduce((sum, p) => sum + p.privateMb, 0),
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

// --- throughput ----------------------------------------------------------------

/** The clients that drive a throughput window. */
export const CLIENTS = ["wrk", "raw", "fetch"] as const;
/** One of {@linkcode CLIENTS}. */
export type Client = typeof CLIENTS[number];

/** Requests per second of one window, `null` when wrk is not installed. */
async function loadWindow(
  client: Client,
  port: number,
  connections: number,
  seconds: number,
): Promise<number | null> {
  switch (client) {
    case "wrk":
      return await runWrk(port, connections, seconds);
    case "raw":
      return (await runLoad(port, connections, seconds)).rps;
    case "fetch":
      return (await runFetchLoad(port, connections, seconds)).rps;
  }
}

/** Throughput through devsrv's parent and without it, windows alternating. */
export interface ThroughputComparison {
  /** Requests per second per window, per client: through the parent, `--no-reload`. */
  rps: Record<Client, { through: number[]; direct: number[] } | null>;
  /** Per-request latency on one keep-alive connection, ms per batch. */
  latency: { through: number[]; direct: number[] };
  /** The parent: before any load, the highest right after a load window, later. */
  parent: ParentMemory;
  /** The child after the load, and the `--no-reload` process. */
  childMb: number;
  directMb: number;
}

/** devsrv's parent's resident memory around a load. */
export interface ParentMemory {
  idleMb: number;
  afterLoadMb: number;
  settledMb: number;
  settledPrivateMb: number;
}

/**
 * Runs every client against devsrv's parent and `--no-reload` in turn,
 * `rounds` windows each, then reads the memory the load left.
 */
export async function compareThroughput(
  through: Running,
  direct: Running,
  options: { rounds: number; seconds: number; connections: number },
): Promise<ThroughputComparison> {
  const { rounds, seconds, connections } = options;
  const parentPid = through.server.pid;
  const idleMb = residentMb(parentPid);
  let afterLoadMb = 0;
  for (const running of [through, direct]) await runLoad(running.port, connections, 1); // warm-up
  const rps = {} as ThroughputComparison["rps"];
  for (const client of CLIENTS) {
    const windows = { through: [] as number[], direct: [] as number[] };
    for (let round = 0; round < rounds && rps[client] !== null; round++) {
      const order = round % 2 === 0
        ? ["through", "direct"] as const
        : ["direct", "through"] as const;
      for (const setup of order) {
        const port = (setup === "through" ? through : direct).port;
        const result = await loadWindow(client, port, connections, seconds);
        if (result === null) {
          rps[client] = null;
          break;
        }
        windows[setup].push(result);
        if (setup === "through") afterLoadMb = Math.max(afterLoadMb, residentMb(parentPid));
      }
    }
    if (rps[client] !== null) rps[client] = windows;
  }
  const latency = { through: [] as number[], direct: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    latency.through.push(...await sequentialLatencies(through.port, 10));
    latency.direct.push(...await sequentialLatencies(direct.port, 10));
  }
  const { childPid } = await through.devsrvPids();
  const childMb = childPid === null ? NaN : residentMb(childPid);
  await delay(MEMORY_SETTLE_MS);
  return {
    rps,
    latency,
    parent: {
      idleMb,
      afterLoadMb,
      settledMb: residentMb(parentPid),
      settledPrivateMb: privateMb(parentPid),
    },
    childMb,
    directMb: residentMb(direct.server.pid),
  };
}

/** The parent's memory around one window of each client, for a setup measured alone. */
export async function parentMemoryUnderLoad(
  through: Running,
  options: { seconds: number; connections: number },
): Promise<ParentMemory> {
  const parentPid = through.server.pid;
  const idleMb = residentMb(parentPid);
  let afterLoadMb = 0;
  for (const client of CLIENTS) {
    await loadWindow(client, through.port, options.connections, options.seconds);
    afterLoadMb = Math.max(afterLoadMb, residentMb(parentPid));
  }
  await delay(MEMORY_SETTLE_MS);
  return {
    idleMb,
    afterLoadMb,
    settledMb: residentMb(parentPid),
    settledPrivateMb: privateMb(parentPid),
  };
}

// --- idle CPU ----------------------------------------------------------------------

/** Writes `files` small modules into `dir/src`, a hundred folders of them. */
async function writeTree(dir: string, files: number): Promise<void> {
  for (let d = 0; d < 100; d++) {
    await Deno.mkdir(join(dir, "src", `dir${d}`), { recursive: true });
    for (let f = 0; f < files / 100; f++) {
      await Deno.writeTextFile(
        join(dir, "src", `dir${d}`, `file${f}.ts`),
        `export const v = ${f};\n`,
      );
    }
  }
}

/** The parent's CPU over `seconds` of idling, once started over a tree, and when its banner came. */
export async function idleCpu(
  app: BenchApp,
  options: { poll: boolean; files: number; seconds: number },
): Promise<{ cpuPercent: number; files: number; bannerMs: number }> {
  const running = await startApp(DEVSRV, app, {
    toolFlags: options.poll ? ["--poll"] : [],
    setUp: (dir) => writeTree(dir, options.files),
  });
  try {
    const banner = await running.server.waitFor(/\((watchfs|poll), (\d+) files\)/);
    const bannerMs = running.server.printedAt(banner.index ?? 0) - running.server.spawnedAt;
    await delay(1000); // let start-up work finish
    const before = cpuMs(running.server.pid);
    await delay(options.seconds * 1000);
    const used = cpuMs(running.server.pid) - before;
    return {
      cpuPercent: (used / (options.seconds * 1000)) * 100,
      files: Number(banner[2]),
      bannerMs,
    };
  } finally {
    await running.stop();
  }
}

// --- module graph --------------------------------------------------------------------

/** Median and p90 of `deno info --json` on an app, as the reloader runs it after a restart. */
export async function graphCost(
  app: BenchApp,
  runs: number,
): Promise<{ median: number; p90: number; files: number; npm: number } | string> {
  const dir = await makeTempDir("devsrv_bench_graph_");
  try {
    await writeApp(app, dir, 8000);
    const entry = app.devsrvEntry;
    const first = await loadModuleGraph(entry, { cwd: dir, priority: "low" }); // fills Deno's cache
    if (first.kind === "unknown") return first.reason;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
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
    await removeTempDir(dir);
  }
}
