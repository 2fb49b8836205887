/**
 * One child process of the reloader: spawned from the same program with
 * `DEVSRV_RUN_MAIN=true`, its output passed through to the terminal (and
 * its tail kept for the 503 page), stopped with SIGTERM then SIGKILL.
 *
 * @module
 */

import {
  type FailureReport,
  isLostConnection,
  type ListeningReport,
  sendMessage,
  type StoppingReport,
} from "../channel/messages.ts";
import type { BackendAddress } from "../front/front.ts";
import {
  descendantsOf,
  orphansOf,
  type ProcessId,
  processId,
  signalProcesses,
} from "../process_tree.ts";
import { writeAllSync } from "../log.ts";
import { CHANNEL_ADDRESS_ENV, CHANNEL_TOKEN_ENV, GENERATION_ENV, RUN_MAIN_ENV } from "../role.ts";
import type { ChildCommand } from "./reexec.ts";
import { drained, endProcesses } from "./leftovers.ts";
import type { LoadedFiles } from "./loaded_files.ts";
import type { RestartRequest } from "./lifecycle.ts";

/** How a starting child ended up: serving, failed to load, or gone. */
export type StartOutcome =
  | { kind: "ready"; report?: ListeningReport }
  | { kind: "failed"; report: FailureReport }
  | { kind: "exited"; status: Deno.CommandStatus };

/** How much of the child's latest output is kept for the 503 page. */
const OUTPUT_TAIL_BYTES = 16 * 1024;
/** What the child needs to find its parent. */
export interface ChildChannel {
  address: string;
  token: string;
}

/** A running (or finished) child. */
export class ChildProcess {
  readonly generation: number;
  readonly pid: number;
  /** Resolves with the exit status; always awaited, so no zombies. */
  readonly status: Promise<Deno.CommandStatus>;
  readonly spawnedAt = performance.now();
  /** When the parent told it to load the app (a standby boots earlier). */
  startedAt = this.spawnedAt;
  /** When its first server listened (or it said it runs), `performance.now()`. */
  readyAt: number | undefined;
  /** Where each of its servers listens, by server index, as it reports them. */
  readonly servers = new Map<number, BackendAddress>();
  /**
   * When its program's main module had been evaluated (Deno's `load`
   * event), as it said, `performance.now()`: the modules its program
   * imports at load are read by then.
   */
  loadedAt: number | undefined;
  /** The recently changed files as it was told to start (see `loaded_files.ts`). */
  loadedFiles: LoadedFiles | undefined;
  /** A restart it was spared while it started, as it had read the change: run if its start fails. */
  spared: RestartRequest | undefined;
  /** Its program's main module has been evaluated (see {@linkcode ChildProcess.loadedAt}). */
  get loaded(): boolean {
    return this.loadedAt !== undefined;
  }

  /** Its program serves on a Unix socket path of its own, which the next one will ask for. */
  servesUnixSocket = false;
  /** Its output is kept back (see {@linkcode ChildProcess.holdOutput}). */
  get holdsOutput(): boolean {
    return this.#held !== undefined;
  }
  /** The child's own report that the app cannot be served, the last one. */
  failure: FailureReport | undefined;
  /** Settles with what the child waits for once it has been told to stop. */
  readonly stopReport: Promise<StoppingReport>;
  #settleStopReport: (report: StoppingReport) => void = () => {};
  /** Settles with the first server that listens, a load failure, or the exit. */
  readonly outcome: Promise<StartOutcome>;
  #settleOutcome: (outcome: StartOutcome) => void = () => {};
  #link: Deno.Conn | undefined;
  #linkWaiters: ((conn: Deno.Conn) => void)[] = [];
  #hookWaiters: ((hook: string | null) => void)[] = [];
  #process: Deno.ChildProcess;
  #tail = "";
  /** Output kept back while the child is a head start; `undefined` when passed through. */
  #held: { sink: typeof Deno.stdout; chunk: Uint8Array }[] | undefined;
  #dropping = false;
  #exited = false;
  #stopping = false;
  #subprocesses = 0;
  #pumps: Promise<void>[];
  /** The process as named at its start, to find what it leaves behind. */
  #identity: ProcessId | undefined;

