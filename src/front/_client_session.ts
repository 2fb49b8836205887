/**
 * One client connection of the front: read a request head, ask where it
 * goes, forward the request, forward the response, and again, until either
 * side closes. Each client connection holds at most one backend connection
 * and keeps it while the route stays the same.
 *
 * @module
 */

import {
  BufferedConn,
  closeGracefully,
  END_OF_STREAM,
  HEAD_TOO_LARGE,
  pipe,
  readHead,
  writeAll,
} from "./_buffered_conn.ts";
import { BackendGoneError, RequestSender } from "./_request_sender.ts";
import { isHopByHop, reasonPhrase, writeResponse } from "./_response_writer.ts";
import type { AccessEntry, BackendAddress, ResponseRewriter, Route } from "./_types.ts";
import {
  BodyFramer,
  type BodyKind,
  findHeadEnd,
  MalformedMessageError,
  parseFieldLines,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  responseBodyKind,
  type ResponseHead,
} from "./http1.ts";

/** The largest request head accepted (RFC 9110 suggests at least 8 KiB). */
export const MAX_REQUEST_HEAD_BYTES = 64 * 1024;
/** The largest response head accepted from an app. */
const MAX_RESPONSE_HEAD_BYTES = 256 * 1024;
/** One request is sent at most this often: the first time and two resends. */
const MAX_ATTEMPTS = 3;
/** How long a closing connection waits for its client to close first. */
const LINGER_MS = 2000;
/**
 * A refused request's body up to this size is read and dropped, so that the
 * connection can serve the next request; a larger one (or a chunked one)
 * closes the connection instead.
 */
const DISCARD_LIMIT_BYTES = 64 * 1024;

/** What a session needs from the front that owns it. */
export interface SessionHost {
  /** The front is closing: stop at once. */
  readonly closed: boolean;
  /** Counts `changed()` calls, so a session can tell it missed one. */
  readonly generation: number;
  /** How long a request may wait for a backend. */
  readonly holdTimeoutMs: number;
  /** Where a request goes now. */
  route(target: string): Route;
  /** Resolves at the next change after `generation`, on close, or after `timeoutMs`. */
  waitForChange(generation: number, timeoutMs: number): Promise<void>;
  /** Reports a finished exchange, when someone listens. */
  readonly onAccess: ((entry: AccessEntry) => void) | undefined;
  /** Counts a finished exchange. */
  countExchange(): void;
  /**
   * A request is about to be forwarded; the function returned is to be
   * called when its final response head has come back, or it ended without
   * one (it does something the first time only).
   */
  requestStarted(target: string): () => void;
  /** Reports an error that is not a peer going away: a bug. */
  reportError(error: unknown): void;
  /** Refuses a request before it is forwarded, when set (the Host guard). */
  readonly screen: ((head: RequestHead) => Response | undefined) | undefined;
  /** Rewrites some responses, when set (live reload). */
  readonly rewriter: ResponseRewriter | undefined;
  /** The scheme clients use: `"https"` when the front terminates TLS. */
  readonly scheme: "http" | "https";
}

/** A backend connection and where it leads. */
interface Backend {
  readonly reader: BufferedConn;
  readonly address: BackendAddress;
  /** Exchanges completed on it; more than 0 means it is reused. */
  exchanges: number;
}

/** How an attempt to forward one exchange ended. */
const Outcome = {
  /** Done; the client may send another request. */
  keepAlive: 0,
  /** Done; the client connection closes now. */
  close: 1,
  /** The backend closed or failed before any byte of a response. */
  noResponse: 2,
  /** The backend answered with something that is not a response. */
  badGateway: 3,
  /** The connection became a tunnel, which has ended. */
  tunnelled: 4,
} as const;
type Outcome = typeof Outcome[keyof typeof Outcome];

/** {@linkcode ClientSession} could not get a backend connection. */
const HOLD_TIMED_OUT = "hold timed out";
const SESSION_CLOSED = "session closed";

