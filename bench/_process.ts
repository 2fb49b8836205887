/**
 * Starting the servers a benchmark compares, stopping them (and every
 * process they started) with a deadline, and reading their process trees,
 * CPU time and memory from /proc.
 *
 * Every server and temporary directory the bench makes is recorded, so that
 * {@linkcode cleanUp} (on Ctrl+C, or after an error) leaves nothing behind.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The devsrv CLI entry. */
export const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

/** How long a server has to exit after SIGTERM before it gets SIGKILL. */
const STOP_GRACE_MS = 10_000;
/** How long the processes a server started have to follow it out. */
const TREE_EXIT_MS = 5_000;
/** USER_HZ: /proc counts CPU time in ticks of 10 ms on Linux. */
const MS_PER_TICK = 10;

const running = new Set<ServerProcess>();
const tempDirs = new Set<string>();

/** A server under measurement. */
export class ServerProcess {
  readonly process: Deno.ChildProcess;
  /** Everything it printed, stdout and stderr interleaved. */
  output = "";
  /** When it was spawned (`performance.now()`). */
  readonly spawnedAt: number;
  /** Where each chunk of output ends in {@linkcode output}, and when it arrived. */
  #chunks: { end: number; at: number }[] = [];
  #reading: Promise<void>[];
  #stopping: Promise<void> | undefined;

  /**
   * @param args Arguments for the deno binary.
   * @param cwd Working directory.
   * @param env Extra environment.
   */
  constructor(args: string[], cwd: string, env: Record<string, string> = {}) {
    this.spawnedAt = performance.now();
    this.process = new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    running.add(this);
    this.#reading = [this.process.stdout, this.process.stderr].map(async (stream) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.output += decoder.decode(chunk, { stream: true });
        this.#chunks.push({ end: this.output.length, at: performance.now() });
      }
    });
  }

  /** When the character at `index` of {@linkcode output} arrived (`performance.now()`). */
  printedAt(index: number): number {
    return this.#chunks.find((chunk) => chunk.end > index)?.at ?? NaN;
  }

  /** The process's pid. */
  get pid(): number {
    return this.process.pid;
  }

  /** Waits for a pattern in the output. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const match = this.output.match(pattern);
      if (match) return match;
      await delay(5);
    }
    throw new Error(`Timed out waiting for ${pattern}; output:\n${this.output}`);
  }

  /**
   * Stops it: SIGTERM, SIGKILL after {@linkcode STOP_GRACE_MS}, then SIGKILL
   * for any process it started that outlives it by {@linkcode TREE_EXIT_MS}.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const tree = descendants(this.pid).map((pid) => ({ pid, start: startTime(pid) }));
    signal(this.pid, "SIGTERM");
    const timer = setTimeout(() => signal(this.pid, "SIGKILL"), STOP_GRACE_MS);
    try {
      await this.process.status;
    } finally {
      clearTimeout(timer);
    }
    const deadline = performance.now() + TREE_EXIT_MS;
    let left = tree;
    while (left.length > 0 && performance.now() < deadline) {
      await delay(20);
      left = left.filter(({ pid, start }) => start !== null && startTime(pid) === start);
    }
    // Only the very processes seen before the stop (same pid, same start time).
    for (const { pid, start } of left) if (startTime(pid) === start) signal(pid, "SIGKILL");
    await Promise.race([Promise.all(this.#reading), delay(TREE_EXIT_MS)]);
    running.delete(this);
  }
}

function signal(pid: number, name: Deno.Signal): void {
  try {
    Deno.kill(pid, name);
  } catch (error) {
    // ESRCH: it has exited already.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** A temporary directory that {@linkcode cleanUp} removes if the bench stops early. */
export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  tempDirs.add(dir);
  return dir;
}

/** Removes a directory from {@linkcode makeTempDir}. */
export async function removeTempDir(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true });
  tempDirs.delete(dir);
}

/** Stops every server still running and removes every temporary directory left. */
export async function cleanUp(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
  for (const dir of tempDirs) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    tempDirs.delete(dir);
  }
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function readProc(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    // The process has exited (or exits while it is read: ESRCH).
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** The fields of /proc/PID/stat after the command name. */
function statFields(pid: number): string[] | null {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat === null ? null : stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** When a process started (clock ticks since boot): a pid with its start time names one process. */
function startTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

/** The processes a process started, and theirs, from /proc/PID/task/TID/children. */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const visit = (parent: number) => {
    let tasks: string[];
    try {
      tasks = [...Deno.readDirSync(`/proc/${parent}/task`)].map((entry) => entry.name);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const task of tasks) {
      const children = readProc(`/proc/${parent}/task/${task}/children`) ?? "";
      for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
        if (found.includes(child)) continue;
        found.push(child);
        visit(child);
      }
    }
  };
  visit(pid);
  return found;
}

/** Resident memory of a process, in MB. */
export function residentMb(pid: number): number {
  const status = readProc(`/proc/${pid}/status`) ?? "";
  const kb = Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? NaN);
  return kb / 1024;
}

function rollupKb(pid: number, field: string): number {
  const rollup = readProc(`/proc/${pid}/smaps_rollup`) ?? "";
  return Number(rollup.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))?.[1] ?? NaN);
}

/**
 * Memory only this process holds, in MB: resident pages no other process
 * maps (most of the rest is the Deno executable, shared with every deno).
 */
export function privateMb(pid: number): number {
  return (rollupKb(pid, "Private_Clean") + rollupKb(pid, "Private_Dirty")) / 1024;
}

/**
 * Proportional set size, in MB: its private pages plus, of each shared page,
 * its share (one page mapped by four processes counts a quarter in each).
 */
export function pssMb(pid: number): number {
  return rollupKb(pid, "Pss") / 1024;
}

/** User + system CPU time of a process, in ms (10 ms ticks). */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  if (fields === null) return 0;
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
}

/** CPU time of processes and all they started, in ms. */
export function treeCpuMs(pids: readonly number[]): number {
  const all = new Set(pids.flatMap((pid) => [pid, ...descendants(pid)]));
  let total = 0;
  for (const pid of all) total += cpuMs(pid);
  return total;
}

/**
 * Waits until processes (and those they started) have used no CPU for
 * `quietMs`: the work a change set off (a restart, a standby booting, a
 * module graph being worked out) is over. Gives up at `timeoutMs`.
 *
 * @returns Whether they went quiet before the deadline.
 */
export async function waitForQuiet(
  pids: readonly number[],
  quietMs: number,
  timeoutMs = 5_000,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let last = treeCpuMs(pids);
  let quietSince = performance.now();
  while (performance.now() < deadline) {
    await delay(20);
    const now = treeCpuMs(pids);
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= quietMs) {
      return true;
    }
  }
  return false;
}

/** Asks the kernel for a free loopback port. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** The 1-minute load average: how busy the machine is, the bench included. */
export function loadAverage(): number {
  return Number((readProc("/proc/loadavg") ?? "NaN").split(" ")[0]);
}
