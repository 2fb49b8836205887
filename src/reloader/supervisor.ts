/**
 * The reloader (parent): owns the public address through the front,
 * watches files, and keeps exactly one child serving. A change stops the
 * old child (held requests wait) and starts a new one; a child that fails
 * leaves the parent answering with the error until a change fixes it.
 *
 * The child's life is one explicit state ({@linkcode Phase}); restarts run
 * one at a time from a queue that merges the reasons that pile up.
 *
 * @module
 */

import { relative } from "node:path";
import { type FailureReport, sendMessage } from "../channel.ts";
import type { ServeOptions } from "../cli/options.ts";
import { createLogger, type Logger } from "../log.ts";
import { RESTART_EXIT_CODE, RUN_MAIN_ENV } from "../role.ts";
import { formatAccessLine } from "../server/access_log.ts";
import { bindError } from "../server/address.ts";
import type { AppSource } from "../server/app_source.ts";
import { printRunning } from "../server/banner.ts";
import { DEVSRV_PATH, type DevsrvStatus, type RestartRecord } from "../server/status_page.ts";
import type { TlsFiles } from "../server/tls_files.ts";
import { onShutdownSignal } from "../signals.ts";
import { VERSION } from "../version.ts";
import { ChildProcess } from "./child_process.ts";
import { ControlChannel } from "./control_channel.ts";
import { type AppFailure, startControlServer } from "./control_server.ts";
import { type Front, type Route, startFront } from "./front.ts";
import { type MemoryRelease, startMemoryRelease } from "./memory_release.ts";
import { childCommand, currentReexecInput } from "./reexec.ts";
import { childEnvironment, envFilePaths, snapshotEnvFiles } from "./env_files.ts";
import type { ChangeBatch, Watching } from "./watch.ts";
import { WatchPolicy } from "./watch_policy.ts";
import { LiveReloadHub } from "./live_reload_hub.ts";
import { clientResponse } from "../server/live_reload_client.ts";
import { CLIENT_PATH, clientScriptUrl, EVENTS_PATH } from "../server/live_reload.ts";
import { guardDevsrvEndpoint, guardRequest } from "../server/request_guard.ts";
import { detailsPolicy } from "../server/guard_filters.ts";
import { openBrowser } from "../open_browser.ts";

/** Where the child is in its life. */
export type Phase =
  | { kind: "idle" }
  | { kind: "starting"; child: ChildProcess }
  | { kind: "ready"; child: ChildProcess; port: number }
  | { kind: "stopping"; child: ChildProcess }
  | { kind: "failed"; failure: AppFailure }
  | { kind: "shutdown" };

/** How a starting child ended up. */
type Outcome =
  | { kind: "ready"; port: number }
  | { kind: "failed"; report: FailureReport }
  | { kind: "exited"; status: Deno.CommandStatus };

/** Why a restart happens. */
interface RestartRequest {
  reason: string;
  files: string[];
}

/**
 * Files Deno reads when a process starts: a standby booted before a change
 * to one of them would run with the old configuration or environment.
 */
const STARTUP_FILE_NAMES =
  /^(deno\.jsonc?|package\.json|import_map\.json|deno\.lock|\.env(\..*)?)$/;

/** Deno's flags that name a file it reads at process start. */
const STARTUP_FILE_FLAGS = ["--env-file", "--env", "--config", "-c", "--import-map", "--lock"];

/** How long a request is held while no child is ready. */
const HOLD_TIMEOUT_MS = 30_000;

function describeExit(status: Deno.CommandStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
}

function isDevsrvTarget(target: string): boolean {
  const path = target.startsWith("/") ? target : target.replace(/^[a-z]+:\/\/[^/]*/i, "");
  return path === DEVSRV_PATH || path.startsWith(`${DEVSRV_PATH}/`) ||
    path.startsWith(`${DEVSRV_PATH}?`);
}

