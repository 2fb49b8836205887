/**
 * `deno task bench`: devsrv measured beside `deno run --watch`, the
 * reference it competes with, in the same run, each figure as a ratio
 * with its target:
 *
 * - reload latency (write of a file → first response with the new
 *   content) for the hello example, a Hono program and an app with a large
 *   dependency graph (Express and Fastify);
 * - reload latency with two server-sent events streams and a WebSocket
 *   open, beside the same app's plain reload latency;
 * - cold start, spawn → first 200, with devsrv's `--verbose` phases;
 * - memory: the proportional set size of all of each server's processes;
 * - failed requests across 20 reloads under a steady load;
 * - requests per second through devsrv's parent versus `--no-reload`, the
 *   added latency per request, the parent's resident memory after a load;
 * - idle CPU of the parent over 10,000 watched files (OS events, `--poll`);
 * - the module graph devsrv works out after each restart (`deno info`).
 *
 * Two setups compared run alternately (A, B, A, B...) and the figures are
 * medians, so that other work on a shared machine falls on both alike.
 *
 * Environment: `BENCH_EDITS` (edits per reload series, 20),
 * `BENCH_STARTS` (cold starts per tool, 10), `BENCH_MEMORY_ROUNDS` (3),
 * `BENCH_ROUNDS` (throughput windows per client and setup, 3),
 * `BENCH_LOAD_SECONDS` (per window, 2), `BENCH_QUIET_MS` (see `_tools.ts`),
 * `BENCH_ONLY` (a comma-separated list of sections: reload, streams, start,
 * memory, failures, throughput, idle, graph).
 *
 * @module
 */

import { type BenchApp, EXPRESS_FASTIFY, HELLO, HONO, RELOAD_APPS, STREAMS } from "./_apps.ts";
import { quantile } from "./_load.ts";
import {
  coldStarts,
  compareThroughput,
  graphCost,
  idleCpu,
  MEMORY_SETTLE_MS,
  type MemorySample,
  memorySamples,
  type ParentMemory,
  parentMemoryUnderLoad,
  verboseColdStart,
} from "./_measure.ts";
import { cleanUp, loadAverage } from "./_process.ts";
import { alternateEdits, failuresAcrossReloads, verboseReload } from "./_reload.ts";
import { counts, fmt, iqr, median, p50p90, print, ratio, table, type Target } from "./_report.ts";
import {
  DENO_RUN_WATCH,
  DEVSRV,
  QUIET_MS,
  type Running,
  startApp,
  TWO_PROCESSES,
} from "./_tools.ts";