/** The state of one request while it is forwarded. */
interface Exchange {
  readonly head: RequestHead;
  readonly startedAt: number;
  /** The whole request arrived with its head; no pump is needed. */
  readonly wholeRequestBuffered: boolean;
  /** When a held request gives up; 0 until it is first held. */
  holdDeadline: number;
  /** The task reading the rest of the body from the client, once started. */
  pump: Promise<void> | null;
  /** Why the pump stopped early, if it did. */
  pumpError: unknown;
  /** Something was written to the client already (a 1xx or more). */
  answered: boolean;
  /** A 1xx response other than 101 was forwarded. */
  sawInterim: boolean;
  /** The final status, for the access log. */
  status: number;
  /** The client connection is being read for its close while the response streams. */
  watchingClient: boolean;
  /** A copy of the request head, kept only when the rewriter may want its response. */
  readonly rewriteHead: Uint8Array | null;
  /** Tells the host that the final response head is here (or will not come); idempotent. */
  responded: () => void;
}

/** Forwards the requests of one client connection. */
export class ClientSession {
  readonly #host: SessionHost;
  readonly #client: BufferedConn;
  readonly #clientName: string;
  readonly #requestFramer = new BodyFramer();
  readonly #responseFramer = new BodyFramer();
  readonly #sender = new RequestSender();
  #backend: Backend | null = null;
  /** Waiting for the next request head, with no exchange under way. */
  #idle = true;
  #closed = false;

  /**
   * Wraps an accepted client connection.
   *
   * @param host The front that accepted it.
   * @param conn The client connection.
   */
  constructor(host: SessionHost, conn: Deno.Conn) {
    this.#host = host;
    this.#client = new BufferedConn(conn, MAX_REQUEST_HEAD_BYTES);
    this.#clientName = conn.remoteAddr.transport === "tcp" ? conn.remoteAddr.hostname : "";
    setNoDelay(conn);
  }

