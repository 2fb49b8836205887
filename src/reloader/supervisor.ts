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
import {
  type FailureReport,
  type ListeningReport,
  sendMessage,
  type StartMessage,
  type StoppingReport,
} from "../channel.ts";
import { DEFAULT_PORT, hostOrDefault, type ServeOptions } from "../cli/options.ts";
import { DevsrvError, formatError, UsageError } from "../errors.ts";
import { createLogger, type Logger, phaseTimer, relayedColorEnv } from "../log.ts";
import {
  AUTO_SERVE_ENV,
  INITIAL_CWD,
  NODE_CAPTURE_ENV,
  RESTART_EXIT_CODE,
  RUN_MAIN_ENV,
} from "../role.ts";
import { preloadSpecifier } from "../serve/launch_program.ts";
import { narrowedHost, publicHost } from "../serve/public_address.ts";
import { programSettings, programSettingsEnv } from "../serve/program_settings.ts";
import { formatAccessLine } from "../server/access_log.ts";
import { bindError } from "../server/address.ts";
import type { AppSource } from "../server/app_source.ts";
import { printRunning } from "../server/banner.ts";
import { DEVSRV_PATH, type DevsrvStatus, type RestartRecord } from "../server/status_page.ts";
import type { TlsFiles } from "../server/tls_files.ts";
import { onShutdownSignal } from "../signals.ts";
import { VERSION } from "../version.ts";
import { failureFromExit } from "./child_failure.ts";
import { readTerminalLines } from "./stdin_commands.ts";
import { ChildProcess, type StartOutcome } from "./child_process.ts";
import { ControlChannel } from "./control_channel.ts";
import { type AppFailure, startControlServer } from "./control_server.ts";
import { type Front, type Route, startFront } from "./front.ts";
import { frontPolicy } from "./front_policy.ts";
import { type MemoryRelease, startMemoryRelease } from "./memory_release.ts";
import { type ChildCommand, childCommand, currentReexecInput, programCommand } from "./reexec.ts";
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
  | { kind: "ready"; child: ChildProcess }
  | { kind: "stopping"; child: ChildProcess }
  /** The app cannot be served; its child may still run (a program that may start a server late). */
  | { kind: "failed"; failure: AppFailure; child?: ChildProcess }
  | { kind: "shutdown" };

/** Why a restart happens. */
interface RestartRequest {
  reason: string;
  files: string[];
  /**
   * A file Deno reads at process start changed (deno.json, an import map,
   * the lock, an env file): the booted standby has the old one, so a fresh
   * child starts instead.
   */
  fresh?: boolean;
}

/** How long the first start waits for the module graph before it captures `node:http` anyway, in ms. */
const NODE_DECISION_WAIT_MS = 500;

/** How long a request is held while no child is ready. */
const HOLD_TIMEOUT_MS = 30_000;

/**
 * Whether the child runs the user's program as Deno's main module, with
 * devsrv's code preloaded: an app module under `deno run`. A static
 * directory, a library user's handler and a compiled binary re-execute
 * devsrv itself.
 */
export function runsProgram(source: AppSource): boolean {
  return source.kind === "module" && source.path !== undefined && Deno.build.standalone !== true;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? "";
}