function envNumber(name: string, fallback: number): number {
  const value = Number(Deno.env.get(name) ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

const EDITS = envNumber("BENCH_EDITS", 20);
const STARTS = envNumber("BENCH_STARTS", 10);
const MEMORY_ROUNDS = envNumber("BENCH_MEMORY_ROUNDS", 3);
const ROUNDS = envNumber("BENCH_ROUNDS", 3);
const LOAD_SECONDS = envNumber("BENCH_LOAD_SECONDS", 2);
const RELOADS_UNDER_LOAD = 20;
const LOAD_CONNECTIONS = 32;
const IDLE_SECONDS = 5;
const TREE_FILES = 10_000;
/** How often the module graph is worked out per app. */
const GRAPH_RUNS = 15;
/** The flag `deno task serve` and the compiled binary run with: a small young generation. */
const SMALL_YOUNG_GENERATION = "--v8-flags=--max-semi-space-size=1";
/** The parent's resident memory once a load is over, MB. */
const PARENT_TARGET_MB = 60;
const SECTIONS = [
  "reload",
  "streams",
  "start",
  "memory",
  "failures",
  "throughput",
  "idle",
  "graph",
] as const;
const ONLY = Deno.env.get("BENCH_ONLY")?.split(",").map((s) => s.trim()).filter(Boolean);
/** The targets devsrv's ratios are held to. */
const TARGETS = {
  reloadP50: { op: "≤", value: 0.15 },
  reloadP90: { op: "≤", value: 0.2 },
  streamsOverPlain: { op: "≤", value: 1.5 },
  coldStart: { op: "≤", value: 1.5 },
  memory: { op: "≤", value: 2 },
  throughput: { op: "≥", value: 0.7 },
} as const satisfies Record<string, Target>;

/** Starts devsrv and `deno run --watch` on an app, runs `body`, stops both. */
async function withBoth<T>(
  app: BenchApp,
  body: (devsrv: Running, watch: Running) => Promise<T>,
): Promise<T> {
  const devsrv = await startApp(DEVSRV, app);
  try {
    const watch = await startApp(DENO_RUN_WATCH, app);
    try {
      return await body(devsrv, watch);
    } finally {
      await watch.stop();
    }
  } finally {
    await devsrv.stop();
  }
}

/** Prints how many settles gave up at their deadline, if any did. */
function printSettleTimeouts(what: string, runnings: Running[]): void {
  const timeouts = runnings.reduce((sum, r) => sum + r.settleTimeouts, 0);
  if (timeouts > 0) print(`  ${what}: ${timeouts} settles hit their 5 s deadline`);
}

async function reloadLatency(): Promise<void> {
  print(
    `Reload latency: write of the file → first response with the new content, ms (${EDITS} edits each)`,
  );
  print(
    `  both servers run at once; edits alternate between them; before each edit both have settled`,
  );
  print(
    `  (devsrv: a standby child ready; both: no CPU used for ${QUIET_MS} ms). p50 / p90, (p25–p75)`,
  );
  const rows = [[
    "app",
    "devsrv",
    "",
    "deno run --watch",
    "",
    "ratio p50",
    "ratio p90",
  ]];
  const runnings: Running[] = [];
  for (const app of RELOAD_APPS) {
    await withBoth(app, async (devsrv, watch) => {
      const [ours, theirs] = await alternateEdits([{ running: devsrv }, { running: watch }], EDITS);
      const [a, b] = [ours!.latencies, theirs!.latencies];
      // The targets are the hello app's and Hono's; the large graph shows
      // what importing 116 packages costs, which both tools pay.
      const targeted = app !== EXPRESS_FASTIFY;
      rows.push([
        app.name,
        p50p90(a),
        `(${iqr(a, 0)})`,
        p50p90(b),
        `(${iqr(b, 0)})`,
        ratio(median(a) / median(b), targeted ? TARGETS.reloadP50 : undefined),
        ratio(quantile(a, 0.9) / quantile(b, 0.9), targeted ? TARGETS.reloadP90 : undefined),
      ]);
      runnings.push(devsrv, watch);
    });
  }
  table(rows);
  printSettleTimeouts("reload latency", runnings);
  const running = await startApp(DEVSRV, HELLO, { toolFlags: ["--verbose"] });
  try {
    const { ms, lines } = await verboseReload(running);
    print(
      `  where a devsrv reload's time goes: ${HELLO.name}, one edit with --verbose (${
        fmt(ms, 1)
      } ms), ms after the write:`,
    );
    for (const line of lines) print(`    ${line}`);
  } finally {
    await running.stop();
  }
}

async function reloadWithStreams(): Promise<void> {
  print(
    `Reload latency with open streams: ${STREAMS.name}, ms (${EDITS} edits per row and server, all alternating)`,
  );
  print(
    `  "streams": 2 server-sent events streams (fetch, reading) and 1 WebSocket open during the edit`,
  );
  await withBoth(STREAMS, async (devsrv, watch) => {
    const [plainOurs, plainTheirs, streamsOurs, streamsTheirs] = await alternateEdits([
      { running: devsrv },
      { running: watch },
      { running: devsrv, withStreams: true },
      { running: watch, withStreams: true },
    ], EDITS);
    const row = (name: string, ours: number[], theirs: number[]) => [
      name,
      p50p90(ours),
      `(${iqr(ours, 0)})`,
      p50p90(theirs),
      `(${iqr(theirs, 0)})`,
      ratio(median(ours) / median(theirs)),
    ];
    const a = [plainOurs!.latencies, streamsOurs!.latencies];
    const b = [plainTheirs!.latencies, streamsTheirs!.latencies];
    table([
      ["", "devsrv", "", "deno run --watch", "", "ratio p50"],
      row("plain reload", a[0]!, b[0]!),
      row("with streams open", a[1]!, b[1]!),
    ]);
    print(
      `  ratio with streams / plain, p50: devsrv ${
        ratio(median(a[1]!) / median(a[0]!), TARGETS.streamsOverPlain)
      }; deno run --watch ${ratio(median(b[1]!) / median(b[0]!))}`,
    );
    print(
      `  ratio with streams / plain, p90: devsrv ${
        ratio(quantile(a[1]!, 0.9) / quantile(a[0]!, 0.9))
      }; deno run --watch ${ratio(quantile(b[1]!, 0.9) / quantile(b[0]!, 0.9))}`,
    );
    print(`  how the streams ended: devsrv: ${counts(streamsOurs!.streamEnds)}`);
    print(`                         deno run --watch: ${counts(streamsTheirs!.streamEnds)}`);
    printSettleTimeouts("with streams", [devsrv, watch]);
  });
}

async function coldStart(): Promise<void> {
  print(
    `Cold start: spawn → first 200 through the public port, ${HELLO.name}, ms (${STARTS} starts each, alternating, after one uncounted)`,
  );
  const [ours, theirs, floor] = await coldStarts(
    [DEVSRV, DENO_RUN_WATCH, TWO_PROCESSES],
    HELLO,
    STARTS,
  );
  table([
    ["command", "p50 / p90", "(p25–p75)"],
    ["deno run -A main.ts serve app.ts -p PORT", p50p90(ours!), `(${iqr(ours!, 0)})`],
    ["deno run --watch -A entry.ts", p50p90(theirs!), `(${iqr(theirs!, 0)})`],
    ["floor: a Deno process spawning the app's", p50p90(floor!), `(${iqr(floor!, 0)})`],
  ]);
  print(
    `  ratio devsrv / deno run --watch, p50: ${
      ratio(median(ours!) / median(theirs!), TARGETS.coldStart)
    }`,
  );
  print(
    `  ratio floor / deno run --watch, p50: ${
      ratio(median(floor!) / median(theirs!))
    } (a parent and a child, started one after the other, with nothing else done)`,
  );
  const verbose = await verboseColdStart(HELLO);
  print(
    `  one start with --verbose (${
      fmt(verbose.ms, 0)
    } ms to the first 200); [ms since that process started]:`,
  );
  for (const line of verbose.phases) print(`    ${line.trim()}`);
}

async function memory(): Promise<void> {
  print(
    `Memory: proportional set size (PSS, /proc/PID/smaps_rollup) of all of a server's processes, MB,`,
  );
  print(
    `  idle after its start and 10 requests, ${HELLO.name} (median of ${MEMORY_ROUNDS} starts each, alternating);`,
  );
  print(
    `  the floor: as many bare idle Deno processes (a timer, nothing else) running together`,
  );
  const [devsrv, watch] = await memorySamples([DEVSRV, DENO_RUN_WATCH], HELLO, MEMORY_ROUNDS);
  const { server: ours, floor: oursFloor } = devsrv!;
  const { server: theirs, floor: theirsFloor } = watch!;
  const oursCount = median(ours.map((s) => s.processes.length));
  const theirsCount = median(theirs.map((s) => s.processes.length));
  const roleMedian = (samples: MemorySample[], role: string, key: "pssMb" | "privateMb") =>
    median(samples.flatMap((s) => s.processes.filter((p) => p.role === role).map((p) => p[key])));
  const roleText = (role: string) =>
    `${role} ${fmt(roleMedian(ours, role, "pssMb"))} (${fmt(roleMedian(ours, role, "privateMb"))})`;
  const roles = [...new Set(ours.flatMap((s) => s.processes.map((p) => p.role)))];
  const pss = (samples: MemorySample[]) => median(samples.map((s) => s.pssMb));
  const row = (name: string, samples: MemorySample[], processes: string) => [
    name,
    fmt(pss(samples)),
    `(${fmt(median(samples.map((s) => s.privateMb)))})`,
    processes,
  ];
  const bare = (count: number) => `${count} bare Deno process${count === 1 ? "" : "es"}`;
  table([
    ["server", "PSS", "(private)", "processes"],
    row("devsrv", ours, roles.map(roleText).join(" + ")),
    row("deno run --watch", theirs, `${theirsCount} process(es)`),
    row(`floor of devsrv`, oursFloor, bare(oursCount)),
    row(`floor of deno run --watch`, theirsFloor, bare(theirsCount)),
  ]);
  const watchPss = pss(theirs);
  print(`  ratio devsrv / deno run --watch: ${ratio(pss(ours) / watchPss, TARGETS.memory)}`);
  print(
    `  the floor's ratio, ${bare(oursCount)} / deno run --watch: ${
      fmt(pss(oursFloor) / watchPss, 2)
    }; devsrv above its floor: ${fmt(pss(ours) - pss(oursFloor))} MB`,
  );
  print(
    `  the standby's own PSS (its cost): ${fmt(roleMedian(ours, "standby", "pssMb"))} MB; ` +
      `PSS shares each shared page among all processes mapping it, this bench's deno included`,
  );
}

async function failures(): Promise<void> {
  print(
    `Failed requests across ${RELOADS_UNDER_LOAD} reloads under a steady load (2 keep-alive + 2 fresh-connection loops), ${HELLO.name}`,
  );
  for (const tool of [DEVSRV, DENO_RUN_WATCH]) {
    const running = await startApp(tool, HELLO);
    try {
      const { failed, total } = await failuresAcrossReloads(running, RELOADS_UNDER_LOAD);
      print(`  ${tool.name.padEnd(18)} ${String(failed).padStart(6)} failed of ${total}`);
    } finally {
      await running.stop();
    }
  }
}

async function throughput(): Promise<void> {
  print(
    `Throughput through devsrv's parent vs --no-reload, ${HELLO.name}: ${LOAD_CONNECTIONS} connections, ` +
      `${ROUNDS} windows of ${LOAD_SECONDS} s per client and setup, alternating; median req/s (min–max)`,
  );
  const through = await startApp(DEVSRV, HELLO);
  let result;
  try {
    const direct = await startApp(DEVSRV, HELLO, { toolFlags: ["--no-reload"] });
    try {
      result = await compareThroughput(through, direct, {
        rounds: ROUNDS,
        seconds: LOAD_SECONDS,
        connections: LOAD_CONNECTIONS,
      });
    } finally {
      await direct.stop();
    }
  } finally {
    await through.stop();
  }
  const range = (values: number[]) =>
    `${fmt(median(values), 0)} (${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)})`;
  const rows = [["client", "through the parent", "--no-reload", "ratio"]];
  const clientNames = {
    wrk: "wrk (C, 1 thread)",
    raw: "the bench's raw TCP client",
    fetch: "a fetch client (32 loops)",
  };
  for (const [client, windows] of Object.entries(result.rps)) {
    const name = clientNames[client as keyof typeof clientNames];
    rows.push(
      windows === null ? [name, "not installed", "", ""] : [
        name,
        range(windows.through),
        range(windows.direct),
        ratio(median(windows.through) / median(windows.direct), TARGETS.throughput),
      ],
    );
  }
  table(rows);
  print(
    `  added latency per request (median, one keep-alive connection): ${
      fmt((median(result.latency.through) - median(result.latency.direct)) * 1000, 0)
    } µs`,
  );
  const tunedServer = await startApp(DEVSRV, HELLO, { denoFlags: [SMALL_YOUNG_GENERATION] });
  let tuned: ParentMemory;
  try {
    tuned = await parentMemoryUnderLoad(tunedServer, {
      seconds: LOAD_SECONDS,
      connections: LOAD_CONNECTIONS,
    });
  } finally {
    await tunedServer.stop();
  }
  const memoryRow = (name: string, m: ParentMemory) => [
    name,
    fmt(m.idleMb),
    fmt(m.afterLoadMb),
    fmt(m.settledMb),
    `(${fmt(m.settledPrivateMb)})`,
    m.settledMb < PARENT_TARGET_MB ? "meets" : "misses",
  ];
  const later = `${MEMORY_SETTLE_MS / 1000} s later`;
  print(`  parent resident memory, MB (target: < ${PARENT_TARGET_MB} ${later}):`);
  table([
    ["", "idle", "after load (highest)", later, "(private)", ""],
    memoryRow("deno run -A main.ts serve", result.parent),
    memoryRow(`with ${SMALL_YOUNG_GENERATION}`, tuned),
  ], "    ");
  print(
    `  child resident memory after the load: ${fmt(result.childMb)} MB; --no-reload process ${
      fmt(result.directMb)
    } MB`,
  );
}

async function idle(): Promise<void> {
  print(`Idle CPU of devsrv's parent over ${TREE_FILES} watched files (${IDLE_SECONDS} s)`);
  for (const poll of [false, true]) {
    const { cpuPercent, files, bannerMs } = await idleCpu(HELLO, {
      poll,
      files: TREE_FILES,
      seconds: IDLE_SECONDS,
    });
    print(
      `  ${(poll ? "--poll (500 ms)" : "watchfs").padEnd(18)} ${
        fmt(cpuPercent, 2).padStart(6)
      } % CPU · ${files} files · banner after ${fmt(bannerMs, 0)} ms`,
    );
  }
}

async function graph(): Promise<void> {
  print(
    `Module graph per restart: deno info --json, as devsrv runs it once the new child serves (${GRAPH_RUNS} runs)`,
  );
  for (const app of [HELLO, HONO, EXPRESS_FASTIFY]) {
    const cost = await graphCost(app, GRAPH_RUNS);
    print(
      typeof cost === "string"
        ? `  ${app.name.padEnd(26)} unavailable: ${cost}`
        : `  ${app.name.padEnd(26)} median ${fmt(cost.median, 0)} ms, p90 ${
          fmt(cost.p90, 0)
        } ms · ${cost.files} files, ${cost.npm} npm packages`,
    );
  }
}

const SECTION_RUNS: Record<typeof SECTIONS[number], () => Promise<void>> = {
  reload: reloadLatency,
  streams: reloadWithStreams,
  start: coldStart,
  memory,
  failures,
  throughput,
  idle,
  graph,
};

async function main(): Promise<void> {
  const unknown = ONLY?.filter((name) => !(SECTIONS as readonly string[]).includes(name)) ?? [];
  if (unknown.length > 0) {
    throw new Error(
      `Unknown BENCH_ONLY section "${unknown[0]}"; the sections: ${SECTIONS.join(", ")}`,
    );
  }
  const started = performance.now();
  const stop = () => {
    print("\ninterrupted: stopping the servers and removing the temporary directories");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", stop);
  print(
    `devsrv benchmark · ${new Date().toISOString().slice(0, 10)} · Deno ${Deno.version.deno} · ` +
      `${Deno.build.os} · ${navigator.hardwareConcurrency} cores · load average ${
        fmt(loadAverage(), 2)
      } at the start`,
  );
  print(
    `Each ratio is devsrv's figure over its reference's (${DENO_RUN_WATCH.name} unless said), both measured in this run.`,
  );
  try {
    for (const name of SECTIONS) {
      if (ONLY && !ONLY.includes(name)) continue;
      print();
      await SECTION_RUNS[name]();
    }
  } finally {
    await cleanUp();
    Deno.removeSignalListener("SIGINT", stop);
  }
  print();
  print(
    `done in ${fmt((performance.now() - started) / 1000, 0)} s · load average ${
      fmt(loadAverage(), 2)
    } at the end`,
  );
}

if (import.meta.main) await main();
