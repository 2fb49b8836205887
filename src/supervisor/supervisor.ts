/**
 * The reloader (parent): owns the public address through the front,
 * watches files, and keeps exactly one child serving. A change stops the
 * old child (held requests wait) and starts a new one; a child that fails
 * leaves the parent answering with the error until a change fixes it.
 *
 * What happens to the child is decided by the pure state machine of
 * `lifecycle.ts`; the {@linkcode Supervisor} wires it to the world: it turns
 * what the children, the channel, the watcher and the terminal report into
 * events, and applies the effects that come back to real processes
 * (`children.ts`), the public ports (`public_ports.ts`), the live-reload hub
 * and the log. Where each request goes is `routing.ts`'s answer.
 *
 * @module
 */

import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  isLostConnection,
  readChildReport,
  sendMessage,
  type StartMessage,
  type StoppingReport,
} from "../channel/messages.ts";
import { BackendSockets } from "../channel/backend_sockets.ts";
import type { ChannelListener } from "../channel/parent_end.ts";
import { DevsrvError, firstLine, UsageError } from "../errors.ts";
import type { Route } from "../front/front.ts";
import type { TlsFiles } from "../listen/tls_files.ts";
import { LiveReloadHub } from "../live_reload/hub.ts";
import { clientScriptUrl, isDevsrvPath } from "../live_reload/paths.ts";
import { type Logger, phaseTimer } from "../log.ts";
import { openBrowser } from "../open_browser.ts";
import type { ServeOptions } from "../options.ts";
import type { AppFailure } from "../pages/failure_page.ts";
import type { DevsrvStatus, RestartRecord } from "../pages/status_page.ts";
import { INITIAL_CWD, RUN_MAIN_ENV } from "../role.ts";
import { NO_SERVER_NOTICE_MS, noServerNotice } from "../serve/app_loader.ts";
import type { AppSource } from "../serve/app_source.ts";
import { onShutdownSignal } from "../signals.ts";
import { VERSION } from "../version.ts";
import type { AppEntry } from "../watch/change_decision.ts";
import type { BatchSeen, ChangeBatch, Watching } from "../watch/watch.ts";
import { WatchPolicy } from "../watch/watch_policy.ts";
import { type NodeUse, readSourceOrUndefined, scanForNode } from "../watch/node_scan.ts";
import { descendantsOf } from "../process_tree.ts";
import { failureFromExit, mayBeOldChildsFault } from "./child_failure.ts";
import type { ChildProcess } from "./child_process.ts";
import { type Children, runsProgram } from "./children.ts";
import { ChildrenSetup } from "./first_child.ts";
import { HeadStarts, mayStartAhead } from "./head_start.ts";
import { Overlap } from "./overlap.ts";
import { LoadedFiles, MAX_FILES } from "./loaded_files.ts";
import {
  childOf,
  type Effect,
  initialLifecycle,
  type Lifecycle,
  type LifecycleEvent,
  type Phase,
  type RestartRequest,
  startsBeforeExit,
  transition,
} from "./lifecycle.ts";
import { startPageServer } from "./page_server.ts";
import { PublicPorts } from "./public_ports.ts";
import type { ChildCommand } from "./reexec.ts";
import { routeRequest } from "./routing.ts";
import { readTerminalLines } from "./stdin_commands.ts";

export type { Phase, RestartRequest } from "./lifecycle.ts";

/**
 * How long after the first start is over the tree is scanned, in ms: the
 * requests held for the first child are answered first (measured: a scan
 * of 257 files right at "ready" held the first response 30–40 ms).
 */
const SCAN_DELAY_MS = 50;

/**
 * How long after the first child was told to start the tree is scanned
 * anyway, while it has neither served nor failed (a slow top level, a
 * program that starts its server late or never), in ms.
 */
const FIRST_START_WAIT_MS = 500;

/** How long a head start waits for the serving child to say what its program does as it ends, in ms. */
const HOOKS_ANSWER_MS = 20;

/** How long the first start waits for the module graph before it captures `node:http` anyway, in ms. */
const NODE_DECISION_WAIT_MS = 500;

/** Everything a supervisor is made of that comes from outside: nothing is read from argv or files here. */
export interface SupervisorOptions {
  /** What the child serves. */
  source: AppSource;
  /** The serve options. */
  options: ServeOptions;
  /** The reloader's logger. */
  log: Logger;
  /** `--cert` and `--key`, read. */
  tls?: TlsFiles | undefined;
  /** How a child is started (see `reexec.ts`, `reloaderCommand` in `first_child.ts`). */
  command: ChildCommand;
  /** What `--env-file` gave this process at its start, kept out of the children's environment. */
  fromEnvFiles?: ReadonlyMap<string, string>;
  /**
   * The children and their channel, made (and the first child spawned)
   * before this supervisor; made here from `command` when not given.
   */
  children?: ChildrenSetup;
  /** The directory devsrv started in. @default {INITIAL_CWD} */
  cwd?: string;
}

