/**
 * devsrv in front of a user's program: the code that Deno runs before the
 * program's main module (`deno run --preload`), so that the program runs
 * exactly as `deno run main.ts` would run it, while every server it starts
 * is captured.
 *
 * As the reloader's child ({@linkcode prepareChild}) it connects to the
 * parent, waits for "start" (a standby child waits here, booted), captures
 * servers onto loopback ports and reports each as it listens. The single
 * process (`--no-reload`, `single_program.ts`) shares the helpers here: the
 * handler wrapper, the watch for a program that starts no server, the stop
 * on a signal.
 *
 * Deno runs the program once this module's top level is done and the
 * event loop is idle, so the channel to the parent is unref'd by then.
 *
 * @module
 */

import { connectToParent, type ParentLink } from "../channel/child_end.ts";
import type { StartMessage, StoppingReport } from "../channel/messages.ts";
import { createLogger, type Logger, phaseTimer } from "../log.ts";
import {
  AUTO_SERVE_ENV,
  CHANNEL_ADDRESS_ENV,
  CHANNEL_TOKEN_ENV,
  NODE_CAPTURE_ENV,
  PROGRAM_SETTINGS_ENV,
} from "../role.ts";
import {
  findHandler,
  NO_SERVER_NOTICE_MS,
  type NoHandlerError,
  noHandlerError,
  noServerNotice,
} from "./app_loader.ts";
import { type HandlerOptions, wrapHandler } from "./app_server.ts";
import { detailsPolicy } from "../security/guard_filters.ts";
import { clientScriptUrl } from "../live_reload/paths.ts";
import { descendantsOf, signalProcesses } from "../process_tree.ts";
import { onShutdownSignal, SHUTDOWN_SIGNALS } from "../signals.ts";
import { warmUpRuntime } from "./warm_up.ts";
import { ShutdownHooks } from "./shutdown_hooks.ts";
import { captureDenoServe, type WrapHandler } from "./capture_deno_serve.ts";
import { captureNodeHttp } from "./capture_node_http.ts";
import { reportWrites } from "./write_reports.ts";
import { Activity, ProgramSignalListeners } from "./activity.ts";
import {
  type CapturedServer,
  CapturedServers,
  refusedAddress,
  stopServers,
} from "./captured_servers.ts";
import { bindError } from "../listen/address.ts";
import { FAILURE_EXIT_CODE } from "../errors.ts";
import type { ProgramSettings } from "./program_settings.ts";
import { mayUseSockets } from "../channel/backend_sockets.ts";

/** Exit code of a child whose parent disappeared. */
export const PARENT_GONE_EXIT_CODE = 0;

/**
 * Removes devsrv's secrets and switches from the environment the program
 * and its own subprocesses see. `DEVSRV_RUN_MAIN` and the generation stay:
 * they are how a program tells it runs under the reloader.
 */
export function hideDevsrvEnvironment(): void {
  for (
    const name of [
      CHANNEL_TOKEN_ENV,
      CHANNEL_ADDRESS_ENV,
      PROGRAM_SETTINGS_ENV,
      NODE_CAPTURE_ENV,
      AUTO_SERVE_ENV,
    ]
  ) {
    try {
      Deno.env.delete(name);
    } catch (error) {
      // Without --allow-env the program cannot read them either.
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
    }
  }
}

/**
 * The handler wrapper for a program's `Deno.serve` servers: the
 * development error page (unless the program has its own `onError`), and
 * the filters of the role.
 *
 * @param settings What devsrv was told.
 * @param log Where errors go.
 * @param extra The role's filters and access logging.
 * @returns The wrapper.
 */
export function programWrap(
  settings: ProgramSettings,
  log: Logger,
  extra: Pick<HandlerOptions, "before" | "after" | "errorPageScript" | "logAccess">,
): WrapHandler {
  const showDetails = detailsPolicy(
    { host: settings.host ?? undefined, allowedHosts: settings.allowedHosts },
    settings.role === "single",
  );
  return (handler, onError) =>
    wrapHandler({ handler, log, showDetails, ...extra, ...(onError ? { onError } : {}) });
}

/**
 * What the child tells the parent about one server.
 *
 * @param server The server that listens.
 * @param begun When "start" arrived (`performance.now()`).
 * @returns The report.
 */