  /**
   * Serves requests until either side closes; never rejects.
   *
   * @returns When the session is over and both connections are closed.
   */
  async run(): Promise<void> {
    try {
      while (await this.#serveNext());
    } catch (error) {
      if (!this.#closed && !isPeerFailure(error)) this.#host.reportError(error);
    } finally {
      this.close();
    }
  }

  /** Closes the backend connection if no exchange is using it. */
  dropIdleBackend(): void {
    if (this.#idle) this.#dropBackend();
  }

  /** Closes both connections; pending reads and writes then fail. */
  close(): void {
    this.#closed = true;
    this.#client.close();
    this.#dropBackend();
  }

  /** Reads and forwards one request; returns whether to go on. */
  async #serveNext(): Promise<boolean> {
    const client = this.#client;
    // A pipelined head may be buffered already: look before reading.
    let headEnd = skipEmptyLines(client) ? findHeadEnd(client.buf, client.start, client.end) : -1;
    if (headEnd === -1) {
      this.#idle = true;
      headEnd = await this.#readRequestHead();
      this.#idle = false;
    }
    if (headEnd === END_OF_STREAM || this.#closed) return false;
    if (headEnd === HEAD_TOO_LARGE) {
      return await this.#refuse(null, 431, "Request header fields too large");
    }
    let head: RequestHead;
    try {
      head = parseRequestHead(client.buf, client.start, headEnd);
    } catch (error) {
      if (error instanceof MalformedMessageError) {
        return await this.#refuse(null, 400, error.message);
      }
      throw error;
    }
    const refusal = this.#host.screen?.(head);
    if (refusal !== undefined) return await this.#answerRefused(head, headEnd, refusal);
    const exchange = this.#beginExchange(head, headEnd);
    if (exchange === null) return await this.#refuse(head, 400, "Bad chunked body");
    return await this.#exchange(exchange);
  }

  /** Reads up to the end of a head, skipping empty lines before it (RFC 9112 §2.2). */
  async #readRequestHead(): Promise<number> {
    const client = this.#client;
    while (!skipEmptyLines(client)) {
      if (!(await client.fill())) return END_OF_STREAM;
    }
    return await readHead(client, MAX_REQUEST_HEAD_BYTES);
  }

  /** Forwards one request and its response; returns whether to go on. */
  async #exchange(exchange: Exchange): Promise<boolean> {
    try {
      return await this.#forward(exchange);
    } finally {
      exchange.responded(); // no final response came
    }
  }

  async #forward(exchange: Exchange): Promise<boolean> {
    const generation = this.#host.generation;
    const route = this.#host.route(exchange.head.target);
    const current = this.#backend;
    let backend = route.kind === "forward" && current !== null && leadsTo(current, route.backend)
      ? current
      : await this.#acquireBackend(exchange, route, generation);
    for (let attempt = 1;; attempt++) {
      if (backend === SESSION_CLOSED) {
        await exchange.pump;
        return false;
      }
      if (backend === HOLD_TIMED_OUT) {
        const text = holdTimeoutText(this.#host.holdTimeoutMs);
        return await this.#refuse(exchange.head, 503, text, exchange);
      }
      if (typeof backend === "string") {
        return await this.#refuse(exchange.head, 503, `${backend}\n`, exchange);
      }
      await this.#send(exchange, backend);
      const outcome = await this.#relayResponse(exchange, backend);
      if (outcome === Outcome.keepAlive && exchange.pump === null) {
        this.#report(exchange); // the common case, settled without more awaits
        return true;
      }
      if (outcome !== Outcome.noResponse) return await this.#endExchange(exchange, outcome);
      this.#dropBackend();
      if (!this.#mayResend(exchange, backend, attempt)) {
        return await this.#endExchange(exchange, Outcome.badGateway);
      }
      backend = await this.#acquireBackend(exchange, null, this.#host.generation);
    }
  }

  /**
   * Takes the body bytes that came with the head and prepares the sender.
   * Returns `null` when those bytes already show a broken chunked body.
   */
  #beginExchange(head: RequestHead, headEnd: number): Exchange | null {
    const client = this.#client;
    const rewriter = this.#host.rewriter;
    const rewriteHead = rewriter !== undefined && rewriter.wantsRequest(head)
      ? client.buf.slice(client.start, headEnd)
      : null;
    const framer = this.#requestFramer;
    framer.reset(head.bodyKind, head.contentLength);
    let bodyBytes: number;
    try {
      bodyBytes = framer.take(client.buf, headEnd, client.end);
    } catch (error) {
      if (error instanceof MalformedMessageError) return null;
      throw error;
    }
    const wholeRequestBuffered = framer.done;
    // The bytes stay in the client buffer until the next read, which only
    // the body pump does: copy them when a pump will run.
    this.#sender.begin(
      client.buf.subarray(client.start, headEnd + bodyBytes),
      !wholeRequestBuffered,
    );
    client.start = headEnd + bodyBytes;
    return {
      head,
      startedAt: performance.now(),
      wholeRequestBuffered,
      holdDeadline: 0,
      pump: null,
      pumpError: undefined,
      answered: false,
      sawInterim: false,
      status: 0,
      watchingClient: false,
      rewriteHead,
      responded: this.#host.requestStarted(head.target),
    };
  }

  /** Sends the request (what is kept of it) and starts pumping the rest of the body. */
  async #send(exchange: Exchange, backend: Backend): Promise<void> {
    if (exchange.wholeRequestBuffered) return await this.#sender.sendWhole(backend.reader.conn);
    await this.#sender.sendTo(backend.reader.conn);
    exchange.pump ??= this.#pumpBody(exchange);
  }

  /**
   * Resend only when that is safe and useful: the whole request is kept,
   * and either the connection was reused (the app may have closed it while
   * idle) or the route moved on since (the app was being replaced).
   */
  #mayResend(exchange: Exchange, backend: Backend, attempt: number): boolean {
    if (this.#closed || exchange.pumpError !== undefined || attempt >= MAX_ATTEMPTS) return false;
    if (!this.#sender.canResend) return false;
    if (backend.exchanges > 0) return true;
    const route = this.#host.route(exchange.head.target);
    return route.kind !== "forward" || !leadsTo(backend, route.backend);
  }

  /**
   * Finds the backend for a request, holding it while there is none.
   *
   * @param route The route already asked for, or `null` to ask now.
   * @param generation The change count from before `route` was asked.
   */
  async #acquireBackend(
    exchange: Exchange,
    route: Route | null,
    generation: number,
  ): Promise<Backend | typeof HOLD_TIMED_OUT | typeof SESSION_CLOSED | string> {
    for (;;) {
      if (this.#closed || this.#host.closed) return SESSION_CLOSED;
      route ??= this.#host.route(exchange.head.target);
      if (route.kind === "unavailable") return route.message;
      if (route.kind === "forward") {
        const backend = await this.#connectTo(route.backend);
        if (backend !== null) return backend;
        if (this.#closed) return SESSION_CLOSED;
        // Refused: the app just died or is not listening yet. Like a hold.
      }
      if (!(await this.#hold(exchange, generation))) return HOLD_TIMED_OUT;
      generation = this.#host.generation;
      route = null;
    }
  }

  /** Waits for a change; returns `false` when the hold deadline has passed. */
  async #hold(exchange: Exchange, generation: number): Promise<boolean> {
    const now = performance.now();
    if (exchange.holdDeadline === 0) exchange.holdDeadline = now + this.#host.holdTimeoutMs;
    const remaining = exchange.holdDeadline - now;
    if (remaining <= 0) return false;
    await this.#host.waitForChange(generation, remaining);
    return true;
  }

  /** Reuses the backend connection when it leads there, else opens one. */
  async #connectTo(address: BackendAddress): Promise<Backend | null> {
    const current = this.#backend;
    if (current !== null && leadsTo(current, address)) return current;
    this.#dropBackend();
    let conn: Deno.Conn;
    try {
      if ("path" in address) {
        conn = await Deno.connect({ transport: "unix", path: address.path });
      } else {
        const tcp = await Deno.connect({ hostname: address.hostname, port: address.port });
        tcp.setNoDelay(true);
        conn = tcp;
      }
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) throw error;
      return null;
    }
    if (this.#closed) {
      conn.close();
      return null;
    }
    const reader = new BufferedConn(conn, MAX_RESPONSE_HEAD_BYTES);
    this.#backend = { reader, address, exchanges: 0 };
    return this.#backend;
  }

  #dropBackend(): void {
    this.#backend?.reader.close();
    this.#backend = null;
  }

  /** Reads the rest of the request body from the client and sends it on. */
  #pumpBody(exchange: Exchange): Promise<void> {
    return this.#pumpBodyPieces().catch((error: unknown) => {
      exchange.pumpError = error;
      // The client side broke: the backend would wait for the rest forever.
      if (!(error instanceof BackendGoneError)) this.#dropBackend();
    });
  }

  async #pumpBodyPieces(): Promise<void> {
    const client = this.#client;
    const framer = this.#requestFramer;
    while (!framer.done) {
      if (!(await client.fill())) throw new Deno.errors.UnexpectedEof("The client closed mid-body");
      const count = framer.take(client.buf, client.start, client.end);
      const piece = client.buf.subarray(client.start, client.start + count);
      client.start += count;
      await this.#sender.push(piece);
    }
  }

  /** Forwards interim responses, then the final one, to the client. */
  async #relayResponse(exchange: Exchange, backend: Backend): Promise<Outcome> {
    const reader = backend.reader;
    const receivedBefore = reader.received;
    for (;;) {
      let headEnd: number;
      try {
        headEnd = await readHead(reader, MAX_RESPONSE_HEAD_BYTES);
      } catch {
        headEnd = END_OF_STREAM; // a failing backend is one that closed
      }
      if (headEnd === END_OF_STREAM && reader.received === receivedBefore) {
        return Outcome.noResponse;
      }
      this.#sender.stopKeeping();
      if (headEnd < 0) return Outcome.badGateway;
      let response: ResponseHead;
      try {
        response = parseResponseHead(reader.buf, reader.start, headEnd);
      } catch (error) {
        if (error instanceof MalformedMessageError) return Outcome.badGateway;
        throw error;
      }
      if (response.status >= 200 || response.status === 101) {
        return await this.#relayFinalResponse(exchange, backend, response, headEnd);
      }
      exchange.answered = true;
      await writeAll(this.#client.conn, reader.buf.subarray(reader.start, headEnd));
      reader.start = headEnd;
      exchange.sawInterim = true;
    }
  }

  async #relayFinalResponse(
    exchange: Exchange,
    backend: Backend,
    response: ResponseHead,
    headEnd: number,
  ): Promise<Outcome> {
    const method = exchange.head.method;
    exchange.status = response.status;
    exchange.responded();
    if (response.status === 101 || (method === "CONNECT" && response.status < 300)) {
      this.#report(exchange);
      return await this.#tunnel(exchange, backend);
    }
    const kind = responseBodyKind(response, method);
    if (exchange.rewriteHead !== null && mayRewrite(response.status)) {
      const rewritten = await this.#rewrite(exchange, backend, response, headEnd, kind);
      if (rewritten !== null) return rewritten;
    }
    if (kind === "close") {
      // Only the close ends this body: nothing else can follow either way.
      const outcome = await this.#tunnel(exchange, backend);
      this.#report(exchange);
      return outcome;
    }
    try {
      await this.#relayBody(exchange, backend.reader, headEnd, kind, response.contentLength);
    } catch (error) {
      // Broken chunked framing from the app: still ours to answer if nothing left yet.
      if (error instanceof MalformedMessageError && !exchange.answered) return Outcome.badGateway;
      throw error;
    }
    const persists = !exchange.head.close && !response.close;
    if (persists && backend.reader.buffered === 0 && !this.#sender.failed) backend.exchanges++;
    else if (this.#backend === backend) this.#dropBackend();
    return persists ? Outcome.keepAlive : Outcome.close;
  }

  /** Writes the head and the body, as they arrive, to the client. */
  async #relayBody(
    exchange: Exchange,
    reader: BufferedConn,
    headEnd: number,
    kind: BodyKind,
    length: number,
  ): Promise<void> {
    const framer = this.#responseFramer;
    framer.reset(kind, length);
    let from = reader.start;
    reader.start = headEnd;
    for (;;) {
      reader.start += framer.take(reader.buf, reader.start, reader.end);
      // Head and body leave in one write when they arrived together.
      if (reader.start > from) {
        exchange.answered = true;
        await writeAll(this.#client.conn, reader.buf.subarray(from, reader.start));
      }
      if (framer.done) return;
      this.#watchForClientClose(exchange);
      if (!(await reader.fillOrEnd())) {
        throw new Deno.errors.UnexpectedEof("The app closed mid-response");
      }
      from = reader.start;
    }
  }

  /**
   * Hands a response to the rewriter, when its head says the rewriter wants
   * it, and writes what comes back.
   *
   * @returns The outcome, or `null` when the response is not for the
   *   rewriter (then nothing was consumed and it is forwarded as it came).
   */
  async #rewrite(
    exchange: Exchange,
    backend: Backend,
    response: ResponseHead,
    headEnd: number,
    kind: BodyKind,
  ): Promise<Outcome | null> {
    const parts = this.#takeApart(exchange, backend, response, headEnd, kind);
    if (parts === null) return null;
    let rewritten: Response;
    try {
      rewritten = await this.#host.rewriter!.rewrite(parts.request, parts.response);
    } catch (error) {
      // The app's body broke off or was badly framed while the rewriter read it.
      if (error instanceof Deno.errors.UnexpectedEof || error instanceof MalformedMessageError) {
        return Outcome.badGateway;
      }
      throw error;
    }
    exchange.status = rewritten.status;
    const written = await writeResponse(this.#client.conn, rewritten, {
      headRequest: exchange.head.method === "HEAD",
      http11: exchange.head.http11,
      keepAlive: !exchange.head.close,
    });
    if (written === "unsent") return Outcome.badGateway;
    exchange.answered = true;
    // A body the rewriter left unread leaves the backend connection out of step.
    const persists = !exchange.head.close && !response.close && kind !== "close";
    if (persists && parts.complete() && backend.reader.buffered === 0 && !this.#sender.failed) {
      backend.exchanges++;
    } else if (this.#backend === backend) this.#dropBackend();
    return written === "keep-alive" ? Outcome.keepAlive : Outcome.close;
  }

  /**
   * Makes a `Request` of the kept request head and a `Response` of the
   * backend's head, whose body streams the content (chunked framing
   * undone) from the backend connection, when the rewriter wants them.
   *
   * @returns The two, and whether the body was read to its end; `null`
   *   when the rewriter does not want the response or no `Request` can be
   *   made (then nothing was consumed).
   */
  #takeApart(
    exchange: Exchange,
    backend: Backend,
    response: ResponseHead,
    headEnd: number,
    kind: BodyKind,
  ): { request: Request; response: Response; complete: () => boolean } | null {
    const reader = backend.reader;
    const { firstLine, fields } = parseFieldLines(reader.buf, reader.start, headEnd);
    const headers = new Headers();
    for (const [name, value] of fields) {
      if (!isHopByHop(name.toLowerCase())) headers.append(name, value);
    }
    if (!this.#host.rewriter!.wantsResponse(response.status, headers)) return null;
    const request = this.#rewriteRequest(exchange);
    if (request === null) return null;
    reader.start = headEnd;
    const content = kind === "none"
      ? { stream: null, complete: () => true }
      : this.#contentStream(exchange, backend, kind, response.contentLength);
    const original = new Response(content.stream, {
      status: response.status,
      statusText: firstLine.slice("HTTP/1.1 200 ".length),
      headers,
    });
    return { request, response: original, complete: content.complete };
  }

  /**
   * The request a rewriter gets: the method, a URL from the scheme, `Host`
   * and target (an absolute-form target as it is), and every header field.
   * No body: the request's body went to the backend.
   *
   * @returns The request, or `null` when no URL can be made of it (no
   *   `Host`, or one that does not parse) or the method is one a `Request`
   *   refuses (`CONNECT`, `TRACE`).
   */
  #rewriteRequest(exchange: Exchange): Request | null {
    const head = exchange.head;
    const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(head.target);
    if (!absolute && (head.host === null || !head.target.startsWith("/"))) return null;
    const url = URL.parse(
      absolute ? head.target : `${this.#host.scheme}://${head.host}${head.target}`,
    );
    if (url === null) return null;
    const bytes = exchange.rewriteHead!;
    const headers = new Headers();
    for (const [name, value] of parseFieldLines(bytes, 0, bytes.length).fields) {
      headers.append(name, value);
    }
    try {
      return new Request(url, { method: head.method, headers });
    } catch (error) {
      if (error instanceof TypeError) return null;
      throw error;
    }
  }

  /**
   * The content of a response body as a stream, read from the backend
   * connection as the consumer asks for it, with its own framer (a stream
   * left unread must not disturb the next exchange's). Cancelling it, like
   * failing to read it to the end, drops the backend connection.
   *
   * @returns The stream, and whether it was read to the end of the body.
   */
  #contentStream(
    exchange: Exchange,
    backend: Backend,
    kind: BodyKind,
    length: number,
  ): { stream: ReadableStream<Uint8Array>; complete: () => boolean } {
    const reader = backend.reader;
    const framer = new BodyFramer();
    framer.reset(kind, length);
    let complete = false;
    const pull = async (controller: ReadableStreamDefaultController<Uint8Array>) => {
      for (;;) {
        const buf = reader.buf;
        let pieces = 0;
        reader.start += framer.take(buf, reader.start, reader.end, (from, to) => {
          controller.enqueue(buf.slice(from, to));
          pieces++;
        });
        if (framer.done) {
          complete = true;
          return controller.close();
        }
        if (pieces > 0) return;
        this.#watchForClientClose(exchange);
        if (!(await reader.fillOrEnd())) {
          if (kind !== "close") throw new Deno.errors.UnexpectedEof("The app closed mid-response");
          complete = true;
          return controller.close();
        }
      }
    };
    const cancel = () => {
      if (this.#backend === backend) this.#dropBackend();
    };
    const stream = new ReadableStream<Uint8Array>({ pull, cancel }, { highWaterMark: 0 });
    return { stream, complete: () => complete };
  }

  /**
   * While a response streams (server-sent events, a long download), the
   * client may hang up without the app writing anything that would notice.
   * So the client connection is read meanwhile: its end closes the backend
   * connection, which the app sees at once (its stream is cancelled, the
   * request's signal aborts), as it would without the parent. Bytes that
   * arrive instead (a pipelined request) stay buffered for the next
   * exchange, which shares the read. Only once the request body is in: the
   * pump reads the client until then.
   */
  #watchForClientClose(exchange: Exchange): void {
    if (exchange.watchingClient || exchange.pump !== null) return;
    exchange.watchingClient = true;
    const backend = this.#backend;
    const hungUp = () => {
      if (this.#backend === backend) this.#dropBackend();
    };
    this.#client.fill().then((more) => more || hungUp(), hungUp);
  }

  /**
   * Blind two-way copying after a 101 (or a body only the close ends):
   * the bytes already buffered on each side go first, the response head
   * included, and either side closing closes the other.
   */
  async #tunnel(exchange: Exchange, backend: Backend): Promise<Outcome> {
    exchange.answered = true;
    const closeBoth = () => this.close();
    const down = pipe(backend.reader, this.#client.conn).then(closeBoth);
    // The client's bytes go up blindly only once its request body is through.
    await exchange.pump;
    const up = pipe(this.#client, backend.reader.conn).then(closeBoth);
    await Promise.all([down, up]);
    return Outcome.tunnelled;
  }

  /** Settles the exchange after its final response; returns whether to go on. */
  async #endExchange(exchange: Exchange, outcome: Outcome): Promise<boolean> {
    if (outcome === Outcome.tunnelled || this.#closed) {
      await exchange.pump;
      return false;
    }
    if (outcome === Outcome.badGateway || outcome === Outcome.noResponse) {
      return await this.#failExchange(exchange);
    }
    this.#report(exchange);
    const bodyComplete = await this.#settlePump(exchange);
    if (outcome === Outcome.close || !bodyComplete) {
      await closeGracefully(this.#client, LINGER_MS);
      return false;
    }
    return true;
  }

  /** The backend gave no usable response: answer for it when still possible. */
  async #failExchange(exchange: Exchange): Promise<boolean> {
    this.#dropBackend();
    await exchange.pump;
    if (exchange.answered) return false;
    if (exchange.pumpError instanceof MalformedMessageError) {
      return await this.#refuse(exchange.head, 400, exchange.pumpError.message, exchange);
    }
    if (exchange.pumpError !== undefined) return false; // the client broke off
    return await this.#refuse(exchange.head, 502, BAD_GATEWAY_TEXT, exchange);
  }

  /**
   * Waits for the rest of the request body after the response is done.
   * Returns whether the client's stream is still in step (the whole body
   * was read), which a next request needs.
   */
  async #settlePump(exchange: Exchange): Promise<boolean> {
    if (exchange.pump === null) return true;
    // A client that asked "may I send?" and got a final answer instead may
    // never send the body: do not wait for it.
    if (exchange.head.expectContinue && !exchange.sawInterim && !this.#requestFramer.done) {
      // The backend gets no body now, and end-of-stream tells the client
      // that none is wanted; the pump ends as the client closes.
      this.#dropBackend();
      await this.#client.conn.closeWrite().catch(ignore);
      const timer = setTimeout(() => this.close(), LINGER_MS);
      await exchange.pump;
      clearTimeout(timer);
      return false;
    }
    await exchange.pump;
    return exchange.pumpError === undefined;
  }

  /**
   * Answers a request the screen refused; it never reaches a backend. The
   * connection stays open for the next request when the refused request's
   * body can be read and dropped: none, or a `Content-Length` of at most
   * {@linkcode DISCARD_LIMIT_BYTES} without `Expect: 100-continue`.
   * Otherwise (and when the client asked to close) the answer carries
   * `Connection: close` and the connection closes.
   */
  async #answerRefused(head: RequestHead, headEnd: number, refusal: Response): Promise<boolean> {
    const startedAt = performance.now();
    const droppable = head.bodyKind === "none" ||
      (head.bodyKind === "length" && head.contentLength <= DISCARD_LIMIT_BYTES &&
        !head.expectContinue);
    // A refusal is a line of text: sent whole, with its length.
    const body = await refusal.bytes();
    const headers = new Headers(refusal.headers);
    headers.set("content-length", String(body.length));
    const response = new Response(body, { status: refusal.status, headers });
    const written = await writeResponse(this.#client.conn, response, {
      headRequest: head.method === "HEAD",
      http11: head.http11,
      keepAlive: !head.close && droppable,
    });
    this.#report({ head, startedAt, status: response.status });
    if (written === "keep-alive" && (await this.#dropBody(head, headEnd))) return true;
    await closeGracefully(this.#client, LINGER_MS);
    return false;
  }

  /** Reads a request's body and drops it; returns `false` when the client closed first. */
  async #dropBody(head: RequestHead, headEnd: number): Promise<boolean> {
    const client = this.#client;
    const framer = this.#requestFramer;
    framer.reset(head.bodyKind, head.contentLength);
    client.start = headEnd + framer.take(client.buf, headEnd, client.end);
    while (!framer.done) {
      if (!(await client.fill())) return false;
      client.start += framer.take(client.buf, client.start, client.end);
    }
    return true;
  }

  /** Answers from the front itself, then closes: the stream is out of step. */
  async #refuse(
    head: RequestHead | null,
    status: number,
    text: string,
    exchange?: Exchange,
  ): Promise<false> {
    const startedAt = exchange?.startedAt ?? performance.now();
    const withBody = head?.method !== "HEAD";
    await writeAll(this.#client.conn, cannedResponse(status, text, withBody));
    this.#report({ head, startedAt, status });
    await closeGracefully(this.#client, LINGER_MS);
    return false;
  }

  #report(exchange: { head: RequestHead | null; startedAt: number; status: number }): void {
    this.#host.countExchange();
    const onAccess = this.#host.onAccess;
    if (onAccess === undefined) return;
    const ms = Math.round((performance.now() - exchange.startedAt) * 10) / 10;
    onAccess({
      client: this.#clientName,
      method: exchange.head?.method ?? "-",
      target: exchange.head?.target ?? "-",
      status: exchange.status,
      ms,
    });
  }
}

