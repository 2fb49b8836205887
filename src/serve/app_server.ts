/**
 * Runs a request handler with `Deno.serve` the way a dev server should: a
 * handler that throws or returns something that is not a `Response` gets
 * the development error page (and the terminal gets the error), every
 * request gets an access line, and stopping lets in-flight requests finish.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { formatAccessLine } from "../access_log.ts";
import type { Handler } from "../options.ts";
import { errorResponse } from "../pages/error_page.ts";

/** A step in front of the app: answers a request itself or passes it on. */
export type RequestFilter = (
  request: Request,
) => Response | undefined | Promise<Response | undefined>;

/** A step after the app: may rewrite its response (live reload). */
export type ResponseFilter = (
  request: Request,
  response: Response,
) => Response | Promise<Response>;

/** Options for {@linkcode wrapHandler}. */
export interface HandlerOptions {
  handler: Handler;
  log: Logger;
  /** Print access lines here (off in the child: the parent prints them). */
  logAccess: boolean;
  /** Runs before the app (host checks, devsrv's own routes). */
  before?: RequestFilter[];
  /** Runs on the app's response (live-reload injection). */
  after?: ResponseFilter[];
  /** Whether this request may see stacks and source. @default {() => true} */
  showDetails?: (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => boolean;
  /** Script the error page loads (the live-reload client). */
  errorPageScript?: string;
  /**
   * The program's own error handler (`Deno.serve`'s `onError`): it answers
   * for an error the handler throws instead of devsrv's error page.
   */
  onError?: (error: unknown) => Response | Promise<Response>;
}

/** Options for {@linkcode startAppServer}. */
export interface AppServerOptions extends HandlerOptions {
  hostname: string;
  port: number;
  /** PEM text for HTTPS. */
  tls?: { cert: string; key: string };
  /** Called with the bound address. */
  onListen?: (addr: Deno.NetAddr) => void;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (typeof value === "object") {
    return `an object (${value.constructor?.name ?? "Object"})`;
  }
  return `a ${typeof value}`;
}

async function callHandler(
  handler: Handler,
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
): Promise<Response> {
  const response: unknown = await handler(request, info);
  if (response instanceof Response) return response;
  throw new TypeError(
    `The handler returned ${
      describeValue(response)
    } instead of a Response; return new Response(...) from fetch()`,
  );
}

function pathOf(request: Request): string {
  // Deno builds request.url from the raw Host, so `Host: a b` gives a URL
  // that does not parse; the guard's 403 must still be logged, not a 500.
  const url = URL.parse(request.url);
  if (url) return url.pathname + url.search;
  const slash = request.url.indexOf("/", request.url.indexOf("://") + 3);
  return slash < 0 ? "/" : request.url.slice(slash);
}

function developmentErrorPage(
  error: unknown,
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  options: HandlerOptions,
): Response {
  options.log.error(`Error in ${request.method} ${pathOf(request)}:`);
  options.log.raw(error instanceof Error ? (error.stack ?? String(error)) : String(error));
  const showDetails = options.showDetails?.(request, info) ?? true;
  const page: Parameters<typeof errorResponse>[2] = { showDetails };
  if (options.errorPageScript) page.scriptSrc = options.errorPageScript;
  return errorResponse(error, request, page);
}

/**
 * Wraps a handler with the error page, the filters and the access log.
 *
 * @param options The handler and what surrounds it.
 * @returns A handler for `Deno.serve`.
 */
export function wrapHandler(options: HandlerOptions): Handler {
  const { log, before = [], after = [] } = options;
  return async (request, info) => {
    const started = performance.now();
    let response: Response | undefined;
    for (const filter of before) {
      response = await filter(request);
      if (response) break;
    }
    if (!response) {
      try {
        response = await callHandler(options.handler, request, info);
        // An upgraded request (101) is no longer readable, and its response is not content.
        if (response.status !== 101) {
          for (const filter of after) response = await filter(request, response);
        }
      } catch (error) {
        response = options.onError
          ? await options.onError(error)
          : developmentErrorPage(error, request, info, options);
      }
    }
    if (options.logAccess) {
      log.access(formatAccessLine({
        client: info.remoteAddr.hostname,
        method: request.method,
        target: pathOf(request),
        status: response.status,
        ms: performance.now() - started,
      }));
    }
    return response;
  };
}

/**
 * Starts serving.
 *
 * @param options Address, handler, filters.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 */
export function startAppServer(
  options: AppServerOptions,
): Deno.HttpServer<Deno.NetAddr> {
  const handler = wrapHandler(options);
  const serveOptions = {
    hostname: options.hostname,
    port: options.port,
    onListen: (addr: Deno.NetAddr) => options.onListen?.(addr),
    onError: (error: unknown) => {
      options.log.error(`Unexpected server error: ${String(error)}`);
      return new Response("Internal Server Error", { status: 500 });
    },
  };
  if (options.tls) {
    return Deno.serve({
      ...serveOptions,
      cert: options.tls.cert,
      key: options.tls.key,
    }, handler);
  }
  return Deno.serve(serveOptions, handler);
}

/**
 * Stops a server: no new connections, in-flight requests finish, idle
 * keep-alive connections close; bounded by a grace period.
 *
 * @param server The server.
 * @param graceMs How long in-flight requests may take.
 * @returns Whether everything finished within the grace period.
 */
export async function stopGracefully(
  server: Deno.HttpServer,
  graceMs: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), graceMs);
  });
  try {
    return await Promise.race([server.shutdown().then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
