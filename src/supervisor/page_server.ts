/**
 * The parent's own small HTTP server on a loopback port. The front sends it
 * devsrv's endpoints (`/__devsrv...`) and, while the app is broken, every
 * other request, which gets the 503 page with the error.
 *
 * @module
 */

import type { FailureReport } from "../channel/messages.ts";
import type { Logger } from "../log.ts";
import { errorResponse } from "../pages/error_page.ts";
import { type DevsrvStatus, statusResponse } from "../pages/status_page.ts";
import { isDevsrvPath, isStatusPath } from "../live_reload/paths.ts";

/** The app's failure, as the 503 page shows it. */
export interface AppFailure extends FailureReport {
  /** The child's latest output. */
  output: string;
}

/** What the page server reads from the supervisor. */
export interface PageServerState {
  status(): DevsrvStatus;
  failure(): AppFailure | undefined;
  /** Refuses hostile requests (Host allow-list; same-origin for devsrv's endpoints). */
  guard?: (request: Request, isDevsrvEndpoint: boolean) => Response | null;
  /** Extra routes under /__devsrv/ (events, client), answered first. */
  routes?: (
    request: Request,
    path: string,
  ) => Response | undefined | Promise<Response | undefined>;
  /** Whether a request may see stacks and source. */
  showDetails?: (request: Request) => boolean;
  /** Script for the error pages (the live-reload client), per request. */
  pageScript?: () => string | undefined;
}

/**
 * Turns a failure report into an error whose stack points at the user's
 * file, so the page can show the source around it.
 *
 * @param failure The child's report.
 * @returns An Error for {@linkcode errorResponse}.
 */
export function failureAsError(failure: AppFailure): Error {
  const error = new Error(
    failure.fix ? `${failure.message}; ${failure.fix}` : failure.message,
  );
  error.name = failureTitle(failure);
  const location = failure.file &&
      !failure.detail.includes(`${failure.file.split("/").pop()}:${failure.line}:${failure.column}`)
    ? `\n    at ${failure.file}:${failure.line ?? 1}:${failure.column ?? 1}`
    : "";
  error.stack = `${error.name}: ${error.message}${location}\n${failure.detail}`;
  return error;
}

/**
 * The 503 page's heading: what happened to the app.
 *
 * @param failure The child's report.
 * @returns "App failed to load", "App crashed" or "App exited".
 */
export function failureTitle(failure: AppFailure): string {
  switch (failure.kind) {
    case "crash":
      return "App crashed";
    case "exit":
      return "App exited";
    default:
      return "App failed to load";
  }
}

function brokenAppResponse(request: Request, state: PageServerState): Response {
  const failure = state.failure();
  const showDetails = state.showDetails?.(request) ?? true;
  const options: Parameters<typeof errorResponse>[2] = {
    status: 503,
    title: failure ? failureTitle(failure) : "App is starting",
    showDetails,
  };
  if (failure?.output) options.output = failure.output;
  const script = state.pageScript?.();
  if (script) options.scriptSrc = script;
  const error = failure
    ? failureAsError(failure)
    : new Error("The app is (re)starting; this page reloads once it is ready");
  const response = errorResponse(error, request, options);
  response.headers.set("retry-after", "1");
  return response;
}

/**
 * Starts the page server.
 *
 * @param state The supervisor's view.
 * @param log For unexpected errors.
 * @returns The server, on 127.0.0.1 and an ephemeral port.
 */
export function startPageServer(
  state: PageServerState,
  log: Logger,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
    onError: (error) => {
      log.error(`Page server error: ${String(error)}`);
      return new Response("Internal Server Error", { status: 500 });
    },
  }, async (request) => {
    // A hostile Host can make Deno's request.url unparseable; the guard
    // refuses such a request, so any path will do to get it there.
    const path = URL.parse(request.url)?.pathname ?? "/";
    const devsrvPath = isDevsrvPath(path);
    const refused = state.guard?.(request, devsrvPath);
    if (refused) return refused;
    const routed = await state.routes?.(request, path);
    if (routed) return routed;
    if (isStatusPath(path)) return statusResponse(request, state.status());
    if (devsrvPath) return new Response("Not Found\n", { status: 404 });
    return brokenAppResponse(request, state);
  });
}