/** The supervisor of one reloader session. */
export class Supervisor {
  #phase: Phase = { kind: "idle" };
  /** Generation of the current child (the one started last). */
  #generation = 0;
  /** Generation numbers handed out, standby children included. */
  #spawned = 0;
  #standby: ChildProcess | undefined;
  #links = new Map<number, Deno.Conn>();
  #linkWaiters = new Map<number, (conn: Deno.Conn) => void>();
  #pending: RestartRequest | undefined;
  #draining: Promise<void> | undefined;
  #outcomes = new Map<number, (outcome: Outcome) => void>();
  #lastRestart: RestartRecord | null = null;
  #log: Logger;
  #options: ServeOptions;
  #source: AppSource;
  #channel: ControlChannel;
  #control: Deno.HttpServer<Deno.NetAddr>;
  #front: Front | undefined;
  #memoryRelease: MemoryRelease | undefined;
  #watching: Watching | undefined;
  #command = childCommand(currentReexecInput());
  /** What `--env-file` gave this process at its start, kept out of the children's environment. */
  #fromEnvFiles = snapshotEnvFiles(envFilePaths(this.#command.args, Deno.cwd()));
  #hub: LiveReloadHub;
  /** What to watch and what a change does (the module graph, the app's own writes). */
  #policy: WatchPolicy;
  /** Called once, when the first child is ready (`--open`). */
  onFirstReady: () => void = () => {};