function isListeningReport(message: unknown): message is ListeningReport {
  const report = message as Partial<ListeningReport>;
  return Number.isInteger(report.index) && typeof report.port === "number" &&
    typeof report.public?.port === "number" && typeof report.requested === "object";
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
  /** Old children still finishing their requests while the next one serves. */
  #retiring = new Set<ChildProcess>();
  /** Every child alive, the standby included, by generation. */
  #children = new Map<number, ChildProcess>();
  #pending: RestartRequest | undefined;
  #draining: Promise<void> | undefined;
  #lastRestart: RestartRecord | null = null;
  #log: Logger;
  #options: ServeOptions;
  #source: AppSource;
  #channel: ControlChannel;
  #control: Deno.HttpServer<Deno.NetAddr>;
  /** The public ports, one front per server of the program, by server index. */
  #fronts: (Front | undefined)[] = [];
  /**
   * The first front was bound only to show why the program failed before
   * any server listened: the program's own port replaces it.
   */
  #provisional = false;
  /** `--cert` and `--key`, read. */
  #tls: TlsFiles | undefined;
  /** Requested ports already noted as not served, by server index. */
  #notedPorts = new Set<string>();
  #memoryRelease: MemoryRelease | undefined;
  #watching: Watching | undefined;
  #command: ChildCommand;
  /** Settles once the first start knows whether to capture `node:http` (or stops waiting). */
  #nodeDecided: Promise<void> = Promise.resolve();
  /** Settles with a problem that ends the session (the first public port cannot be bound). */
  readonly fatal: Promise<DevsrvError>;
  #fail_session: (error: DevsrvError) => void = () => {};
  /** Marks a phase in the log with `--verbose`. */
  #phase_: (phase: string) => void;
  /** The URL of the first public port, once bound. */
  #firstUrl: string | undefined;
  /** What `--env-file` gave this process at its start, kept out of the children's environment. */
  #fromEnvFiles: Map<string, string>;
  #hub: LiveReloadHub;
  /** What to watch and what a change does (the module graph, the app's own writes). */
  #policy: WatchPolicy;
  /** Called once, with the first URL, when the first child is ready (`--open`). */
  onFirstReady: (url: string) => void = () => {};

  /**
   * @param source What the child serves.
   * @param options The serve options.
   * @param log The reloader's logger.
   */
  constructor(source: AppSource, options: ServeOptions, log: Logger, tls?: TlsFiles) {
    this.#source = source;
    this.#options = options;
    this.#log = log;
    this.#tls = tls;
    this.#phase_ = phaseTimer(log, options.verbose);
    this.fatal = new Promise((resolve) => this.#fail_session = resolve);
    const input = currentReexecInput();
    this.#command = runsProgram(source)
      ? programCommand(input, {
        preload: preloadSpecifier(),
        entry: source.path!,
        args: options.args,
      })
      : childCommand(input);
    this.#fromEnvFiles = snapshotEnvFiles(envFilePaths(this.#command.args, INITIAL_CWD));
    this.#policy = new WatchPolicy({
      source,
      options,
      denoArgs: this.#command.args,
      cwd: INITIAL_CWD,
    });
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
   * Binds the first public port before any child starts, so that a taken
   * port is reported at once: for `--port`, a static directory and a
   * library user's handler. A program's own port is bound when its server
   * first listens.
   *
   * @returns The bound address.
   * @throws {DevsrvError} When the address cannot be bound.
   */
  bindFirst(): Deno.NetAddr {
    const host = hostOrDefault(this.#options);
    const port = this.#options.port ?? DEFAULT_PORT;
    return this.#openFront(0, host, port, this.#tls, false).addr;
  }

  /** Prints where the first public port is reached (after the banner). */
  announceFirst(): void {
    const front = this.#fronts[0];
    if (front) this.#announce(0, hostOrDefault(this.#options), front, this.#tls);
  }

  #announce(index: number, host: string, front: Front, tls: TlsFiles | undefined): void {
    const [url] = printRunning(this.#log, host, front.addr.port, tls !== undefined);
    if (index === 0 && url) this.#firstUrl = url;
  }

  /** Whether the first public port is bound before the first child starts. */
  get bindsFirst(): boolean {
    return this.#options.port !== undefined || !runsProgram(this.#source);
  }

  #openFront(
    index: number,
    host: string,
    port: number,
    tls: TlsFiles | undefined,
    announce = true,
  ): Front {
    const { quiet } = this.#options;
    let front: Front;
    try {
      front = startFront({
        hostname: host,
        port,
        ...(tls ? { tls } : {}),
        route: (target) => this.route(index, target),
        holdTimeoutMs: HOLD_TIMEOUT_MS,
        ...frontPolicy(this.#options, () => clientScriptUrl(this.#generation)),
        ...(quiet ? {} : { onAccess: (entry) => this.#log.access(formatAccessLine(entry)) }),
        onRequestStart: (target) =>
          isDevsrvTarget(target) || this.#phase.kind === "failed"
            ? undefined // not the app's work: devsrv's own pages
            : this.#policy.requestStarted(target),
      });
    } catch (error) {
      throw bindError(error, host, port);
    }
    this.#fronts[index] = front;
    if (!this.#memoryRelease) {
      this.#memoryRelease = startMemoryRelease(() =>
        this.#fronts.reduce((sum, front) => sum + (front?.exchanges ?? 0), 0)
      );
    }
    if (announce) this.#announce(index, host, front, tls);
    return front;
  }

  /**
   * Serves a program's server on its public port: binds it the first time
   * the server is reported, and notes a later generation that asks for
   * another address.
   *
   * @returns Whether the port is served.
   */
  #publish(report: ListeningReport): boolean {
    const overrides = { host: this.#options.host, port: this.#options.port };
    const existing = this.#fronts[report.index];
    if (existing && report.index === 0 && this.#provisional) {
      this.#provisional = false;
      if (existing.addr.port !== report.public.port) {
        this.#fronts[0] = undefined;
        void existing.close();
        return this.#publish(report);
      }
    }
    if (existing) {
      const asked = report.requested.port;
      const key = `${report.index}:${asked}`;
      // --port decides the first server's port: what the program asks for is no news.
      const overridden = report.index === 0 && this.#options.port !== undefined;
      if (
        asked !== undefined && asked !== 0 && asked !== existing.addr.port && !overridden &&
        !this.#notedPorts.has(key)
      ) {
        this.#notedPorts.add(key);
        this.#log.info(
          `${this.#source.display} now asks for port ${asked}; it is still served on ${existing.addr.port} (restart devsrv to move it)`,
        );
      }
      return true;
    }
    const requested = { hostname: report.requested.hostname, port: report.requested.port };
    const host = publicHost(requested, overrides);
    const narrowed = narrowedHost(requested, overrides);
    try {
      this.#openFront(report.index, host, report.public.port, this.#tls ?? report.tls);
    } catch (error) {
      if (!(error instanceof DevsrvError)) throw error;
      if (this.#fronts.every((front) => front === undefined)) {
        this.#fail_session(error);
      } else {
        this.#log.error(formatError(error));
      }
      return false;
    }
    if (narrowed) {
      this.#log.info(
        `${this.#source.display} asks for ${narrowed}; devsrv serves it on ${host} only (use --host ${narrowed} to serve other machines)`,
      );
    }
    return true;
  }

  /**
   * Binds a public port for the 503 page when the program failed before it
   * started any server: `--port`, else 8000. Its own port replaces it later.
   */
  #showFailurePage(): void {
    if (this.#fronts.some((front) => front !== undefined)) return;
    try {
      this.#openFront(
        0,
        hostOrDefault(this.#options),
        this.#options.port ?? DEFAULT_PORT,
        this.#tls,
      );
      this.#provisional = true;
    } catch (error) {
      if (!(error instanceof DevsrvError)) throw error;
      this.#log.warn(`The error page cannot be served: ${error.message}`);
    }
  }

  /**
   * Decides where one request goes.
   *
   * @param index The server (public port) the request came in on.
   * @param target The request-target.
   * @returns Forward to the child or the control server, or hold.
   */
  route(index: number, target: string): Route {
    if (isDevsrvTarget(target)) return this.#controlRoute;
    const phase = this.#phase;
    switch (phase.kind) {
      case "ready": {
        const port = phase.child.servers.get(index);
        if (port !== undefined) {
          return { kind: "forward", backend: { hostname: "127.0.0.1", port } };
        }
        // The program has loaded and this port's server is not running (it
        // was shut down, or this version does not start it): as a refused
        // connection would, answer at once rather than hold.
        return phase.child.loaded
          ? {
            kind: "unavailable",
            message: `${this.#source.display} has no server running for this port now; ` +
              "devsrv serves it again when the app starts one",
          }
          : { kind: "hold" };
      }
      case "failed":
        return this.#controlRoute;
      default:
        return { kind: "hold" };
    }
  }

  get #controlRoute(): Route {
    return { kind: "forward", backend: { hostname: "127.0.0.1", port: this.#control.addr.port } };
  }

  #changed(): void {
    for (const front of this.#fronts) front?.changed();
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
      const fresh = decision.files.some((file) => file.reason.kind === "startup");
      this.restart({ reason: "change", files, fresh });
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
      this.#pending.fresh = Boolean(this.#pending.fresh || request.fresh);
    } else {
      this.#pending = { ...request, files: [...request.files] };
    }
    this.#abandonStart();
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  /**
   * A change that arrives while a child is still starting makes that start
   * pointless: it would serve code that is already old. The child is ended
   * at once, and the queued restart starts the newest code.
   */
  #abandonStart(): void {
    const phase = this.#phase;
    if (phase.kind !== "starting" || phase.child.abandoned) return;
    phase.child.abandoned = true;
    void phase.child.stop(0);
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
    const child = "child" in phase ? phase.child : undefined;
    if (!child || phase.kind === "stopping") return;
    this.#phase = { kind: "stopping", child };
    this.#retiring.add(child);
    const stopped = child.stop(this.#options.graceMs).then(({ killed }) => {
      this.#retiring.delete(child);
      if (!killed) return;
      this.#log.warn(
        `Child pid ${child.pid} did not stop within ${this.#options.graceMs} ms (--grace) · killed it`,
      );
    });
    // While the old child finishes requests in flight, the new one may start:
    // new requests need not wait for old ones. Not when the app handles the
    // signal itself: its shutdown (a lock, a database) must end first.
    const report = await Promise.race([child.stopReport, stopped.then(() => undefined)]);
    if (report && report.handler === null && report.requests > 0) return;
    await stopped;
  }

  async #restartNow(request: RestartRequest): Promise<void> {
    const started = performance.now();
    const restarted = this.#policy.restarting();
    await this.#stopCurrentChild();
    if (this.#phase.kind === "shutdown") return;
    // Changes seen while the old child stopped are on disk now: the child
    // about to start reads them, so they need no restart of their own.
    const later = this.#pending;
    if (later) {
      this.#pending = undefined;
      request.files = [...new Set([...request.files, ...later.files])];
      request.fresh = Boolean(request.fresh || later.fresh);
    }
    const outcome = await this.#startChild(request.fresh ?? false);
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
    Object.assign(env, relayedColorEnv());
    if (runsProgram(this.#source)) {
      // Known to be needed: the child loads Node's HTTP layer as it boots,
      // before "start" (a standby, off the restart's path). Else "start" says.
      const node = this.#policy.graph !== undefined && this.#capturesNode;
      Object.assign(
        env,
        programSettingsEnv(programSettings(this.#options, this.#source.display, "child", node)),
        { [AUTO_SERVE_ENV]: "1" },
        node ? { [NODE_CAPTURE_ENV]: "1" } : {},
      );
    }
    const child = new ChildProcess(this.#command, this.#channel, ++this.#spawned, env);
    this.#phase_(`child ${child.generation} spawned (pid ${child.pid})`);
    this.#children.set(child.generation, child);
    child.status.then(() => this.#children.delete(child.generation));
    return child;
  }

  /**
   * Whether the child captures `node:http` servers: loading Node's HTTP layer
   * costs a child tens of milliseconds, so only for a program whose module
   * graph may use it (npm packages, `node:` built-ins, CommonJS), or whose
   * graph is not known.
   */
  get #capturesNode(): boolean {
    if (!runsProgram(this.#source)) return false;
    const graph = this.#policy.graph;
    return graph === undefined || graph.npmPackages.length > 0 || graph.nodeBuiltins.length > 0 ||
      /\.c[jt]s$/.test(graph.entry);
  }

  /**
   * Works out the module graph while the first child boots, so that its
   * start knows whether to capture `node:http`; waits at most
   * {@linkcode NODE_DECISION_WAIT_MS}.
   */
  #learnModuleGraph(): void {
    if (!runsProgram(this.#source)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    this.#nodeDecided = Promise.race([
      this.#policy.refreshGraph("normal"),
      new Promise<void>((resolve) => timer = setTimeout(resolve, NODE_DECISION_WAIT_MS)),
    ]).finally(() => clearTimeout(timer));
  }

  /** What the next child is told when it starts: where its servers are served. */
  #startMessage(): StartMessage {
    return {
      type: "start",
      ports: this.#fronts.map((front, index) =>
        front && !(index === 0 && this.#provisional) ? front.addr.port : null
      ),
      host: this.#options.host ?? null,
      port: this.#options.port ?? null,
      node: this.#capturesNode,
      tls: this.#tls !== undefined,
    };
  }

  /**
   * The booted standby, unless it is gone or a file Deno read when it booted
   * has changed since; else a fresh child.
   */
  #nextChild(fresh: boolean): ChildProcess {
    const standby = this.#standby;
    this.#standby = undefined;
    if (standby && !standby.exited && !fresh) return standby;
    standby?.signal("SIGTERM");
    return this.#spawn();
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

  async #startChild(fresh = false): Promise<boolean> {
    let child: ChildProcess;
    try {
      child = this.#nextChild(fresh);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        // No change can fix a missing permission: say so and end the session.
        this.#fail_session(
          new DevsrvError(
            `devsrv cannot start the app's process: ${firstLine(error.message)}`,
            "run devsrv with -A (deno run -A main.ts serve ...)",
          ),
        );
        return false;
      }
      this.#fail({
        message: `cannot start the child: ${String(error)}`,
        detail: "",
        output: "",
      });
      return false;
    }
    this.#generation = child.generation;
    this.#phase = { kind: "starting", child };
    // Spawned first: deno info for the graph boots beside it, not before it.
    if (child.generation === 1) this.#learnModuleGraph();
    child.startedAt = performance.now();
    Promise.all([child.link(), this.#nodeDecided]).then(([conn]) => {
      this.#phase_(
        `child ${child.generation} told to start (node:http ${
          this.#capturesNode ? "captured" : "not used"
        })`,
      );
      return sendMessage(conn, this.#startMessage());
    }).catch(() => {
      // the child is gone before it could start: its exit settles the outcome
    });
    const outcome = await child.outcome;
    if (this.#phase.kind !== "starting" || this.#phase.child !== child) {
      return false;
    }
    if (child.abandoned) {
      this.#log.info(
        `Child pid ${child.pid} was still starting · starting the newest code instead`,
      );
      await child.status;
      return false;
    }
    this.#phase_(`child ${child.generation}: ${outcome.kind}`);
    return this.#settle(child, outcome);
  }

  #settle(child: ChildProcess, outcome: StartOutcome): boolean {
    const source = this.#source.display;
    switch (outcome.kind) {
      case "ready": {
        this.#phase = { kind: "ready", child };
        this.#changed();
        const ms = Math.round(performance.now() - child.startedAt);
        const marker = child.generation === 1 ? ` (${RUN_MAIN_ENV}=true)` : "";
        this.#log.info(
          `Child pid ${child.pid}${marker} serving ${source} · ready in ${ms} ms`,
        );
        child.status.then((status) => this.#onChildExit(child, status));
        if (this.#options.liveReload) this.#hub.reload(child.generation);
        if (child.generation === 1 && this.#firstUrl) this.onFirstReady(this.#firstUrl);
        this.#prepareStandby();
        return true;
      }
      case "failed":
        this.#fail({ ...outcome.report, output: child.outputTail }, child);
        return false;
      case "exited":
        this.#fail({
          ...failureFromExit(outcome.status, child.outputTail, source, false),
          output: child.outputTail,
        }, child);
        return false;
    }
  }

  #fail(failure: AppFailure, child?: ChildProcess): void {
    this.#phase = child && !child.exited
      ? { kind: "failed", failure, child }
      : { kind: "failed", failure };
    this.#showFailurePage();
    this.#changed();
    const who = child ? `Child pid ${child.pid}` : "Reloader";
    this.#log.error(
      `${who} ${failure.kind === "exit" ? "ended" : "failed"}: ${failure.message}${
        failure.fix ? `; ${failure.fix}` : ""
      }`,
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
      ...failureFromExit(status, child.outputTail, this.#source.display, true),
      output: child.outputTail,
    }, child);
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
    this.#log.info(
      `Child pid ${child.pid} is stopping · waiting for ${waits.join(" and ")} (up to ${
        this.#options.graceMs / 1000
      } s)`,
    );
  }

  async #listen(
    generation: number,
    messages: AsyncGenerator<unknown>,
    conn: Deno.Conn,
  ): Promise<void> {
    const child = this.#children.get(generation);
    if (!child) {
      this.#channel.release(conn);
      return;
    }
    child.attach(conn);
    this.#phase_(`child ${generation} connected`);
    for await (const message of messages) {
      const typed = message as { type?: string };
      if (typed.type === "listening" && isListeningReport(message)) {
        if (!this.#publish(message)) continue;
        child.listening(message);
        const phase = this.#phase;
        if (phase.kind === "ready" && phase.child === child) this.#fronts[message.index]?.changed();
        // A server that starts after the program was reported as serving nothing.
        if (phase.kind === "failed" && phase.child === child) {
          this.#settle(child, { kind: "ready", report: message });
        }
      } else if (typed.type === "wrote") {
        const wrote = message as { paths?: unknown; at?: unknown };
        if (Array.isArray(wrote.paths) && typeof wrote.at === "number") {
          this.#policy.appWrote(wrote.paths.filter((path) => typeof path === "string"), wrote.at);
        }
      } else if (typed.type === "loaded") {
        child.loaded = true;
        this.#changed();
      } else if (typed.type === "stopping") {
        child.stopping(message as StoppingReport);
        this.#reportStopping(child, message as StoppingReport);
      } else if (typed.type === "closed") {
        const index = (message as { index: number }).index;
        child.servers.delete(index);
        this.#fronts[index]?.changed();
      } else if (typed.type === "failed") {
        child.failed(message as FailureReport);
      }
    }
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
      standbyPid: this.#standby && !this.#standby.exited && this.#standby.linked
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
    // At the end of the session, what the app started must be gone before devsrv is.
    const final = { waitForTree: true };
    await Promise.all([
      "child" in phase && phase.child ? phase.child.stop(this.#options.graceMs, final) : undefined,
      standby?.stop(this.#options.graceMs, final),
      ...[...this.#retiring].map((child) => child.stop(this.#options.graceMs, final)),
    ]);
    await Promise.all(this.#fronts.map((front) => front?.close()));
    await this.#control.shutdown();
    await this.#channel.close();
    await policyClosed;
  }
}

function listenForRestartCommand(supervisor: Supervisor, log: Logger): void {
  readTerminalLines((typed) => {
    if (typed !== "rs") return;
    log.info("Restart requested (rs) · restarting");
    supervisor.restart({ reason: "rs", files: [] });
  });
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
  const phase = phaseTimer(log, options.verbose);
  phase("reloader's modules loaded");
  const supervisor = new Supervisor(source, options, log, tls);
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
  // The first child boots while the parent scans the tree it watches.
  supervisor.restart({ reason: "start", files: [] });
  let watching: Watching;
  try {
    watching = await supervisor.watch();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await supervisor.shutdown();
    throw new UsageError(
      `a path to watch does not exist: ${firstLine(error.message)}`,
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
