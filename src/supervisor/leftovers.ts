/**
 * What a program's process leaves behind when it ends or is stopped: its
 * subprocesses (a `sleep`, a bundler in watch mode, `sh -c "server &"`),
 * and its output pipes, which such a subprocess may hold open for good.
 * Nothing devsrv or the app started outlives devsrv (see DESIGN.md), in
 * reload mode and with `--no-reload` alike.
 *
 * @module
 */

import { type ProcessId, signalProcesses, stillRunning } from "../process_tree.ts";

/**
 * How long the output still in the pipes is read after the program exited,
 * in ms. A subprocess of the app may hold the pipes open for good: its
 * output is passed on as it comes, but the exit does not wait for it.
 */
export const PIPE_DRAIN_MS = 50;

/** How often leftover processes are checked while they are given time to end, in ms. */
const LEFTOVER_CHECK_MS = 20;

/**
 * Waits until the processes have ended, or kills them (SIGKILL) when the
 * grace is over.
 *
 * @param processes The processes, already told to end.
 * @param graceOver Settles when their time is up.
 */
export async function endProcesses(
  processes: ProcessId[],
  graceOver: Promise<unknown>,
): Promise<void> {
  let over = false;
  graceOver.then(() => over = true);
  while (!over && stillRunning(processes).length > 0) {
    await Promise.race([
      graceOver,
      new Promise((resolve) => setTimeout(resolve, LEFTOVER_CHECK_MS)),
    ]);
  }
  signalProcesses(stillRunning(processes), "SIGKILL");
}

/**
 * Waits for the pumps to reach the end of the pipes, but at most
 * {@linkcode PIPE_DRAIN_MS}.
 *
 * @param pumps The pumps that copy the pipes.
 */
export async function drained(pumps: Promise<void>[]): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(pumps),
    new Promise((resolve) => timer = setTimeout(resolve, PIPE_DRAIN_MS)),
  ]);
  clearTimeout(timer);
}