/** The supervisor of one reloader session. */
export class Supervisor {
  #state: Lifecycle<ChildProcess> = initialLifecycle();
  /** Whether the next child may run beside the old one (see `overlap.ts`). */
  readonly #overlap = new Overlap();
  /** The files of the latest batches that restarted the app, newest first. */
  #recentFiles: string[] = [];
  /** Events that arrived while effects were applied, handled next, in order. */
  readonly #events: LifecycleEvent<ChildProcess>[] = [];
  #dispatching = false;
  /** Generation of the current child (the one started last). */
  #generation = 0;
  /** The restart under way: when it began, and what to call when it ends. */
  #restartTimer: { startedAt: number; ended: (ms: number, ok: boolean) => void } | undefined;
  #lastRestart: RestartRecord | null = null;
  /** Settles once the first start knows whether to capture `node:http` (or stops waiting). */
  #nodeDecided: Promise<void> = Promise.resolve();
  /** What a scan of the program's own modules says of `node:http`, for the first start. */
  /** The children's stop at the end of the session. */
  #stoppingAll: Promise<void> = Promise.resolve();
  readonly #setup: SupervisorOptions;
  readonly #log: Logger;
  /** Marks a step in the log with `--verbose`. */
  readonly #step: (step: string) => void;
  readonly #channel: ChannelListener;
  readonly #children: Children;
  readonly #ports: PublicPorts;
  readonly #pages: Deno.HttpServer<Deno.NetAddr>;
  readonly #hub: LiveReloadHub;
  /** Where the children's servers listen on Unix sockets. */
  readonly #sockets = new BackendSockets();
  /** What to watch and what a change does (the module graph, the app's own writes). */
  readonly #policy: WatchPolicy;
  #watching: Watching | undefined;
  /** Settles with a problem that ends the session (the first public port cannot be bound). */
  readonly fatal: Promise<DevsrvError>;
  /**
   * Settles once the first start is over: the app serves, or cannot, or
   * {@linkcode FIRST_START_WAIT_MS} after it was told to start (the watch
   * scan waits for it, so that the first requests do not).
   */
  readonly firstSettled: Promise<void>;
  #settleFirst: () => void = () => {};
  #failSession: (error: DevsrvError) => void = () => {};
  /** The Unix sockets the program serves on, already noted in the log. */
  readonly #unixSockets = new Set<string>();
  /**
   * Called with the first URL when the first page can be shown: the first
   * child is ready, or the first start failed and the 503 page says why
   * (`--open`); once more if the fixed program then serves on its own port.
   */
  onFirstReady: (url: string) => void = () => {};
  #firstPageUrl: string | undefined;
  #firstPageMoved = false;
  /** When the first child was told to load the program, ms since the epoch. */
  #firstToldAt: number | undefined;
  /** The standby told to load a change's code before its batch is decided (`head_start.ts`). */
  readonly #headStarts: HeadStarts<ChildProcess>;

