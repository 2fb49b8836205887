/**
 * `--no-reload` for a user's program under `deno run`: start the program
 * once as Deno's main module, with devsrv's code in front of it, and wait
 * for it. The program then runs exactly as `deno run main.ts` runs it
 * (its `deno.json`, `import.meta.main`), binding its public port itself;
 * this process only passes signals on and ends with the program's exit
 * code.
 *
 * @module
 */

import type { ServeOptions } from "../options.ts";
import { DevsrvError, FAILURE_EXIT_CODE, formatError, stripAnsi } from "../errors.ts";
import { printToStderr, relayedColorEnv, writeAllSync } from "../log.ts";
import { failureFromExit } from "./child_failure.ts";
import { currentReexecInput, programCommand } from "./reexec.ts";
import { AUTO_SERVE_ENV, NODE_CAPTURE_ENV } from "../role.ts";
import type { TlsFiles } from "../listen/tls_files.ts";
import { SHUTDOWN_SIGNALS } from "../signals.ts";
import {
  descendantsOf,
  orphansOf,
  type ProcessId,
  processId,
  signalProcesses,
  stillRunning,
} from "../process_tree.ts";
import { drained, endProcesses } from "./leftovers.ts";
import {
  programSettings,
  programSettingsEnv,
  REPORTED_EXIT_CODE,
  SINGLE_PROCESS_BANNER,
} from "../serve/program_settings.ts";

/** The exit code of a process killed by a signal, as shells report it. */
const SIGNAL_EXIT_BASE = 128;
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
};

/** devsrv's code that runs in front of a user's program. */
export const PRELOAD_MODULE: URL = new URL("../serve/preload.ts", import.meta.url);

/**
 * The preload module as a command-line argument: a path for a local file,
 * else its URL.
 *
 * @returns The path or URL.
 */
export function preloadSpecifier(): string {
  return PRELOAD_MODULE.protocol === "file:"
    ? decodeURIComponent(PRELOAD_MODULE.pathname)
    : PRELOAD_MODULE.href;
}

/**
 * Runs a program once, in its own process, until it ends.
 *
 * @param entry The program's absolute path.
 * @param display The entry as the person gave it.
 * @param options The serve options.
 * @param tls `--cert` and `--key`, read.
 * @returns The program's exit code (128 + the signal's number if a signal ended it).
 */
export async function runProgramOnce(
  entry: string,
  display: string,
  options: ServeOptions,
  tls: TlsFiles | undefined,
): Promise<number> {
  const command = programCommand(currentReexecInput(), {
    preload: preloadSpecifier(),
    entry,
    args: options.args,
  });
  const settings = { ...programSettings(options, display, "single", true), tls: tls ?? null };
  const program = new Deno.Command(command.command, {
    args: command.args,
    env: {
      ...programSettingsEnv(settings),
      ...relayedColorEnv(),
      [AUTO_SERVE_ENV]: "1",
      [NODE_CAPTURE_ENV]: "1",
    },
    stdin: "inherit",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const identity = processId(program.pid);
  const relay = new OutputRelay();
  const pumps = [relay.pump(program.stdout, Deno.stdout), relay.pump(program.stderr, Deno.stderr)];
  /** The program's subprocesses when a signal was passed on. */
  let tree: ProcessId[] = [];
  const forward = SHUTDOWN_SIGNALS.map((name) => {
    const listener = () => {
      try {
        program.kill(name);
      } catch (error) {
        // It ended between the signal and the kill.
        if (!(error instanceof TypeError)) throw error;
      }
      // Its whole tree, as in reload mode: the app's subprocesses end with it.
      tree = [...tree, ...descendantsOf(program.pid)];
      signalProcesses(tree, name);
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  const status = await program.status;
  for (const [name, listener] of forward) Deno.removeSignalListener(name, listener);
  await endLeftovers([...tree, ...(identity ? orphansOf(identity) : [])], options.graceMs);
  // A subprocess that outlived its SIGKILL (or is not ours to see) may hold the pipes.
  await drained(pumps);
  relay.finish(status, display);
  if (status.signal) return SIGNAL_EXIT_BASE + (SIGNAL_NUMBERS[status.signal] ?? 0);
  return status.code === REPORTED_EXIT_CODE ? FAILURE_EXIT_CODE : status.code;
}

/**
 * Ends what the program left running (a subprocess holding its output
 * pipes, say): SIGTERM, then SIGKILL after `--grace`. Nothing outlives
 * devsrv, as in reload mode, where an app that ends leaves nothing behind.
 *
 * @param left The processes.
 * @param graceMs How long they have, in ms.
 */
async function endLeftovers(left: ProcessId[], graceMs: number): Promise<void> {
  if (stillRunning(left).length === 0) return;
  signalProcesses(left, "SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const graceOver = new Promise((resolve) => timer = setTimeout(resolve, graceMs));
  await endProcesses(left, graceOver);
  clearTimeout(timer);
}

/** How long Deno's report of an uncaught error is held back: the program exits right after one. */
const ERROR_REPORT_HOLD_MS = 1000;

/**
 * Passes the program's output through, except Deno's own report of an
 * error that ends the program (`error: ...` and the source excerpt and
 * stack after it): that becomes devsrv's one line with the fix, as for
 * every bad input. A report the program outlives is passed on as it was.
 */
class OutputRelay {
  #held = "";
  #holding = false;
  #ready = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Copies one stream of the program to one of this process.
   *
   * @param source The program's stdout or stderr.
   * @param sink Where it goes.
   */
  async pump(source: ReadableStream<Uint8Array>, sink: typeof Deno.stderr): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of source) {
      const text = decoder.decode(chunk, { stream: true });
      if (text.includes(SINGLE_PROCESS_BANNER)) this.#ready = true;
      if (sink === Deno.stderr) this.#relayError(text);
      else writeAllSync(sink, text);
    }
  }

  #relayError(text: string): void {
    if (!this.#holding) {
      // Deno colours its "error:" even into a pipe, unless NO_COLOR is set.
      const at = errorReportStart(text);
      if (at < 0) {
        writeAllSync(Deno.stderr, text);
        return;
      }
      writeAllSync(Deno.stderr, text.slice(0, at));
      this.#holding = true;
      this.#timer = setTimeout(() => this.#release(), ERROR_REPORT_HOLD_MS);
      text = text.slice(at);
    }
    this.#held += text;
  }

  #release(): void {
    writeAllSync(Deno.stderr, this.#held);
    this.#held = "";
    this.#holding = false;
  }

  /**
   * Ends the relay when the program has exited: a held report becomes one line.
   *
   * @param status How the program ended.
   * @param display The entry as shown.
   */
  finish(status: Deno.CommandStatus, display: string): void {
    clearTimeout(this.#timer);
    if (!this.#holding) return;
    // Exit 0, or devsrv's own one line already printed: nothing of Deno's to replace.
    if (status.success || status.code === REPORTED_EXIT_CODE) {
      this.#release();
      return;
    }
    const failure = failureFromExit(status, this.#held, display, this.#ready);
    // Nothing watches here: the fix is to start again, not to save.
    printToStderr(formatError(new DevsrvError(failure.message, "fix it and start devsrv again")));
  }
}

/**
 * Where Deno's report of an error begins in a piece of output: the start of
 * the first line that reads `error: `, however Deno coloured it.
 *
 * @returns The offset, or -1.
 */
function errorReportStart(text: string): number {
  let offset = 0;
  for (const line of text.split("\n")) {
    if (stripAnsi(line).startsWith("error: ")) return offset;
    offset += line.length + 1;
  }
  return -1;
}