function ignore(): void {}

/**
 * Final statuses whose responses a rewriter is offered: 200 to 599 except
 * those that never have content (204, 205, 304), which a `Response` with a
 * body cannot even carry.
 */
function mayRewrite(status: number): boolean {
  return status >= 200 && status <= 599 && status !== 204 && status !== 205 && status !== 304;
}

function leadsTo(backend: Backend, address: BackendAddress): boolean {
  const current = backend.address;
  if ("path" in current || "path" in address) {
    return "path" in current && "path" in address && current.path === address.path;
  }
  return current.port === address.port && current.hostname === address.hostname;
}

/**
 * Drops empty lines before a request-line, which RFC 9112 §2.2 says to
 * ignore (some clients send a CRLF after a body).
 *
 * @returns Whether bytes of a request-line are buffered.
 */
function skipEmptyLines(client: BufferedConn): boolean {
  const buf = client.buf;
  while (client.start < client.end && (buf[client.start] === 0x0a || buf[client.start] === 0x0d)) {
    client.start++;
  }
  return client.start < client.end;
}

function setNoDelay(conn: Deno.Conn): void {
  // Heads and bodies often leave in separate writes: never let Nagle's
  // algorithm hold the second one back.
  if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
}

/** Errors that only mean a peer went away or sent garbage. */
function isPeerFailure(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.TimedOut ||
    error instanceof Deno.errors.InvalidData ||
    error instanceof MalformedMessageError;
}

const BAD_GATEWAY_TEXT = "The app closed the connection without a complete response";

function holdTimeoutText(holdTimeoutMs: number): string {
  return `The app did not come up in time (waited ${
    holdTimeoutMs / 1000
  } s); see the devsrv terminal for why`;
}

function cannedResponse(status: number, text: string, withBody: boolean): Uint8Array {
  const reason = reasonPhrase(status);
  const body = `${status} ${reason}: ${text}\n`;
  const head = `HTTP/1.1 ${status} ${reason}\r\n` +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\n` +
    "Connection: close\r\n\r\n";
  return new TextEncoder().encode(withBody ? head + body : head);
}
