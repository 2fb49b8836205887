/**
 * A process and everything it started, read from `/proc` (Linux): so that
 * stopping a child stops the subprocesses the app started too, and none of
 * them outlives devsrv. Deno cannot start a process in a group of its own,
 * so the tree is found by parent pid, and each process is named by its pid
 * and its start time, so that a pid the kernel has reused meanwhile is
 * never signalled.
 *
 * Where `/proc` is missing (not Linux) the tree is the process alone.
 *
 * @module
 */

/** A process, named so that a reused pid does not pass for it. */
export interface ProcessId {
  pid: number;
  /** Start time in clock ticks since boot (`/proc/PID/stat` field 22). */
  startTime: number;
}

/** What `/proc/PID/stat` says about one process, as far as trees need. */
export interface ProcessStat extends ProcessId {
  /** The parent's pid. */
  ppid: number;
  /** The state letter: `R`, `S`, `Z` (zombie: exited, not yet reaped) and so on. */
  state: string;
  /** The process group. */
  pgrp: number;
}

/**
 * Reads the fields of `/proc/PID/stat` that trees need. The command name
 * (field 2) is in parentheses and may itself hold spaces and parentheses,
 * so fields are counted from its last `)`.
 *
 * @param text The file's content.
 * @returns The pid, parent pid and start time; `undefined` if unreadable.
 *
 * @example
 * ```ts
 * import { parseProcessStat } from "./process_tree.ts";
 *
 * const stat = parseProcessStat("42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9001 0 0");
 * if (stat?.ppid !== 7 || stat.startTime !== 9001 || stat.state !== "S") throw new Error();
 * ```
 */
export function parseProcessStat(text: string): ProcessStat | undefined {
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, text.indexOf(" ")));
  // After ") ": state (3), ppid (4), ... starttime (22).
  const fields = text.slice(close + 2).split(" ");
  const state = fields[0] ?? "";
  const ppid = Number(fields[1]);
  const pgrp = Number(fields[2]);
  const startTime = Number(fields[19]);
  if (
    close < 0 || !Number.isInteger(pid) || !Number.isInteger(ppid) || !Number.isFinite(startTime)
  ) {
    return undefined;
  }
  return { pid, ppid, startTime, state, pgrp };
}

function readStat(pid: number): ProcessStat | undefined {
  try {
    return parseProcessStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch (error) {
    // It exited, or there is no /proc.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      return undefined;
    }
    throw error;
  }
}

function allProcesses(): ProcessStat[] {
  const stats: ProcessStat[] = [];
  try {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const stat = readStat(Number(entry.name));
      if (stat) stats.push(stat);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) return [];
    throw error;
  }
  return stats;
}

/**
 * Whether the kernel lists each thread's children
 * (`/proc/PID/task/TID/children`), which finds a process's children
 * without reading every process's stat (a few ms on a busy machine).
 */
let listsChildren: boolean | undefined;

function kernelListsChildren(): boolean {
  if (listsChildren === undefined) {
    try {
      Deno.statSync(`/proc/${Deno.pid}/task/${Deno.pid}/children`);
      listsChildren = true;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable)) {
        throw error;
      }
      listsChildren = false;
    }
  }
  return listsChildren;
}

/** The children of a process, as its threads' `children` files list them; none once it is gone. */
function childrenOf(pid: number): ProcessStat[] {
  const found: ProcessStat[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const listed = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`);
      for (const child of listed.split(" ")) {
        const stat = child === "" ? undefined : readStat(Number(child));
        if (stat) found.push(stat);
      }
    }
  } catch (error) {
    // The process, or one of its threads, ended meanwhile; or /proc hides it.
    if (
      !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied ||
        error instanceof Deno.errors.NotCapable)
    ) {
      throw error;
    }
  }
  return found;
}

/**
 * Lists a process's descendants: its children, theirs, and so on.
 *
 * @param root The pid of the process.
 * @returns The descendants, parents before their children; empty where
 * `/proc` cannot be read.
 */
export function descendantsOf(root: number): ProcessId[] {
  if (kernelListsChildren()) {
    const found: ProcessId[] = [];
    const queue = [root];
    while (queue.length > 0) {
      for (const child of childrenOf(queue.shift()!)) {
        found.push({ pid: child.pid, startTime: child.startTime });
        queue.push(child.pid);
      }
    }
    return found;
  }
  const byParent = new Map<number, ProcessStat[]>();
  for (const stat of allProcesses()) {
    const siblings = byParent.get(stat.ppid) ?? [];
    siblings.push(stat);
    byParent.set(stat.ppid, siblings);
  }
  const found: ProcessId[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      found.push({ pid: child.pid, startTime: child.startTime });
      queue.push(child.pid);
    }
  }
  return found;
}

/**
 * Names a process by its pid and start time.
 *
 * @param pid The pid.
 * @returns The process, or `undefined` when it is gone or `/proc` is missing.
 */
export function processId(pid: number): ProcessId | undefined {
  const stat = readStat(pid);
  return stat && { pid: stat.pid, startTime: stat.startTime };
}

/**
 * Lists the processes a process left behind when it ended: in this
 * process's group, adopted by init (parent pid 1), and started since the
 * given process was.
 *
 * @param since The process that ended.
 * @returns The orphans.
 */
export function orphansOf(since: ProcessId): ProcessId[] {
  const own = readStat(Deno.pid);
  if (!own) return [];
  // Init's children, where the kernel lists them; else every process.
  return (kernelListsChildren() ? childrenOf(1) : allProcesses())
    .filter((stat) =>
      stat.pgrp === own.pgrp && stat.ppid === 1 && stat.startTime >= since.startTime &&
      stat.pid !== since.pid && stat.state !== "Z"
    )
    .map((stat) => ({ pid: stat.pid, startTime: stat.startTime }));
}

/**
 * Sends a signal to each process that still is the one named.
 *
 * @param processes The processes, as listed earlier.
 * @param signal The signal.
 * @returns How many were signalled.
 */
export function signalProcesses(processes: ProcessId[], signal: Deno.Signal): number {
  let sent = 0;
  for (const process of processes) {
    if (readStat(process.pid)?.startTime !== process.startTime) continue;
    try {
      Deno.kill(process.pid, signal);
      sent++;
    } catch (error) {
      // It exited between the check and the signal.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return sent;
}

/**
 * Tells which of some processes still run (zombies count as gone).
 *
 * @param processes The processes, as listed earlier.
 * @returns Those still running.
 */
export function stillRunning(processes: ProcessId[]): ProcessId[] {
  return processes.filter((process) => {
    const stat = readStat(process.pid);
    return stat?.startTime === process.startTime && stat.state !== "Z";
  });
}