  /**
   * @param source What the child serves.
   * @param options The serve options.
   * @param log The reloader's logger.
   */
  constructor(source: AppSource, options: ServeOptions, log: Logger) {
    this.#source = source;
    this.#options = options;
    this.#log = log;
    this.#policy = new WatchPolicy({ source, options, denoArgs: this.#command.args });
    this.#channel = new ControlChannel((generation, messages, conn) =>
      this.#listen(generation, messages, conn)
    );
    this.#hub = new LiveReloadHub(
      () => this.#generation,
      source.root ? { staticRoot: source.root } : {},
    );
    const guard = { allowedHosts: options.allowedHosts };
    this.#control = startControlServer({
      status: () => this.status(),
      failure: () => this.#phase.kind === "failed" ? this.#phase.failure : undefined,
      guard: (request, isDevsrvEndpoint) =>
        isDevsrvEndpoint ? guardDevsrvEndpoint(request, guard) : guardRequest(request, guard),
      routes: (request, path) => this.#liveReloadRoute(request, path),
      showDetails: detailsPolicy(options, false),
      pageScript: () => options.liveReload ? clientScriptUrl(this.#generation) : undefined,
    }, log);
  }

  #liveReloadRoute(request: Request, path: string): Response | undefined {
    if (!this.#options.liveReload) return undefined;
    if (path === EVENTS_PATH) return this.#hub.handle(request);
    if (path === CLIENT_PATH) return clientResponse();
    return undefined;
  }

  /** The current phase (for tests and the status page). */
  get phase(): Phase {
    return this.#phase;
  }

  /**
   * Binds the public address. Done before any child starts, so that a taken
   * port is reported at once.
   *
   * @param tls HTTPS files, when serving HTTPS.
   * @returns The bound address.
   * @throws {DevsrvError} When the address cannot be bound.
   */
  bind(tls: TlsFiles | undefined): Deno.NetAddr {
    const { host, port, quiet } = this.#options;
    try {
      this.#front = startFront({
        hostname: host,
        port,
        ...(tls ? { tls } : {}),
        route: (target) => this.route(target),
        holdTimeoutMs: HOLD_TIMEOUT_MS,
        ...(quiet ? {} : { onAccess: (entry) => this.#log.access(formatAccessLine(entry)) }),
        onRequestStart: (target) =>
          isDevsrvTarget(target) || this.#phase.kind === "failed"
            ? undefined // not the app's work: devsrv's own pages
            : this.#policy.requestStarted(target),
      });
    } catch (error) {
      throw bindError(error, host, port);
    }
    const front = this.#front;
    this.#memoryRelease = startMemoryRelease(() => front.exchanges);
    return front.addr;
  }

  /**
   * Decides where one request goes.
   *
   * @param target The request-target.
   * @returns Forward to the child or the control server, or hold.
   */
  route(target: string): Route {
    const control = {
      kind: "forward",
      backend: { hostname: "127.0.0.1", port: this.#control.addr.port },
    } as const;
    if (isDevsrvTarget(target)) return control;
    switch (this.#phase.kind) {
      case "ready":
        return {
          kind: "forward",
          backend: { hostname: "127.0.0.1", port: this.#phase.port },
        };
      case "failed":
        return control;
      default:
        return { kind: "hold" };
    }
  }

  /**
   * Starts watching the roots.
   *
   * @returns The watching handle.
   */
  async watch(): Promise<Watching> {
    const options = this.#options;
    this.#watching = await this.#policy.startWatching({
      ignore: options.ignore,
      gitignore: options.gitignore,
      debounceMs: options.debounceMs,
      poll: options.poll,
      intervalMs: options.intervalMs,
      onWarning: (message) => this.#log.warn(message),
    }, (batch) => this.#onChange(batch));
    return this.#watching;
  }

  #onChange(batch: ChangeBatch): void {
    const failed = this.#phase.kind === "failed";
    const { decision, line, files, reloadFiles } = this.#policy.decide(batch, failed);
    if (line !== undefined) this.#log.info(line);
    if (decision.action === "restart" || (decision.action === "reload" && failed)) {
      this.restart({ reason: "change", files });
    } else if (decision.action === "reload" && this.#options.liveReload) {
      this.#hub.changed(reloadFiles);
    }
  }

  /**
   * Asks for a restart; merges with one already waiting.
   *
   * @param request Why.
   * @returns Resolves when the queue of restarts is done.
   */
  restart(request: RestartRequest): Promise<void> {
    if (this.#phase.kind === "shutdown") return Promise.resolve();
    if (this.#pending) {
      this.#pending.files = [
        ...new Set([...this.#pending.files, ...request.files]),
      ];
    } else {
      this.#pending = { reason: request.reason, files: [...request.files] };
    }
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#pending && this.#phase.kind !== "shutdown") {
      const request = this.#pending;
      this.#pending = undefined;
      await this.#restartNow(request);
    }
    this.#draining = undefined;
  }

  async #stopCurrentChild(): Promise<void> {
    const phase = this.#phase;
    if (phase.kind !== "starting" && phase.kind !== "ready") return;
    this.#phase = { kind: "stopping", child: phase.child };
    const { killed } = await phase.child.stop(this.#options.graceMs);
    if (killed) {
      this.#log.warn(
        `Child pid ${phase.child.pid} did not stop within ${this.#options.graceMs} ms (--grace) · killed it`,
      );
    }
  }

  async #restartNow(request: RestartRequest): Promise<void> {
    const started = performance.now();
    const restarted = this.#policy.restarting();
    await this.#stopCurrentChild();
    if (this.#phase.kind === "shutdown") return;
    const outcome = await this.#startChild(request.files);
    const ms = Math.round(performance.now() - started);
    this.#lastRestart = {
      at: new Date().toISOString(),
      reason: request.reason,
      files: request.files,
      ms,
      ok: outcome,
    };
    restarted(ms, outcome); // the module graph is worked out again once restarts settle
  }

  #spawn(): ChildProcess {
    const env = childEnvironment(Deno.env.toObject(), this.#fromEnvFiles);
    return new ChildProcess(this.#command, this.#channel, ++this.#spawned, env);
  }

  /** The booted standby, if it is still alive; else a fresh child. */
  /**
   * The booted standby, unless it is gone or a file Deno read when it booted
   * has changed since; else a fresh child.
   */
  #nextChild(changedFiles: string[]): ChildProcess {
    const standby = this.#standby;
    this.#standby = undefined;
    if (standby && !standby.exited && !changedFiles.some((file) => this.#isStartupFile(file))) {
      return standby;
    }
    standby?.signal("SIGTERM");
    return this.#spawn();
  }

  /** Whether Deno reads the file at process start (config, import map, env file, lock). */
  #isStartupFile(file: string): boolean {
    const name = file.slice(file.lastIndexOf("/") + 1);
    const args = this.#command.args;
    return STARTUP_FILE_NAMES.test(name) ||
      args.some((arg, i) =>
        STARTUP_FILE_FLAGS.some((flag) =>
          arg === `${flag}=${file}` || (arg === flag && args[i + 1] === file)
        )
      );
  }

  /**
   * Boots the next child ahead of time, so a restart skips Deno's start-up.
   * Only for an app module, which the child imports when told to start: a
   * library user's script is the program itself, and would run (with the
   * code of the moment) as the standby boots.
   */
  #prepareStandby(): void {
    if (this.#standby || this.#source.kind !== "module" || this.#phase.kind === "shutdown") return;
    try {
      this.#standby = this.#spawn();
    } catch {
      // no standby: the next restart spawns a child itself and reports any failure
    }
  }

  async #startChild(changedFiles: string[] = []): Promise<boolean> {
    let child: ChildProcess;
    try {
      child = this.#nextChild(changedFiles);
    } catch (error) {
      this.#fail({
        message: `cannot start the child: ${String(error)}`,
        detail: "",
        output: "",
      });
      return false;
    }
    const generation = child.generation;
    this.#generation = generation;
    this.#phase = { kind: "starting", child };
    child.startedAt = performance.now();
    const outcome = await new Promise<Outcome>((resolve) => {
      this.#outcomes.set(generation, resolve);
      child.status.then((status) => resolve({ kind: "exited", status }));
      this.#connection(generation).then((conn) => sendMessage(conn, { type: "start" })).catch(
        () => {},
      );
    });
    this.#outcomes.delete(generation);
    if (this.#phase.kind !== "starting" || this.#phase.child !== child) {
      return false;
    }
    return this.#settle(child, outcome);
  }

  #settle(child: ChildProcess, outcome: Outcome): boolean {
    const source = this.#source.display;
    switch (outcome.kind) {
      case "ready": {
        this.#phase = { kind: "ready", child, port: outcome.port };
        this.#front?.changed();
        const ms = Math.round(performance.now() - child.startedAt);
        const marker = child.generation === 1 ? ` (${RUN_MAIN_ENV}=true)` : "";
        this.#log.info(
          `Child pid ${child.pid}${marker} serving ${source} · ready in ${ms} ms`,
        );
        child.status.then((status) => this.#onChildExit(child, status));
        if (this.#options.liveReload) this.#hub.reload(child.generation);
        if (child.generation === 1) this.onFirstReady();
        this.#prepareStandby();
        return true;
      }
      case "failed":
        this.#fail({ ...outcome.report, output: child.outputTail }, child);
        return false;
      case "exited":
        this.#fail({
          message: `the child ${describeExit(outcome.status)} before it was ready`,
          fix: "see its output above; devsrv restarts it on the next change",
          detail: "",
          output: child.outputTail,
        }, child);
        return false;
    }
  }

  #fail(failure: AppFailure, child?: ChildProcess): void {
    this.#phase = { kind: "failed", failure };
    this.#front?.changed();
    const who = child ? `Child pid ${child.pid}` : "Reloader";
    this.#log.error(
      `${who} failed: ${failure.message}${failure.fix ? `; ${failure.fix}` : ""}`,
    );
    this.#log.info("Waiting for a change to restart (or type rs and Enter)");
    // Open pages reload into the 503 page, whose script names this same
    // generation, so it waits there for the fix instead of reloading again.
    if (this.#options.liveReload) this.#hub.reload(this.#generation);
  }

  #onChildExit(child: ChildProcess, status: Deno.CommandStatus): void {
    if (this.#phase.kind !== "ready" || this.#phase.child !== child) return;
    if (status.code === RESTART_EXIT_CODE) {
      this.#log.info(
        `Child pid ${child.pid} asked for a restart (exit code ${RESTART_EXIT_CODE}) · restarting`,
      );
      this.restart({ reason: `exit code ${RESTART_EXIT_CODE}`, files: [] });
      return;
    }
    this.#fail({
      message: `the child ${describeExit(status)}`,
      fix: "see its output above; devsrv restarts it on the next change",
      detail: "",
      output: child.outputTail,
    }, child);
  }

  /** Resolves with a child's channel connection once it has said hello. */
  #connection(generation: number): Promise<Deno.Conn> {
    const known = this.#links.get(generation);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.#linkWaiters.set(generation, resolve));
  }

  async #listen(
    generation: number,
    messages: AsyncGenerator<unknown>,
    conn: Deno.Conn,
  ): Promise<void> {
    this.#links.set(generation, conn);
    this.#linkWaiters.get(generation)?.(conn);
    this.#linkWaiters.delete(generation);
    for await (const message of messages) {
      const resolve = this.#outcomes.get(generation);
      const typed = message as { type?: string; port?: number };
      if (typed.type === "ready" && typeof typed.port === "number") {
        resolve?.({ kind: "ready", port: typed.port });
      } else if (typed.type === "failed") {
        resolve?.({ kind: "failed", report: message as FailureReport });
      }
    }
    this.#links.delete(generation);
    this.#channel.release(conn);
  }

  /** The state `/__devsrv` shows. */
  status(): DevsrvStatus {
    const phase = this.#phase;
    const child = "child" in phase ? phase.child : undefined;
    return {
      version: VERSION,
      mode: "reloader",
      parentPid: Deno.pid,
      childPid: child && !child.exited ? child.pid : null,
      standbyPid:
        this.#standby && !this.#standby.exited && this.#links.has(this.#standby.generation)
          ? this.#standby.pid
          : null,
      generation: this.#generation,
      state: phase.kind,
      entry: this.#source.display,
      reloader: this.#watching?.kind ?? "none",
      watchRoots: this.#watching?.roots.map((root) => relative(Deno.cwd(), root) || ".") ?? [],
      watchedFiles: this.#watching?.fileCount ?? 0,
      lastRestart: this.#lastRestart,
      error: phase.kind === "failed" ? phase.failure.message : null,
      ...this.#policy.status(),
    };
  }

  /** Stops everything: watcher, child (gracefully), front, servers. */
  async shutdown(): Promise<void> {
    this.#watching?.close();
    const policyClosed = this.#policy.close();
    this.#memoryRelease?.stop();
    this.#hub.close();
    const phase = this.#phase;
    this.#phase = { kind: "shutdown" };
    const standby = this.#standby;
    this.#standby = undefined;
    await Promise.all([
      "child" in phase ? phase.child.stop(this.#options.graceMs) : undefined,
      standby?.stop(this.#options.graceMs),
    ]);
    await this.#front?.close();
    await this.#control.shutdown();
    await this.#channel.close();
    await policyClosed;
  }
}

function listenForRestartCommand(supervisor: Supervisor, log: Logger): void {
  if (!Deno.stdin.isTerminal()) return;
  (async () => {
    const decoder = new TextDecoder();
    let line = "";
    for await (const chunk of Deno.stdin.readable) {
      line += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = line.indexOf("\n")) >= 0) {
        const typed = line.slice(0, newline).trim();
        line = line.slice(newline + 1);
        if (typed === "rs") {
          log.info("Restart requested (rs) · restarting");
          supervisor.restart({ reason: "rs", files: [] });
        }
      }
    }
  })().catch(() => {});
}

