/**
 * Starting the servers a benchmark compares, and reading their pids, CPU
 * time and memory from /proc.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** The devsrv CLI entry. */
export const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

/** A server under measurement. */
export class ServerProcess {
  readonly process: Deno.ChildProcess;
  output = "";
  #reading: Promise<void>[];

  /**
   * @param args Arguments for the deno binary.
   * @param cwd Working directory.
   * @param env Extra environment.
   */
  constructor(args: string[], cwd: string, env: Record<string, string> = {}) {
    this.process = new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#reading = [this.process.stdout, this.process.stderr].map(async (stream) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) this.output += decoder.decode(chunk, { stream: true });
    });
  }

  /** Waits for a pattern in the output. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const match = this.output.match(pattern);
      if (match) return match;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`timed out waiting for ${pattern}; output:\n${this.output}`);
  }

  /** Stops it and waits. */
  async stop(): Promise<void> {
    try {
      this.process.kill("SIGTERM");
    } catch {
      // already gone
    }
    await this.process.status;
    await Promise.all(this.#reading);
  }
}

/** Resident memory of a process, in MB. */
export function residentMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? NaN);
  return kb / 1024;
}

/**
 * Memory only this process holds, in MB: resident pages no other process
 * maps (most of the rest is the Deno executable, shared with every deno).
 */
export function privateMb(pid: number): number {
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kb = (field: string) =>
    Number(rollup.match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? NaN);
  return (kb("Private_Clean") + kb("Private_Dirty")) / 1024;
}

/** User + system CPU time of a process, in ms. */
export function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks * 10; // USER_HZ is 100 on Linux
}

/** Asks the kernel for a free loopback port. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}