  /**
   * Spawns the child.
   *
   * @param command The re-executed program.
   * @param channel Where it reports to.
   * @param generation Its generation number.
   * @param baseEnv The environment to start from (see env_files.ts).
   */
  constructor(
    command: ChildCommand,
    channel: ChildChannel,
    generation: number,
    baseEnv: Record<string, string>,
  ) {
    this.generation = generation;
    this.#process = new Deno.Command(command.command, {
      ...(command.cwd === undefined ? {} : { cwd: command.cwd }),
      args: command.args,
      clearEnv: true,
      env: {
        ...baseEnv,
        [RUN_MAIN_ENV]: "true",
        [CHANNEL_ADDRESS_ENV]: channel.address,
        [CHANNEL_TOKEN_ENV]: channel.token,
        [GENERATION_ENV]: String(generation),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#process.pid;
    this.#identity = processId(this.pid);
    this.#pumps = [
      this.#pump(this.#process.stdout, Deno.stdout),
      this.#pump(this.#process.stderr, Deno.stderr),
    ];
    this.status = this.#process.status.then(async (status) => {
      this.#exited = true;
      await drained(this.#pumps);
      // An app that ended by itself may leave subprocesses behind; they end with it.
      if (!this.#stopping && this.#identity) signalProcesses(orphansOf(this.#identity), "SIGKILL");
      return status;
    });
    this.outcome = new Promise((resolve) => this.#settleOutcome = resolve);
    this.stopReport = new Promise((resolve) => this.#settleStopReport = resolve);
    this.status.then((status) => this.#settleOutcome({ kind: "exited", status }));
  }

  /**
   * Records the child's channel connection, once it has said hello.
   *
   * @param conn The authenticated connection.
   */
  attach(conn: Deno.Conn): void {
    this.#link = conn;
    for (const waiter of this.#linkWaiters.splice(0)) waiter(conn);
  }

  /** Resolves with the channel connection once the child has said hello. */
  link(): Promise<Deno.Conn> {
    const link = this.#link;
    if (link) return Promise.resolve(link);
    return new Promise((resolve) => this.#linkWaiters.push(resolve));
  }

  /** Whether the child has said hello on the channel. */
  get linked(): boolean {
    return this.#link !== undefined;
  }

  /**
   * Takes a server the child reports: the first one makes it ready.
   *
   * @param report The child's "listening".
   */
  listening(report: ListeningReport): void {
    this.servers.set(
      report.index,
      report.path === undefined
        ? { hostname: "127.0.0.1", port: report.port }
        : { path: report.path },
    );
    this.failure = undefined; // a report from before it served is out of date
    this.readyAt ??= performance.now();
    this.#settleOutcome({ kind: "ready", report });
  }

  /** Takes the child's report that its program serves on a Unix socket (which it holds): it runs. */
  running(): void {
    this.servesUnixSocket = true;
    this.readyAt ??= performance.now();
    this.#settleOutcome({ kind: "ready" });
  }

  /**
   * Takes the child's report of what its stop waits for.
   *
   * @param report The child's "stopping".
   */
  stopping(report: StoppingReport): void {
    this.#settleStopReport(report);
  }

  /**
   * Takes the child's report that the app cannot be served.
   *
   * @param report Why.
   */
  failed(report: FailureReport): void {
    this.failure = report;
    this.#settleOutcome({ kind: "failed", report });
  }

  /** How many subprocesses the child had when it was told to stop (0 before). */
  get subprocesses(): number {
    return this.#subprocesses;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** The latest output (stdout and stderr interleaved), as text. */
  get outputTail(): string {
    return this.#tail;
  }

  async #pump(
    source: ReadableStream<Uint8Array>,
    sink: typeof Deno.stdout,
  ): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of source) {
        if (this.#dropping) continue;
        if (this.#held) this.#held.push({ sink, chunk });
        else writeAllSync(sink, chunk);
        this.#tail = (this.#tail + decoder.decode(chunk, { stream: true }))
          .slice(-OUTPUT_TAIL_BYTES);
      }
    } catch {
      // Any error is fine here: reading the child's pipe or writing to ours
      // failed (a broken pipe, or EIO from a hung-up terminal, a plain Error);
      // nothing more can be relayed, and the child's status tells the rest.
    }
  }

  /**
   * Keeps the child's output back from the terminal from now on, until
   * {@linkcode ChildProcess.releaseOutput}: a head start's output is shown
   * only if its code is the one that serves (its tail is kept all the same).
   */
  holdOutput(): void {
    this.#held ??= [];
  }

  /** Writes the output kept back, in order, and passes the rest through as it comes. */
  releaseOutput(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    try {
      for (const { sink, chunk } of held) writeAllSync(sink, chunk);
    } catch {
      // Any error is fine here, as in the pump: our own output is gone.
    }
  }

  /** Drops the output kept back, and whatever comes later: nobody is to see it. */
  dropOutput(): void {
    this.#held = undefined;
    this.#dropping = true;
  }

  /**
   * Asks the child what its program does as it ends (see
   * `serve/shutdown_hooks.ts`).
   *
   * @param timeoutMs How long to wait for the answer.
   * @returns `"SIGTERM"`, `"unload"`, `"exit"`, ...; `null` for nothing;
   *   `undefined` when no answer came in time (or the child is gone).
   */
  async askHooks(timeoutMs: number): Promise<string | null | undefined> {
    const link = this.#link;
    if (!link || this.#exited) return undefined;
    const answer = new Promise<string | null>((resolve) => this.#hookWaiters.push(resolve));
    try {
      await sendMessage(link, { type: "askHooks" });
    } catch (error) {
      if (!isLostConnection(error)) throw error;
      return undefined;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Takes the child's answer to "askHooks".
   *
   * @param hook What its program does as it ends, or `null`.
   */
  hooks(hook: string | null): void {
    for (const waiter of this.#hookWaiters.splice(0)) waiter(hook);
  }

  /** Sends a signal if the process still runs. */
  signal(signal: Deno.Signal): void {
    if (this.#exited) return;
    try {
      this.#process.kill(signal);
    } catch (error) {
      // It exited between the check and the kill: a TypeError once Deno has
      // seen it end, NotFound (ESRCH) if the pid went before that.
      if (!(error instanceof TypeError || error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /**
   * Stops the child: SIGTERM, then SIGKILL after the grace period.
   *
   * @param graceMs How long it may take to finish in-flight requests.
   * @returns Its exit status, and whether it had to be killed.
   */
  async stop(
    graceMs: number,
    options: { waitForTree?: boolean } = {},
  ): Promise<{ status: Deno.CommandStatus; killed: boolean }> {
    this.#stopping = true;
    // The child first, so that its stop (and its report of what it waits
    // for) runs while its tree is listed; a subprocess it leaves behind by
    // exiting meanwhile is an orphan, which the end of the stop finds.
    this.signal("SIGTERM");
    // Its whole tree: the app's subprocesses end with it.
    const tree = descendantsOf(this.pid);
    this.#subprocesses = tree.length;
    signalProcesses(tree, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), graceMs);
    });
    const first = await Promise.race([this.status, timedOut]);
    if (first !== "timeout") {
      // The restart goes on now. What the child left running gets the rest of
      // the grace: its tree, and what it detached (`sh -c "server &"`).
      const left = [...tree, ...(this.#identity ? orphansOf(this.#identity) : [])];
      signalProcesses(left, "SIGTERM");
      const ending = endProcesses(left, timedOut);
      if (options.waitForTree) await ending;
      else Deno.unrefTimer(timer!);
      return { status: first, killed: false };
    }
    signalProcesses([...tree, ...descendantsOf(this.pid)], "SIGKILL");
    this.signal("SIGKILL");
    return { status: await this.status, killed: true };
  }
}