/**
 * Runs the reloader until SIGINT or SIGTERM.
 *
 * @param source What the child serves.
 * @param options The serve options.
 * @param tls HTTPS files, when serving HTTPS.
 * @returns The exit code.
 * @throws {DevsrvError} When the address cannot be bound.
 */
export async function runReloader(
  source: AppSource,
  options: ServeOptions,
  tls: TlsFiles | undefined,
): Promise<number> {
  const log = createLogger({ role: "reloader", quiet: options.quiet });
  const supervisor = new Supervisor(source, options, log);
  let addr: Deno.NetAddr;
  try {
    addr = supervisor.bind(tls);
  } catch (error) {
    await supervisor.shutdown();
    throw error;
  }
  const { signal } = onShutdownSignal();
  const watching = await supervisor.watch();
  const roots = watching.roots.map((root) => relative(Deno.cwd(), root) || ".")
    .join(", ");
  log.info(
    `devsrv ${VERSION} · reloader pid ${Deno.pid} · watching ${roots} (${watching.kind}, ${watching.fileCount} files)`,
  );
  const [url] = printRunning(log, options.host, addr.port, tls !== undefined);
  if (options.open && url) {
    supervisor.onFirstReady = () => openBrowser(url, (message) => log.warn(message));
  }
  supervisor.restart({ reason: "start", files: [] });
  listenForRestartCommand(supervisor, log);
  const received = await signal;
  log.info(`${received} received · stopping the child and exiting`);
  await supervisor.shutdown();
  return 0;
}
