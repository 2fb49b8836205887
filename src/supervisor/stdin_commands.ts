/**
 * Commands typed into devsrv's terminal (`rs` and Enter restarts the app,
 * as in nodemon). The terminal is read only while devsrv is its foreground
 * job: a background job that reads it is stopped by the kernel (SIGTTIN),
 * which would stop serving too. So a background devsrv (`devsrv serve &`),
 * or one whose stdin is a pipe, a file or closed (CI, Docker without `-t`,
 * systemd, `nohup`), never reads; one brought to the foreground (`fg`)
 * starts reading.
 *
 * @module
 */

import { parseProcessStat } from "../process_tree.ts";

/**
 * Tells whether this process's group is the terminal's foreground job, from
 * `/proc/self/stat` (its process group, field 5, against the terminal's
 * foreground group, field 8).
 *
 * @returns `true` or `false`; `undefined` where `/proc` cannot tell.
 */
export function isForegroundJob(): boolean | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/self/stat");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      return undefined;
    }
    throw error;
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const stat = parseProcessStat(text);
  const foreground = Number(fields[5]);
  return stat !== undefined && Number.isInteger(foreground) && stat.pgrp === foreground;
}

/**
 * How often a background devsrv checks whether it has become the
 * foreground job, in ms: bash's `fg` sends SIGCONT only to a stopped job,
 * so a running one is not told.
 */
const FOREGROUND_CHECK_MS = 500;

/** Resolves once this process's group is the terminal's foreground job. */
function foreground(): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (isForegroundJob() === false) return;
      clearInterval(timer);
      Deno.removeSignalListener("SIGCONT", check);
      resolve();
    };
    const timer = setInterval(check, FOREGROUND_CHECK_MS);
    Deno.unrefTimer(timer);
    Deno.addSignalListener("SIGCONT", check);
  });
}

/**
 * Reads lines typed into the terminal while devsrv is its foreground job.
 *
 * @param onLine Called with each line, trimmed.
 */
export function readTerminalLines(onLine: (line: string) => void): void {
  if (!Deno.stdin.isTerminal()) return;
  (async () => {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(1024);
    let pending = "";
    while (true) {
      // Without /proc (not Linux) the terminal is read as before: a background job may stop.
      if (isForegroundJob() === false) {
        await foreground();
        continue;
      }
      const n = await Deno.stdin.read(buffer);
      if (n === null) return;
      pending += decoder.decode(buffer.subarray(0, n), { stream: true });
      let newline: number;
      while ((newline = pending.indexOf("\n")) >= 0) {
        onLine(pending.slice(0, newline).trim());
        pending = pending.slice(newline + 1);
      }
    }
  })().catch((error) => {
    // The terminal went away (EIO after a hang-up): there is nothing left to read.
    if (
      !(error instanceof Deno.errors.BadResource ||
        error instanceof Error && /EIO|os error 5/.test(error.message))
    ) {
      throw error;
    }
  });
}
