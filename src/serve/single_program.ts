/**
 * `--no-reload` for a user's program: devsrv's code runs in front of it
 * (`deno run --preload`) and lets each server the program starts bind its
 * public address itself, as production would, behind the Host guard, with
 * the access log and `/__devsrv`.
 *
 * @module
 */

import { formatError } from "../errors.ts";
import { descendantsOf, signalProcesses } from "../process_tree.ts";
import { createLogger, type Logger, printToStderr } from "../log.ts";
import { openBrowser } from "../open_browser.ts";
import { formatAccessLine } from "../access_log.ts";
import { bindError } from "../listen/address.ts";
import { printRunning } from "../listen/banner.ts";
import { hostGuardFilter } from "../security/guard_filters.ts";
import { singleStatusFilter } from "./single.ts";
import { VERSION } from "../version.ts";
import { captureDenoServe } from "./capture_deno_serve.ts";
import { captureNodeHttp, type NodeServer } from "./capture_node_http.ts";
import { CapturedServers } from "./captured_servers.ts";
import {
  DECLARATIVE_SIGNAL_LISTENERS,
  hideDevsrvEnvironment,
  noticeWhenNoServer,
  programWrap,
  stopOnSignal,
  watchForNoServer,
} from "./program.ts";
import { Activity, ProgramSignalListeners } from "./activity.ts";
import {
  type ProgramSettings,
  REPORTED_EXIT_CODE,
  SINGLE_PROCESS_BANNER,
} from "./program_settings.ts";

/** How often the program checks that devsrv, which started it, still runs, in ms. */
const PARENT_CHECK_MS = 500;

/** Ends the program when the devsrv process that started it is gone (killed with SIGKILL). */
function exitWithParent(): void {
  const parent = Deno.ppid;
  const timer = setInterval(() => {
    if (Deno.ppid === parent) return;
    signalProcesses(descendantsOf(Deno.pid), "SIGKILL");
    Deno.exit(1);
  }, PARENT_CHECK_MS);
  Deno.unrefTimer(timer);
}

/** Node's request, as far as the guard needs it. */
interface NodeRequest {
  url?: string;
  method?: string;
  rawHeaders: string[];
  socket: { remoteAddress?: string };
}

/** Node's response, as far as the guard and the access log need it. */
interface NodeResponse {
  statusCode: number;
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: string): unknown;
  once(event: "finish", listener: () => void): unknown;
}

function asFetchRequest(request: NodeRequest): Request | undefined {
  const target = request.url ?? "/";
  const url = /^[a-z][a-z\d+.-]*:\/\//i.test(target)
    ? target
    : `http://localhost${target.startsWith("/") ? target : `/${target}`}`;
  const headers = new Headers();
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    try {
      headers.append(request.rawHeaders[i]!, request.rawHeaders[i + 1]!);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // a value fetch cannot carry: leave it out
    }
  }
  try {
    return new Request(url, { headers });
  } catch (error) {
    if (error instanceof TypeError) return undefined;
    throw error;
  }
}

/**
 * Puts the Host guard and `/__devsrv` in front of a Node server's
 * requests, and logs each exchange.
 */
function screenNodeServer(settings: ProgramSettings, log: Logger) {
  const filters = [
    hostGuardFilter(settings.allowedHosts),
    singleStatusFilter(settings.display, settings.allowedHosts),
  ];
  const answer = async (request: NodeRequest): Promise<Response | undefined> => {
    const fetchRequest = asFetchRequest(request);
    if (!fetchRequest) return new Response("Bad request\n", { status: 400 });
    for (const filter of filters) {
      const response = await filter(fetchRequest);
      if (response) return response;
    }
    return undefined;
  };
  return (server: NodeServer) => {
    const emit = server.emit;
    server.emit = function (event: string, ...args: unknown[]): boolean {
      if (event !== "request" && event !== "upgrade") return emit.call(this, event, ...args);
      const request = args[0] as NodeRequest;
      const started = performance.now();
      answer(request).then(async (response) => {
        if (!response) {
          if (event === "request") logExchange(log, request, args[1] as NodeResponse, started);
          emit.call(this, event, ...args);
          return;
        }
        const body = await response.text();
        if (event === "upgrade") {
          const socket = args[1] as { end(data: string): void };
          socket.end(`HTTP/1.1 ${response.status} Refused\r\nconnection: close\r\n\r\n${body}`);
          return;
        }
        const reply = args[1] as NodeResponse;
        logExchange(log, request, reply, started);
        reply.writeHead(response.status, Object.fromEntries(response.headers));
        reply.end(body);
      });
      return true;
    };
  };
}

function logExchange(log: Logger, request: NodeRequest, reply: NodeResponse, started: number) {
  reply.once("finish", () =>
    log.access(formatAccessLine({
      client: request.socket.remoteAddress ?? "-",
      method: request.method ?? "-",
      target: request.url ?? "-",
      status: reply.statusCode,
      ms: performance.now() - started,
    })));
}

/**
 * Prepares a `--no-reload` program's process.
 *
 * @param settings What devsrv passed.
 */
export async function prepareSingle(settings: ProgramSettings): Promise<void> {
  hideDevsrvEnvironment();
  const log = createLogger({ quiet: settings.quiet });
  exitWithParent();
  const registry = new CapturedServers({
    mode: "public",
    overrides: { host: settings.host ?? undefined, port: settings.port ?? undefined },
    assigned: [],
    onListening: (server) => {
      if (server.index === 0) {
        log.info(
          `devsrv ${VERSION} · ${SINGLE_PROCESS_BANNER} ${Deno.pid} (--no-reload) · serving ${settings.display}`,
        );
      }
      const tls = server.requested.tls ?? (server.index === 0 ? settings.tls : null);
      const [url] = printRunning(log, server.bound.hostname, server.bound.port, Boolean(tls));
      if (server.index === 0 && settings.open && url) {
        openBrowser(url, (message) => log.warn(message));
      }
    },
    onBindError: (error, address) => {
      printToStderr(formatError(bindError(error, address.hostname, address.port)));
      Deno.exit(REPORTED_EXIT_CODE);
    },
  });
  const activity = new Activity();
  const signals = new ProgramSignalListeners();
  captureDenoServe(registry, {
    activity,
    onDeclarativeServer: () => signals.ignoreNext(DECLARATIVE_SIGNAL_LISTENERS),
    wrap: programWrap(settings, log, {
      logAccess: true,
      before: [
        hostGuardFilter(settings.allowedHosts),
        singleStatusFilter(settings.display, settings.allowedHosts),
      ],
    }),
    mode: "public",
    ...(settings.tls ? { firstTls: settings.tls } : {}),
  });
  if (settings.node) {
    await captureNodeHttp(registry, {
      mode: "public",
      screen: screenNodeServer(settings, log),
      activity,
    });
  }
  stopOnSignal({ registry, activity, signals }, settings.graceMs);
  signals.install();
  watchForNoServer(registry, settings.display, {
    afterLoad: (error) => log.warn(formatError(error)),
    beforeExit: (error) => {
      printToStderr(formatError(error));
      Deno.exit(REPORTED_EXIT_CODE);
    },
  });
  noticeWhenNoServer(registry, settings, log);
}