  /** @param setup What the session is made of. */
  constructor(setup: SupervisorOptions) {
    this.#setup = setup;
    const { source, options, log } = setup;
    const cwd = setup.cwd ?? INITIAL_CWD;
    this.#log = log;
    this.#step = phaseTimer(log, options.verbose);
    this.fatal = new Promise((resolve) => this.#failSession = resolve);
    this.firstSettled = new Promise((resolve) => this.#settleFirst = resolve);
    this.#headStarts = new HeadStarts<ChildProcess>({
      debounceMs: options.debounceMs,
      matters: (paths) =>
        this.#policy.preview(paths, this.phase.kind === "failed").decision.action !== "none",
      allowed: (paths, hook) => this.#mayStartAhead(paths, hook),
      askHook: async () => {
        const serving = childOf(this.phase);
        return serving && !serving.exited ? await serving.askHooks(HOOKS_ANSWER_MS) : null;
      },
      start: () => this.#startAhead(),
      discard: (child, why) => this.#discard(child, why),
      step: this.#step,
    }, options.headStart);
    this.#policy = new WatchPolicy({
      entry: appEntry(source, cwd),
      options,
      denoArgs: setup.command.args,
      cwd,
    });
    const children = setup.children ?? new ChildrenSetup({
      source,
      options,
      command: setup.command,
      fromEnvFiles: setup.fromEnvFiles ?? new Map(),
      phase: this.#step,
    });
    this.#channel = children.channel;
    this.#children = children.children;
    children.connect(
      (generation, messages, conn) => this.#listen(generation, messages, conn),
      // Warming Node's layer up early is only worth it when it will be needed.
      () => this.#policy.graph === undefined ? this.#scanForNode() === "node" : this.#capturesNode,
    );
    this.#hub = new LiveReloadHub(
      () => this.#generation,
      source.root ? { staticRoot: source.root } : {},
    );
    this.#pages = startPageServer({
      options,
      status: () => this.status(),
      failure: () => this.phase.kind === "failed" ? this.phase.failure : undefined,
      generation: () => this.#generation,
      hub: this.#hub,
    }, log);
    this.#ports = new PublicPorts({
      options,
      display: source.display,
      tls: setup.tls,
      log,
      route: (index, target) => this.route(index, target),
      scriptUrl: () => clientScriptUrl(this.#generation),
      onRequestStart: (target) =>
        isDevsrvPath(target) || this.phase.kind === "failed"
          ? undefined // not the app's work: devsrv's own pages
          : this.#policy.requestStarted(target),
      failSession: (error) => this.#failSession(error),
    });
  }

  /** Where the child is in its life (for tests and the status page). */
  get phase(): Phase<ChildProcess> {
    return this.#state.phase;
  }

  /** Whether the first public port is bound before the first child starts. */
  get bindsFirst(): boolean {
    return this.#setup.options.port !== undefined || !runsProgram(this.#setup.source);
  }

  /**
   * Binds the first public port before any child starts, so that a taken
   * port is reported at once: for `--port`, a static directory and a
   * library user's handler. A program's own port is bound when its server
   * first listens.
   *
   * @returns The bound address.
   * @throws {DevsrvError} When the address cannot be bound.
   */
  bindFirst(): Deno.NetAddr {
    return this.#ports.bindFirst();
  }

  /**
   * Prints where the first public port is reached (after the banner); the
   * first page may be shown from then on, if the first start is over
   * already (a long watch scan).
   */
  announceFirst(): void {
    this.#ports.announceFirst();
    if (this.phase.kind === "ready" || this.phase.kind === "failed") this.#firstPage();
  }

  /**
   * Decides where one request goes.
   *
   * @param index The server (public port) the request came in on.
   * @param target The request-target.
   * @returns Forward to the child or the page server, hold, or answer 503.
   */
  route(index: number, target: string): Route {
    // While a head start loads, the app's state stays as it read it: a new
    // request waits for the batch (then the new child, or the old one again).
    if (this.#headStarts.current && !isDevsrvPath(target)) return { kind: "hold" };
    return routeRequest(this.phase, index, target, {
      pages: { hostname: "127.0.0.1", port: this.#pages.addr.port },
      display: this.#setup.source.display,
    });
  }

  /**
   * Asks for a restart; it merges with one already waiting.
   *
   * @param request Why.
   */
  restart(request: RestartRequest): void {
    this.#dispatch({ kind: "restart", request });
  }

  /**
   * Starts watching the roots.
   *
   * @returns The watching handle.
   */
  async watch(): Promise<Watching> {
    const { options } = this.#setup;
    this.#watching = await this.#policy.startWatching({
      ignore: options.ignore,
      gitignore: options.gitignore,
      debounceMs: options.debounceMs,
      poll: options.poll,
      intervalMs: options.intervalMs,
      onWarning: (message) => this.#log.warn(message),
      onEachChange: (paths) => this.#headStarts.seen(paths),
      onEmptyBatch: (paths, seen) => {
        const prepared = this.#headStarts.endBatch();
        if (prepared) this.#discard(prepared, "the files are back as they were");
        this.#onFilesBack(paths, seen);
      },
      ...(this.#firstToldAt === undefined ? {} : { changedSince: this.#firstToldAt }),
    }, (batch) => this.#onChange(batch));
    return this.#watching;
  }

  /** The state `/__devsrv` shows. */
  status(): DevsrvStatus {
    const phase = this.phase;
    const child = childOf(phase);
    const watching = this.#watching;
    return {
      version: VERSION,
      mode: "reloader",
      parentPid: Deno.pid,
      childPid: child && !child.exited ? child.pid : null,
      standbyPid: this.#children.standbyPid,
      headStartPid: this.#headStarts.current?.pid ?? null,
      generation: this.#generation,
      state: phase.kind,
      entry: this.#setup.source.display,
      reloader: watching?.kind ?? "none",
      watchRoots: watching?.roots.map((root) => relative(Deno.cwd(), root) || ".") ?? [],
      watchedFiles: watching?.fileCount ?? 0,
      lastRestart: this.#lastRestart,
      error: phase.kind === "failed" ? phase.failure.message : null,
      ...this.#policy.status(),
    };
  }

  /** Stops everything: watcher, children (gracefully), fronts, servers. */
  async shutdown(): Promise<void> {
    this.#watching?.close();
    this.#headStarts.drop("the session ends");
    const policyClosed = this.#policy.close();
    this.#hub.close();
    this.#dispatch({ kind: "shutdown" });
    await this.#stoppingAll;
    this.#sockets.remove();
    await this.#ports.close();
    await this.#pages.shutdown();
    await this.#channel.close();
    await policyClosed;
  }

  #onChange(batch: ChangeBatch): void {
    const failed = this.phase.kind === "failed";
    const { decision, line, hint, files, actedPaths, reloadFiles, startupFileChanged } = this
      .#policy.decide(batch, failed);
    const prepared = this.#headStarts.endBatch();
    const restarts = decision.action === "restart" || (decision.action === "reload" && failed);
    const request = { reason: "change", files, startupFileChanged };
    if (restarts && !startupFileChanged && this.#loadedAlready(actedPaths, request, batch.seen)) {
      if (prepared) this.#discard(prepared, "the child has this code already");
      const { liveReload } = this.#setup.options;
      if (decision.action === "restart" && reloadFiles.length > 0 && liveReload) {
        this.#hub.changed(reloadFiles);
      }
      return;
    }
    if (line !== undefined) this.#log.info(line);
    if (hint !== undefined) this.#log.warn(hint);
    if (restarts) {
      this.#noteRecent(actedPaths);
      if (prepared && !startupFileChanged) {
        this.#dispatch({ kind: "restart", request, prepared });
        return;
      }
      if (prepared) this.#discard(prepared, "a file Deno reads at start changed too");
      this.restart(request);
      return;
    }
    if (prepared) this.#discard(prepared, "the batch restarts nothing");
    if (decision.action === "reload" && this.#setup.options.liveReload) {
      this.#hub.changed(reloadFiles);
    }
  }

  /**
   * Whether the child serving or starting has read this batch's files as
   * they are: it was told to start after they were written (a fresh child
   * spawns for tens of ms), and their OS events came only now. Restarting
   * it would run the same code again (abandoning a start, or after it).
   * A child still starting may have read a file in the middle of a save
   * (truncated, then written again with the same bytes): if its start
   * fails, the restart it was spared runs then (`#fail`).
   *
   * @param paths The batch's files.
   * @param request The restart the batch asks for.
   * @param seen When the batch's changes were seen: none may have come
   *   while the child read its modules, or it may have read a state in
   *   between (a save undone within ms).
   */
  #loadedAlready(paths: string[], request: RestartRequest, seen: BatchSeen | undefined): boolean {
    const phase = this.phase;
    const starting = phase.kind === "starting" && !phase.abandoned;
    if ((phase.kind !== "ready" && !starting) || this.#state.pending !== undefined) return false;
    const child = phase.child;
    if (!seen || !readOutsideBatch(child, seen)) return false;
    if (!child.loadedFiles?.unchanged(paths)) return false;
    if (starting) child.spared = request;
    this.#step(`child ${child.generation} has read these changes already: no restart`);
    return true;
  }

  /**
   * A batch whose files came back as they were before it changes nothing
   * on disk; but a child that read them in the middle of it (a save undone
   * within ms, or a save that truncated the file and wrote the same bytes
   * back) has what is no longer there: it restarts. So does a failing app,
   * as for any save of a file it did not write.
   */
  #onFilesBack(paths: string[], seen: BatchSeen): void {
    const phase = this.phase;
    const child = childOf(phase);
    const failed = phase.kind === "failed";
    if (!failed && (!child || phase.kind === "stopping" || readOutsideBatch(child, seen))) return;
    const { decision, startupFileChanged } = this.#policy.preview(paths, failed);
    if (decision.action === "none" || (!failed && decision.action !== "restart")) return;
    const files = paths.map((path) => relative(Deno.cwd(), path) || path);
    this.#log.info(
      `${files.join(", ")} changed and changed back${
        failed ? "" : ` while child ${child!.generation} read it`
      } · restarting`,
    );
    this.restart({ reason: "change", files, startupFileChanged });
  }

  /** Remembers a restart's files, which the next children's snapshots keep (`loaded_files.ts`). */
  #noteRecent(paths: string[]): void {
    this.#recentFiles = [...paths, ...this.#recentFiles.filter((path) => !paths.includes(path))]
      .slice(0, MAX_FILES);
  }

  /** Ends a head start that no restart takes; its output is never shown. */
  #discard(child: ChildProcess, why: string): void {
    this.#step(`child ${child.generation}'s head start discarded: ${why}`);
    this.#ports.changed(); // requests held for it go on
    child.dropOutput();
    void this.#children.retire(child, 0);
    if (this.phase.kind === "ready") this.#children.prepareStandby();
  }

  /** Whether changed files may have a head start now (see `mayStartAhead()`). */
  #mayStartAhead(paths: string[], hook: string | null | undefined): boolean {
    const phase = this.phase;
    const serving = childOf(phase);
    const { decision, startupFileChanged } = this.#policy.preview(paths, phase.kind === "failed");
    return mayStartAhead({
      runsProgram: runsProgram(this.#setup.source),
      phase: phase.kind,
      restartUnderWay: this.#state.restart !== undefined || this.#state.pending !== undefined ||
        this.#state.spawning,
      action: decision.action,
      startupFileChanged,
      ...(serving && !serving.exited
        ? {
          child: {
            hook,
            subprocesses: descendantsOf(serving.pid).length,
            servesUnixSocket: serving.servesUnixSocket,
          },
        }
        : {}),
    });
  }

  /** Takes the booted standby and tells it to load the app now, its output kept back. */
  #startAhead(): ChildProcess | undefined {
    const child = this.#children.takeBooted();
    if (!child) return undefined;
    child.holdOutput();
    child.startedAt = performance.now();
    this.#tell(child, "ahead of the batch (head start)");
    return child;
  }

  /** Hands an event to the state machine and applies its effects; events they cause wait their turn. */
  #dispatch(event: LifecycleEvent<ChildProcess>): void {
    this.#events.push(event);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let next = this.#events.shift(); next; next = this.#events.shift()) {
        const { state, effects } = transition(this.#state, next);
        this.#state = state;
        for (const effect of effects) this.#apply(effect);
      }
    } finally {
      this.#dispatching = false;
    }
  }

  #apply(effect: Effect<ChildProcess>): void {
    switch (effect.kind) {
      case "restartBegun":
        this.#restartTimer = {
          startedAt: performance.now(),
          ended: this.#policy.restarting(),
        };
        return;
      case "stop":
        void this.#stop(effect.child, effect.untilExit === true);
        return;
      case "retryAfterOverlap":
        this.#overlap.failedBeside(firstLine(effect.failure.message));
        this.#log.warn(
          `Child pid ${effect.child.pid} failed while the old child was still stopping (${
            firstLine(effect.failure.message)
          }) · trying again once it has exited`,
        );
        return;
      case "abandon":
        void effect.child.stop(0);
        return;
      case "awaitExit":
        this.#log.info(
          `Child pid ${effect.child.pid} was still starting · starting the newest code instead`,
        );
        effect.child.status.then(() => this.#dispatch({ kind: "gone", child: effect.child }));
        return;
      case "spawn":
        this.#spawn(effect.fresh);
        return;
      case "launch":
        void this.#launch(effect.child);
        return;
      case "adopt":
        this.#adopt(effect.child);
        return;
      case "discard":
        this.#discard(effect.child, "another restart is under way");
        return;
      case "serve":
        this.#serve(effect.child);
        return;
      case "fail":
        this.#fail(effect.failure, effect.child);
        return;
      case "restartAsked":
        this.#log.info(
          `Child pid ${effect.child.pid} asked for a restart (exit code 3) · restarting`,
        );
        return;
      case "restartEnded":
        this.#restartEnded(effect.request, effect.ok);
        return;
      case "stopAll":
        this.#stoppingAll = this.#children.stopAll(effect.child, this.#setup.options.graceMs);
        return;
    }
  }

  /**
   * Stops the old child, and reports it stopped as soon as the next one may
   * start: once it has said that its stop waits only for devsrv's own work
   * (requests in flight finish beside the next child, which imports the app
   * meanwhile), or once it has exited when the app handles the signal
   * itself or has subprocesses (see {@linkcode startsBeforeExit}).
   */
  async #stop(child: ChildProcess, untilExit: boolean): Promise<void> {
    const { graceMs } = this.#setup.options;
    const stopped = this.#children.retire(child, graceMs).then(({ killed }) => {
      if (!killed) return;
      this.#log.warn(
        `Child pid ${child.pid} did not stop within ${graceMs} ms (--grace) · killed it`,
      );
    });
    if (untilExit) {
      await Promise.all([stopped, this.#children.retired()]);
      this.#dispatch({ kind: "stopped", child });
      return;
    }
    const report = await Promise.race([child.stopReport, stopped.then(() => undefined)]);
    const early = startsBeforeExit(report, {
      subprocesses: child.subprocesses,
      servesUnixSocket: child.servesUnixSocket,
      exitFirst: this.#overlap.exitFirst !== undefined,
    });
    if (!early) await stopped;
    this.#dispatch({ kind: "stopped", child, early });
  }

  #spawn(fresh: boolean): void {
    let child: ChildProcess;
    try {
      child = this.#children.next(fresh);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        // No change can fix a missing permission: say so and end the session.
        this.#failSession(
          new DevsrvError(
            `devsrv cannot start the app's process: ${firstLine(error)}`,
            "run devsrv with -A (deno run -A main.ts serve ...)",
          ),
        );
        this.#dispatch({ kind: "spawnFailed", failure: undefined });
        this.#settleFirst();
        return;
      }
      // Not found, not executable, ... (a bug too): the page shows it until a change.
      const failure = {
        message: `cannot start the child: ${String(error)}`,
        detail: "",
        output: "",
      };
      this.#dispatch({ kind: "spawnFailed", failure });
      return;
    }
    child.status.then(() => this.#sockets.sweep(child.pid));
    this.#dispatch({ kind: "spawned", child });
  }

  /** Tells a new child to load the app, and reports how its start ends. */
  async #launch(child: ChildProcess): Promise<void> {
    this.#generation = child.generation;
    // Spawned first: deno info for the graph boots beside it, not before it.
    if (child.generation === 1) this.#learnModuleGraph();
    child.startedAt = performance.now();
    if (this.#state.overlapped) this.#holdOutputBesideOld(child);
    this.#tell(child);
    await this.#awaitOutcome(child);
  }

  /**
   * Keeps back the output of a child that starts while the old one still
   * stops: if it fails with an error the old child may have caused (its
   * port, its socket), a fresh child tries again, and this one's error is
   * nobody's to read. It is shown once the child serves, fails for good, or
   * the old child has exited (a program that logs as it loads is not kept
   * quiet for long).
   */
  #holdOutputBesideOld(child: ChildProcess): void {
    child.holdOutput();
    void this.#children.retired().then(() => {
      if (child.holdsOutput && !child.exited) child.releaseOutput();
    });
  }

  /** A start is over: it may show that the next children must wait for the old one's exit. */
  #learnFromStart(served: boolean): void {
    const why = this.#overlap.startEnded(served);
    if (why === undefined) return;
    const off = `the last one failed while the old child ran (${why})`;
    this.#headStarts.turnOff(off);
    this.#step(`no head starts from now on: ${off}; each next child waits for the old one's exit`);
  }

  /**
   * A head start becomes the restart's child: its outcome is reported, and
   * its output shown once it serves or fails for good. A failure the old
   * child may have caused is tried again by a fresh child (see
   * `lifecycle.ts`), which shows its own output: this one's is dropped.
   */
  #adopt(child: ChildProcess): void {
    this.#generation = child.generation;
    this.#step(`child ${child.generation}'s head start taken`);
    void this.#awaitOutcome(child);
  }

  /** Sends a child "start" once it has said hello (and the first start knows about node:http). */
  #tell(child: ChildProcess, when = ""): void {
    Promise.all([child.link(), this.#nodeDecided]).then(([conn]) => {
      if (child.generation === 1) {
        // The whole tree is watched once the first start is over; a save
        // meanwhile must not depend on the file's mtime (see `early_watch.ts`).
        if (!this.#setup.options.poll) this.#policy.watchEarly();
        this.#firstToldAt = Date.now();
        // A program that starts no server (yet) is watched all the same.
        Deno.unrefTimer(setTimeout(() => this.#settleFirst(), FIRST_START_WAIT_MS));
      }
      // Decided once: while the graph is unknown, it scans the program's modules.
      const node = this.#capturesNode;
      // What it reads of them is at least this new.
      child.loadedFiles = LoadedFiles.read(this.#recentFiles);
      this.#step(
        `child ${child.generation} told to start${when ? ` ${when}` : ""} (node:http ${
          node ? "captured" : "not used"
        })`,
      );
      return sendMessage(conn, this.#startMessage(node));
    }).catch((error) => {
      // The write failed because the child went before it could start: its
      // exit settles the outcome. Anything else is a bug.
      if (!isLostConnection(error)) throw error;
    });
  }

  /** Reports how a starting child's start ends: `ready` or `startFailed`. */
  async #awaitOutcome(child: ChildProcess): Promise<void> {
    const notice = this.#noticeWhenNoServer(child);
    const outcome = await child.outcome;
    clearTimeout(notice);
    // A start that succeeds works the graph out once it is over (see `restarting()`).
    if (child.generation === 1 && outcome.kind !== "ready" && this.#policy.graph === undefined) {
      void this.#policy.refreshGraph();
    }
    const phase = this.phase;
    if (phase.kind === "starting" && phase.child === child && !phase.abandoned) {
      this.#step(`child ${child.generation}: ${outcome.kind}`);
    }
    if (outcome.kind === "ready") {
      if (child.holdsOutput) child.releaseOutput();
      this.#dispatch({ kind: "ready", child });
      return;
    }
    const failure = outcome.kind === "failed"
      ? outcome.report
      : failureFromExit(outcome.status, child.outputTail, this.#setup.source.display, false);
    const retryable = mayBeOldChildsFault(failure);
    // Output kept back beside the old child is shown, unless a fresh child tries again after it.
    if (child.holdsOutput && retryable) child.dropOutput();
    else if (child.holdsOutput) child.releaseOutput();
    this.#dispatch({
      kind: "startFailed",
      child,
      failure: { ...failure, output: child.outputTail },
      alive: !child.exited,
      retryable,
    });
  }

  /**
   * Says once that a program still evaluating has started no server after
   * {@linkcode NO_SERVER_NOTICE_MS} (a top-level await on a database, say):
   * here, not in the child, whose timer would start Deno's Node layer on
   * every start (see `serve/warm_up.ts`). A program that has loaded without
   * a server is the child's to report, as a failure that may still end.
   */
  #noticeWhenNoServer(child: ChildProcess): ReturnType<typeof setTimeout> | undefined {
    const { source } = this.#setup;
    if (!runsProgram(source)) return undefined;
    const timer = setTimeout(() => {
      const phase = this.phase;
      if (phase.kind !== "starting" || phase.child !== child || phase.abandoned) return;
      if (child.loaded || child.exited) return;
      this.#log.warn(noServerNotice(source.display));
    }, NO_SERVER_NOTICE_MS);
    Deno.unrefTimer(timer);
    return timer;
  }

  #serve(child: ChildProcess): void {
    this.#ports.changed();
    // From "start" to its first server: a head start may have been ready long before it was taken.
    const ms = Math.round((child.readyAt ?? performance.now()) - child.startedAt);
    const marker = child.generation === 1 ? ` (${RUN_MAIN_ENV}=true)` : "";
    this.#log.info(
      `Child pid ${child.pid}${marker} serving ${this.#setup.source.display} · ready in ${ms} ms`,
    );
    child.status.then((status) =>
      this.#dispatch({
        kind: "exited",
        child,
        code: status.code,
        failure: {
          ...(child.failure ??
            failureFromExit(status, child.outputTail, this.#setup.source.display, true)),
          output: child.outputTail,
        },
      })
    );
    if (this.#setup.options.liveReload) this.#hub.reload(child.generation);
    this.#firstPage();
    this.#settleFirst();
    this.#learnFromStart(true);
    this.#children.prepareStandby();
  }

  /**
   * Calls {@linkcode onFirstReady} when the first page can be shown, and
   * once more if the app then serves elsewhere: the error page of a first
   * start that failed is on a provisional port (8000), which the program's
   * own port replaces once it serves.
   */
  #firstPage(): void {
    const url = this.#ports.firstUrl;
    if (url === undefined || url === this.#firstPageUrl) return;
    if (this.#firstPageUrl !== undefined && this.#firstPageMoved) return;
    this.#firstPageMoved = this.#firstPageUrl !== undefined;
    this.#firstPageUrl = url;
    this.onFirstReady(url);
  }

  #fail(failure: AppFailure, child: ChildProcess | undefined): void {
    // A taken port before any of the program's ports is served: as with --port, no session.
    if (failure.addressInUse && this.#ports.ports.every((port) => port === null)) {
      this.#failSession(new DevsrvError(failure.message, failure.fix));
      return;
    }
    const spared = child?.spared;
    if (child && spared) {
      // It may have read a save half-written: the restart it was spared runs now.
      child.spared = undefined;
      this.restart(spared);
    }
    this.#ports.showFailurePage();
    this.#ports.changed();
    this.#firstPage(); // --open shows the page that says why
    this.#settleFirst();
    this.#learnFromStart(false);
    const who = child ? `Child pid ${child.pid}` : "Reloader";
    this.#log.error(
      `${who} ${failure.kind === "exit" ? "ended" : "failed"}: ${failure.message}${
        failure.fix ? `; ${failure.fix}` : ""
      }`,
    );
    this.#log.info("Waiting for a change to restart (or type rs and Enter)");
    // The fix gets a booted child, and a head start.
    if (child !== undefined) this.#children.prepareStandby();
    // Open pages reload into the 503 page, whose script names this same
    // generation, so it waits there for the fix instead of reloading again.
    if (this.#setup.options.liveReload) this.#hub.reload(this.#generation);
  }

  #restartEnded(request: RestartRequest, ok: boolean): void {
    const timer = this.#restartTimer;
    this.#restartTimer = undefined;
    const ms = timer ? Math.round(performance.now() - timer.startedAt) : 0;
    this.#lastRestart = {
      at: new Date().toISOString(),
      reason: request.reason,
      files: request.files,
      ms,
      ok,
    };
    timer?.ended(ms, ok); // the module graph is worked out again once restarts settle
  }

  /** Says what a stopping child waits for, when it waits for anything. */
  #reportStopping(child: ChildProcess, report: StoppingReport): void {
    const waits = [
      ...(report.requests > 0
        ? [`${report.requests} request${report.requests === 1 ? "" : "s"}`]
        : []),
      ...(report.handler ? [`the app's ${report.handler} handler`] : []),
    ];
    if (waits.length === 0) return;
    const streams = report.streams ? ` · ended ${plural(report.streams, "stream")}` : "";
    this.#log.info(
      `Child pid ${child.pid} is stopping${streams} · waiting for ${waits.join(" and ")} (up to ${
        this.#setup.options.graceMs / 1000
      } s)`,
    );
  }

  /** Says once per path that a Unix-socket server is not fronted. */
  #noteUnixSocket(path: string): void {
    if (this.#unixSockets.has(path)) return;
    this.#unixSockets.add(path);
    this.#log.info(
      `${this.#setup.source.display} serves on the Unix socket ${path}; devsrv does not front Unix-socket servers: requests to it do not go through the reloader's port (no Host check, no live reload), and a change still restarts the program`,
    );
  }

  /** Reads one child's reports on the channel until it is gone. */
  async #listen(
    generation: number,
    messages: AsyncGenerator<unknown>,
    conn: Deno.Conn,
  ): Promise<void> {
    const child = this.#children.byGeneration(generation);
    if (!child) {
      this.#channel.release(conn);
      return;
    }
    child.attach(conn);
    this.#step(`child ${generation} connected`);
    for await (const message of messages) {
      const report = readChildReport(message);
      switch (report?.type) {
        case "listening": {
          if (!this.#ports.publish(report)) continue;
          child.listening(report);
          const phase = this.phase;
          if (phase.kind === "ready" && phase.child === child) this.#ports.changed(report.index);
          // A server that starts after the program was reported as serving nothing.
          if (phase.kind === "failed" && phase.child === child) {
            this.#dispatch({ kind: "ready", child });
          }
          break;
        }
        case "unixSocket": {
          this.#noteUnixSocket(report.path);
          child.running();
          const phase = this.phase;
          if (phase.kind === "failed" && phase.child === child) {
            this.#dispatch({ kind: "ready", child });
          }
          break;
        }
        case "wrote":
          this.#policy.appWrote(report.paths, report.at);
          break;
        case "loaded":
          child.loadedAt = performance.now();
          this.#ports.changed();
          break;
        case "stopping":
          child.stopping(report);
          this.#reportStopping(child, report);
          break;
        case "closed":
          child.servers.delete(report.index);
          this.#ports.changed(report.index);
          break;
        case "failed":
          child.failed(report);
          break;
        case "hooks":
          child.hooks(report.hook);
          break;
      }
    }
    this.#channel.release(conn);
  }

  /**
   * Whether the child captures `node:http` servers: loading Node's HTTP layer
   * costs a child tens of milliseconds, so only for a program whose module
   * graph may use it (npm packages, `node:` built-ins, CommonJS), or whose
   * graph is not known.
   */
  get #capturesNode(): boolean {
    if (!runsProgram(this.#setup.source)) return false;
    const graph = this.#policy.graph;
    if (graph === undefined) return this.#scanForNode() !== "none";
    return graph.npmPackages.length > 0 || graph.nodeBuiltins.length > 0 ||
      /\.c[jt]s$/.test(graph.entry);
  }

  /**
   * Scans the program's own modules as they are now, while the module graph
   * is not known (until `deno info` has run after the first start, or when
   * it fails): a fraction of a millisecond for a small app.
   */
  #scanForNode(): NodeUse {
    const { source } = this.#setup;
    if (!runsProgram(source)) return "none";
    return scanForNode(resolve(INITIAL_CWD, source.path!), readSourceOrUndefined);
  }

  /**
   * Decides whether the first start captures `node:http`: from a scan of
   * the program's own modules when it can tell (no `deno info` then shares
   * the CPU with the child's start: the graph is worked out once the start
   * is over); else from the module graph, worked out while the first child
   * boots, waiting at most {@linkcode NODE_DECISION_WAIT_MS}.
   */
  #learnModuleGraph(): void {
    if (!runsProgram(this.#setup.source) || this.#scanForNode() !== "unknown") return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.#nodeDecided = Promise.race([
      this.#policy.refreshGraph("normal"),
      new Promise<void>((resolve) => timer = setTimeout(resolve, NODE_DECISION_WAIT_MS)),
    ]).finally(() => clearTimeout(timer));
  }

  /** What the next child is told when it starts: where its servers are served; `node`: capture `node:http`. */
  #startMessage(node: boolean): StartMessage {
    const { options, tls } = this.#setup;
    return {
      type: "start",
      ports: this.#ports.ports,
      host: options.host ?? null,
      port: options.port ?? null,
      node,
      tls: tls !== undefined,
      socketDir: this.#sockets.dir(),
    };
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** What is served, for the change decision. */
function appEntry(source: AppSource, cwd: string): AppEntry {
  if (source.kind === "static") return { kind: "static", root: resolve(cwd, source.root ?? ".") };
  if (source.kind === "module") return { kind: "module", path: resolve(cwd, source.display) };
  return { kind: "library", path: mainModulePath() ?? resolve(cwd, source.display) };
}