export function listeningReport(server: CapturedServer, begun: number) {
  const { requested } = server;
  return {
    type: "listening" as const,
    index: server.index,
    port: server.bound.port,
    ...(server.socketPath === undefined ? {} : { path: server.socketPath }),
    public: server.public,
    requested: {
      ...(requested.hostname === undefined ? {} : { hostname: requested.hostname }),
      ...(requested.port === undefined ? {} : { port: requested.port }),
    },
    ...(requested.tls ? { tls: requested.tls } : {}),
    kind: requested.kind,
    loadMs: Math.round(performance.now() - begun),
  };
}

/**
 * Ends this child, and whatever the program started, when the parent is
 * gone: a parent killed with SIGKILL cannot stop them, the closed channel
 * says it is gone.
 *
 * @param link The channel to the parent.
 */
export function exitWhenParentIsGone(link: ParentLink): void {
  link.lost.then(() => {
    signalProcesses(descendantsOf(Deno.pid), "SIGKILL");
    // A parent killed with SIGKILL could not remove its socket directory.
    if (socketDirOfParent) removeQuietly(socketDirOfParent);
    Deno.exit(PARENT_GONE_EXIT_CODE);
  });
}

/** The parent's directory of Unix sockets, once "start" has named it. */
let socketDirOfParent: string | undefined;

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // Gone already (another child removed it), or not ours to remove: nothing left to do.
  }
}

/** A program's servers and what they are busy with. */
export interface ProgramServers {
  registry: CapturedServers;
  activity: Activity;
  /** The signal listeners the program registers itself (install once devsrv's own are in place). */
  signals: ProgramSignalListeners;
}

/**
 * The listeners Deno registers for the server it starts for an
 * `export default { fetch }` module (SIGTERM and SIGINT, to shut it down):
 * not the program's own.
 */
export const DECLARATIVE_SIGNAL_LISTENERS = 2;

/**
 * Captures servers for the reloader's child, reporting each to the parent.
 *
 * @param link The channel to the parent.
 * @param start The parent's "start".
 * @param settings What devsrv was told.
 * @param log The child's logger.
 * @returns The registry.
 */
export async function captureForChild(
  link: ParentLink,
  start: StartMessage,
  settings: ProgramSettings,
  log: Logger,
): Promise<ProgramServers> {
  const begun = performance.now();
  socketDirOfParent = start.socketDir ?? undefined;
  const activity = new Activity();
  const signals = new ProgramSignalListeners();
  const registry = new CapturedServers({
    mode: "hidden",
    overrides: { host: start.host ?? undefined, port: start.port ?? undefined },
    assigned: start.ports,
    // A program run without read and write access there listens on loopback ports.
    socketDir: start.socketDir && mayUseSockets(start.socketDir) ? start.socketDir : undefined,
    onListening: (server) => void link.send(listeningReport(server, begun)),
    onClosed: (server) => void link.send({ type: "closed", index: server.index }),
    onUnixSocket: (path) => void link.send({ type: "unixSocket", path }),
  });
  const script = settings.liveReload ? clientScriptUrl(link.generation) : undefined;
  captureDenoServe(registry, {
    // The parent's front checks the Host and adds the live-reload client to
    // pages for every server; error pages made here load the client themselves.
    wrap: programWrap(settings, log, {
      logAccess: false,
      ...(script ? { errorPageScript: script } : {}),
    }),
    mode: "hidden",
    secureFront: start.tls,
    activity,
    onDeclarativeServer: () => signals.ignoreNext(DECLARATIVE_SIGNAL_LISTENERS),
  });
  const writes = reportWrites((paths) => void link.send({ type: "wrote", paths, at: Date.now() }));
  if (start.node || settings.node) {
    await captureNodeHttp(registry, { mode: "hidden", secureFront: start.tls, activity });
    await writes.addNodeFs();
  }
  return { registry, activity, signals };
}

/**
 * Serves the program's exported handler when it started no server of its
 * own (a default-exported function, a named `fetch` or `handler`; Deno
 * itself serves `export default { fetch }`).
 *
 * @param registry The captured servers so far.
 * @param display The entry as shown, for the error.
 * @returns `true` when something is served now (or the program failed to
 * load, which Deno reports itself); else the error to report.
 */
export async function serveExportedHandler(
  registry: CapturedServers,
  display: string,
): Promise<true | NoHandlerError> {
  if (registry.anyStarted) return true;
  let exports: Record<string, unknown>;
  try {
    exports = await import(Deno.mainModule);
  } catch {
    // Any error: the program failed to load, with whatever value its code
    // threw; Deno reports it and exits.
    return true;
  }
  if (registry.anyStarted) return true;
  const handler = findHandler(exports);
  if (!handler) return noHandlerError(exports, display);
  Deno.serve({ onListen: () => {} }, handler);
  return true;
}

/**
 * Stops the program gracefully on SIGTERM, SIGINT or SIGHUP: long-lived
 * streams end at once (their clients reconnect to the new code), requests
 * in flight finish (uploads included: the servers shut down only once no
 * handler is left waiting, since Deno's `shutdown()` breaks request bodies
 * still being read), all bounded by the grace period. Then the process
 * ends, unless the program handles the signal itself: its handler decides,
 * as under `deno run`.
 *
 * @param servers The program's servers.
 * @param graceMs How long in-flight requests may take, in ms.
 * @param onStopping Told what the stop waits for, once it starts.
 */
export function stopOnSignal(
  servers: ProgramServers,
  graceMs: number,
  onStopping?: (report: StoppingReport) => void,
): void {
  let stopping = false;
  for (const name of SHUTDOWN_SIGNALS) {
    // A terminal's Ctrl+C reaches this process and devsrv, which may pass it
    // on: a second signal while stopping must not kill the process midway.
    Deno.addSignalListener(name, async () => {
      if (stopping) return;
      stopping = true;
      const { registry, activity, signals } = servers;
      const streams = activity.endStreams();
      const handler = signals.handles(name) ? name : null;
      onStopping?.({ type: "stopping", requests: activity.inFlight, streams, handler });
      const deadline = performance.now() + graceMs;
      await withDeadline(activity.idle(), graceMs);
      await stopServers(registry, Math.max(0, deadline - performance.now()));
      if (!handler) Deno.exit(0);
    });
  }
}

async function withDeadline(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((resolve) => timer = setTimeout(resolve, ms))]);
  clearTimeout(timer);
}

/**
 * Runs devsrv's part of a program's process as the reloader's child:
 * called by the preload module before Deno runs the program.
 *
 * @param settings What the parent passed.
 */
export async function prepareChild(settings: ProgramSettings): Promise<void> {
  const log = createLogger({ role: "child", quiet: settings.quiet });
  const phase = phaseTimer(log, settings.verbose);
  phase("devsrv's child code loaded");
  const link = await connectToParent();
  phase("connected to the parent");
  hideDevsrvEnvironment();
  exitWhenParentIsGone(link);
  // A standby child loads Node's HTTP layer while it waits, off the restart's path.
  const warming = settings.node ? captureNodeModules() : Promise.resolve();
  const standby = onShutdownSignal();
  // A standby, while it waits: what Deno sets up on first use is then off
  // the restart's path. A child told to start at once has nothing to wait for.
  const warm = settings.standby === true ? warmUpRuntime() : Promise.resolve();
  const start = await Promise.race([link.started, standby.signal.then(() => undefined)]);
  if (!start) Deno.exit(0);
  phase("told to start");
  standby.cancel();
  await Promise.all([warming, warm]);
  const servers = await captureForChild(link, start, settings, log);
  phase(
    `servers captured${start.node || settings.node ? " (node:http too)" : ""}; running the program`,
  );
  globalThis.addEventListener("load", () => phase("program evaluated"));
  const { registry } = servers;
  const hooks = new ShutdownHooks();
  const nodeLoaded = start.node || settings.node;
  const endHook = () => hooks.hook(servers.signals, nodeLoaded);
  // What the program does as it ends decides whether its next start may run beside this one.
  stopOnSignal(
    servers,
    settings.graceMs,
    (report) => void link.send({ ...report, hook: endHook() }),
  );
  servers.signals.install();
  globalThis.addEventListener("load", () => void link.send({ type: "loaded" }));
  const report = (error: NoHandlerError) =>
    link.send({ type: "failed", message: error.message, fix: error.fix ?? "", detail: "" });
  watchForNoServer(registry, settings.display, {
    afterLoad: report,
    beforeExit: async (error) => {
      await report(error);
      Deno.exit(0);
    },
  });
  reportRefusedAddress(link, registry);
  // Last: devsrv's own listeners above are not the program's.
  hooks.install();
  link.answerHooks(endHook);
  link.unref();
}