function mainModulePath(): string | undefined {
  return Deno.mainModule.startsWith("file:") ? fileURLToPath(Deno.mainModule) : undefined;
}

function listenForRestartCommand(supervisor: Supervisor, log: Logger): void {
  readTerminalLines((typed) => {
    if (typed !== "rs") return;
    log.info("Restart requested (rs) · restarting");
    supervisor.restart({ reason: "rs", files: [] });
  });
}

/**
 * Runs a reloader session until SIGINT or SIGTERM, once `reloader.ts` has
 * spawned the first child.
 *
 * @param setup The session: what is served, how, and the children so far.
 * @returns The exit code.
 * @throws {DevsrvError} When the address cannot be bound.
 */
export async function superviseSession(
  setup: SupervisorOptions & { children: ChildrenSetup },
): Promise<number> {
  const { options, log } = setup;
  const phase = phaseTimer(log, options.verbose);
  phase("reloader's modules loaded");
  const supervisor = new Supervisor(setup);
  try {
    if (supervisor.bindsFirst) supervisor.bindFirst();
  } catch (error) {
    await supervisor.shutdown();
    throw error;
  }
  phase("public port bound");
  const { signal } = onShutdownSignal();
  if (options.open) {
    supervisor.onFirstReady = (url) => openBrowser(url, (message) => log.warn(message));
  }
  supervisor.restart({ reason: "start", files: [] });
  // The tree is listed, fingerprinted and watched once the first start is
  // over: the scan (hashing every file) would hold the child's "start" and
  // the first requests. A file saved since the child began loading the
  // program is taken as a change: one the early watch saw (the program's
  // folders, see `early_watch.ts`), or one with a newer mtime (`changedSince`).
  await Promise.race([supervisor.firstSettled, signal, supervisor.fatal]);
  // ...and the first requests it held have been answered.
  await new Promise((resolve) => setTimeout(resolve, SCAN_DELAY_MS));
  let watching: Watching;
  try {
    watching = await supervisor.watch();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await supervisor.shutdown();
    throw new UsageError(
      `a path to watch does not exist: ${firstLine(error)}`,
      'give --watch (or DEVSRV_WATCH, or "watch" in deno.json) an existing file or directory',
    );
  }
  phase("watching");
  const roots = watching.roots.map((root) => relative(Deno.cwd(), root) || ".")
    .join(", ");
  log.info(
    `devsrv ${VERSION} · reloader pid ${Deno.pid} · watching ${roots} (${watching.kind}, ${
      plural(watching.fileCount, "file")
    })`,
  );
  supervisor.announceFirst();
  listenForRestartCommand(supervisor, log);
  const ended = await Promise.race([signal, supervisor.fatal]);
  if (ended instanceof DevsrvError) {
    await supervisor.shutdown();
    throw ended;
  }
  log.info(`${ended} received · stopping the child and exiting`);
  await supervisor.shutdown();
  return 0;
}

/**
 * How late a change may be seen after it happened, in ms, for the question
 * whether a child read a file before or after it: a kernel event's trip,
 * and a watcher busy with another.
 */
const SEEN_LATE_MS = 50;

/**
 * Whether a child read its program's modules outside a batch's changes:
 * told to start after all of them were seen (so after they happened), or
 * done loading well before the first was seen. Else it may have read a
 * state in between.
 *
 * @param child The child.
 * @param seen When the batch's first and last changes were seen.
 * @returns `true` when it surely read the state before or after the batch.
 */
function readOutsideBatch(child: ChildProcess, seen: BatchSeen): boolean {
  if (seen.last < child.startedAt) return true;
  return child.loadedAt !== undefined && child.loadedAt + SEEN_LATE_MS < seen.first;
}