/**
 * Turns a taken public address that the program leaves unhandled (it did
 * not catch `AddrInUse`, nor listen for Node's `'error'`) into devsrv's
 * one line about the port, instead of Deno's report of an uncaught error:
 * the parent decides whether the session goes on.
 *
 * @param link The channel to the parent.
 * @param registry The captured servers.
 */
export function reportRefusedAddress(link: ParentLink, registry: CapturedServers): void {
  const onUncaught = (event: Event, error: unknown) => {
    const address = refusedAddress(error);
    if (!address || event.defaultPrevented) return;
    event.preventDefault();
    const problem = bindError(new Deno.errors.AddrInUse(), address.hostname, address.port);
    // `--port` places the first server only: a later one's port is the program's.
    const fix = registry.servers.length > 0
      ? `stop the other server, or change the port this server asks for in the program (--port places the first server only)`
      : problem.fix;
    const stack = error instanceof Error ? error.stack ?? "" : "";
    void link.send({
      type: "failed",
      kind: registry.servers.length > 0 ? "crash" : "load",
      addressInUse: true,
      message: problem.message,
      ...(fix ? { fix } : {}),
      detail: stack,
    }).finally(() => Deno.exit(FAILURE_EXIT_CODE));
  };
  globalThis.addEventListener("error", (event) => onUncaught(event, event.error));
  globalThis.addEventListener("unhandledrejection", (event) => onUncaught(event, event.reason));
}

function captureNodeModules(): Promise<void> {
  // node:fs/promises too: devsrv's report of the program's writes wraps it, and
  // Node's `fs.promises` loads it on first use (about 7 ms, measured).
  return Promise.all([
    import("node:http"),
    import("node:https"),
    import("node:tls"),
    import("node:fs/promises"),
  ]).then(() => {});
}

/**
 * How long a program that has loaded may go without a server before it is
 * reported as one that starts none (it may still start one, after a
 * database connection or a timer: it is served as soon as it does), in ms.
 */
const LATE_SERVER_MS = 10_000;

/** What to do about a program that starts no server and exports no handler. */
export interface NoServerActions {
  /** It loaded, and a while later still has no server; it keeps running. */
  afterLoad(error: NoHandlerError): void | Promise<void>;
  /** It has nothing left to do and is about to end without a server. */
  beforeExit(error: NoHandlerError): void | Promise<void>;
}

/**
 * Watches for a program that has no server: once its module has loaded
 * (Deno's `load` event), its exported handler is served if it has one;
 * else it is reported when it is about to end with nothing left to do
 * (`beforeunload`), or after {@linkcode LATE_SERVER_MS} while it runs on.
 *
 * @param registry The captured servers.
 * @param display The entry as shown.
 * @param actions What to do.
 */
export function watchForNoServer(
  registry: CapturedServers,
  display: string,
  actions: NoServerActions,
): void {
  let missing: NoHandlerError | undefined;
  let reported = false;
  globalThis.addEventListener("load", async () => {
    const served = await serveExportedHandler(registry, display);
    if (served === true) return;
    missing = served;
    const timer = setTimeout(() => {
      if (registry.anyStarted || reported) return;
      reported = true;
      actions.afterLoad(served);
    }, LATE_SERVER_MS);
    Deno.unrefTimer(timer);
  });
  globalThis.addEventListener("beforeunload", (event) => {
    if (registry.anyStarted || !missing) return;
    // Keep the process for the report; beforeExit ends it.
    event.preventDefault();
    const error = missing;
    missing = undefined;
    void actions.beforeExit(error);
  });
}

/**
 * Says once, after {@linkcode NO_SERVER_NOTICE_MS}, that the program has
 * started no server yet: for the single process (`--no-reload`). A
 * reloader's child leaves it to the parent, which waits for the child's
 * "ready" anyway: the child's first timer would start Deno's Node layer
 * (about 10 ms, see `warm_up.ts`) on every start of a program that never
 * uses one.
 *
 * @param registry The captured servers.
 * @param settings What devsrv was told.
 * @param log Where to say it.
 */
export function noticeWhenNoServer(
  registry: CapturedServers,
  settings: ProgramSettings,
  log: Logger,
): void {
  const timer = setTimeout(() => {
    if (registry.anyStarted) return;
    log.warn(noServerNotice(settings.display));
  }, NO_SERVER_NOTICE_MS);
  Deno.unrefTimer(timer);
}
