/**
 * One client connection of the front: read a request head, ask where it
 * goes, forward the request, forward the response, and again, until either
 * side closes. Each client connection holds at most one backend connection
 * and keeps it while the route stays the same.
 *
 * How far each exchange has come is named in `_exchange_state.ts`; the
 * backend connection and the holds are `_backend_slot.ts`'s; reading
 * requests off the client is `_request_reader.ts`'s; what a rewriter gets
 * is made in `_rewriter_parts.ts`; the front's own answers are in
 * `_canned_response.ts`.
 *
 * @module
 */

import {
  type Backend,
  BackendSlot,
  HOLD_TIMED_OUT,
  leadsTo,
  MAX_RESPONSE_HEAD_BYTES,
  type RouteSource,
  SESSION_CLOSED,
} from "./_backend_slot.ts";
import {
  BufferedConn,
  closeGracefully,
  END_OF_STREAM,
  HEAD_TOO_LARGE,
  pipe,
  readHead,
  writeAll,
} from "./_buffered_conn.ts";
import {
  BAD_GATEWAY_TEXT,
  cannedResponse,
  droppableBody,
  holdTimeoutText,
} from "./_canned_response.ts";
import {
  type BodyState,
  type ExchangeEvent,
  type ExchangeState,
  FIRST_EXCHANGE_STATE,
  firstBodyState,
  nextBodyState,
  nextExchangeState,
  pumped,
  unanswered,
} from "./_exchange_state.ts";
import { dropBody, pumpBody, readRequestHead, skipEmptyLines } from "./_request_reader.ts";
import { BackendGoneError, RequestSender } from "./_request_sender.ts";
import { writeResponse } from "./_response_writer.ts";
import {
  contentStream,
  type ContentStreamHooks,
  mayRewrite,
  responseFields,
  rewriterRequest,
} from "./_rewriter_parts.ts";
import type { AccessEntry, ResponseRewriter } from "./_types.ts";
import {
  BodyFramer,
  type BodyKind,
  findHeadEnd,
  MalformedMessageError,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  responseBodyKind,
  type ResponseHead,
} from "./http1.ts";

/** The largest request head accepted (RFC 9110 suggests at least 8 KiB). */
export const MAX_REQUEST_HEAD_BYTES = 64 * 1024;
/** One request is sent at most this often: the first time and two resends. */
const MAX_ATTEMPTS = 3;
/** How long a closing connection waits for its client to close first. */
const LINGER_MS = 2000;

/** What a session needs from the front that owns it. */
export interface SessionHost extends RouteSource {
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

/** One request while it is forwarded, and how far it has come. */
interface Exchange {
  readonly head: RequestHead;
  readonly startedAt: number;
  /** How far the response has gone to the client. */
  state: ExchangeState;
  /** How the request body goes to the backend, and who reads the client meanwhile. */
  body: BodyState;
  /** When a held request gives up; 0 until it is first held. */
  holdDeadline: number;
  /** The task reading the rest of the body from the client, once started. */
  pump: Promise<void> | null;
  /** Why the pump stopped early, if it did. */
  pumpError: unknown;
  /** The final status, for the access log. */
  status: number;
  /** A copy of the request head, kept only when the rewriter may want its response. */
  readonly rewriteHead: Uint8Array | null;
  /** Tells the host that the final response head is here (or will not come); idempotent. */
  responded: () => void;
}

/** Moves an exchange on: both its response and its request body. */
function advance(exchange: Exchange, event: ExchangeEvent): void {
  exchange.state = nextExchangeState(exchange.state, event);
  exchange.body = nextBodyState(exchange.body, event);
}

/** Forwards the requests of one client connection. */
export class ClientSession {
  readonly #host: SessionHost;
  readonly #client: BufferedConn;
  readonly #clientName: string;
  readonly #requestFramer = new BodyFramer();
  readonly #responseFramer = new BodyFramer();
  readonly #sender = new RequestSender();
  readonly #backends: BackendSlot;
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
    this.#backends = new BackendSlot(host);
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
    if (this.#idle) this.#backends.drop();
  }

  /** Closes both connections; pending reads and writes then fail. */
  close(): void {
    this.#closed = true;
    this.#client.close();
    this.#backends.close();
  }

  /** Reads and forwards one request; returns whether to go on. */
  async #serveNext(): Promise<boolean> {
    const client = this.#client;
    // A pipelined head may be buffered already: look before reading.
    let headEnd = skipEmptyLines(client) ? findHeadEnd(client.buf, client.start, client.end) : -1;
    if (headEnd === -1) {
      this.#idle = true;
      headEnd = await readRequestHead(client, MAX_REQUEST_HEAD_BYTES);
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
    const current = this.#backends.current;
    let backend = route.kind === "forward" && current !== null && leadsTo(current, route.backend)
      ? current
      : await this.#backends.acquire(exchange, route, generation);
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
      this.#backends.drop();
      if (!this.#mayResend(exchange, backend, attempt)) {
        return await this.#endExchange(exchange, Outcome.badGateway);
      }
      backend = await this.#backends.acquire(exchange, null, this.#host.generation);
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
      state: FIRST_EXCHANGE_STATE,
      body: firstBodyState(wholeRequestBuffered, head.expectContinue),
      holdDeadline: 0,
      pump: null,
      pumpError: undefined,
      status: 0,
      rewriteHead,
      responded: this.#host.requestStarted(head.target),
    };
  }

  /** Sends the request (what is kept of it) and starts pumping the rest of the body. */
  async #send(exchange: Exchange, backend: Backend): Promise<void> {
    if (!pumped(exchange.body)) return await this.#sender.sendWhole(backend.reader.conn);
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

  /** Reads the rest of the request body from the client and sends it on. */
  #pumpBody(exchange: Exchange): Promise<void> {
    return pumpBody(this.#client, this.#requestFramer, this.#sender).catch((error: unknown) => {
      exchange.pumpError = error;
      // The client side broke: the backend would wait for the rest forever.
      if (!(error instanceof BackendGoneError)) this.#backends.drop();
    });
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
      advance(exchange, "interim");
      await writeAll(this.#client.conn, reader.buf.subarray(reader.start, headEnd));
      reader.start = headEnd;
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
      if (error instanceof MalformedMessageError && unanswered(exchange.state)) {
        return Outcome.badGateway;
      }
      throw error;
    }
    const persists = !exchange.head.close && !response.close;
    if (persists && backend.reader.buffered === 0 && !this.#sender.failed) backend.exchanges++;
    else this.#backends.dropIfCurrent(backend);
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
        advance(exchange, "final");
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
    advance(exchange, "final");
    // A body the rewriter left unread leaves the backend connection out of step.
    const persists = !exchange.head.close && !response.close && kind !== "close";
    if (persists && parts.complete() && backend.reader.buffered === 0 && !this.#sender.failed) {
      backend.exchanges++;
    } else this.#backends.dropIfCurrent(backend);
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
    const { reason, headers } = responseFields(reader, headEnd);
    if (!this.#host.rewriter!.wantsResponse(response.status, headers)) return null;
    const request = rewriterRequest(exchange.head, exchange.rewriteHead!, this.#host.scheme);
    if (request === null) return null;
    reader.start = headEnd;
    const content = kind === "none"
      ? { stream: null, complete: () => true }
      : contentStream(reader, kind, response.contentLength, this.#streamHooks(exchange, backend));
    const original = new Response(content.stream, {
      status: response.status,
      statusText: reason,
      headers,
    });
    return { request, response: original, complete: content.complete };
  }

  /**
   * A rewriter's content stream watches the client while it waits for the
   * app, and its cancel drops the backend connection (the body is left
   * unread: the connection is out of step).
   */
  #streamHooks(exchange: Exchange, backend: Backend): ContentStreamHooks {
    return {
      waiting: () => this.#watchForClientClose(exchange),
      cancelled: () => this.#backends.dropIfCurrent(backend),
    };
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
    const body = nextBodyState(exchange.body, "watch");
    if (body === exchange.body) return; // watched already, or a pump reads the client
    exchange.body = body;
    const backend = this.#backends.current;
    const hungUp = () => this.#backends.dropIfCurrent(backend);
    this.#client.fill().then((more) => more || hungUp(), hungUp);
  }

  /**
   * Blind two-way copying after a 101 (or a body only the close ends):
   * the bytes already buffered on each side go first, the response head
   * included, and either side closing closes the other.
   */
  async #tunnel(exchange: Exchange, backend: Backend): Promise<Outcome> {
    advance(exchange, "tunnel");
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
    this.#backends.drop();
    await exchange.pump;
    if (!unanswered(exchange.state)) return false;
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
    if (exchange.body === "awaitingContinue" && !this.#requestFramer.done) {
      // The backend gets no body now, and end-of-stream tells the client
      // that none is wanted; the pump ends as the client closes.
      this.#backends.drop();
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
   * body can be read and dropped (see `droppableBody()`). Otherwise (and
   * when the client asked to close) the answer carries `Connection: close`
   * and the connection closes.
   */
  async #answerRefused(head: RequestHead, headEnd: number, refusal: Response): Promise<boolean> {
    const startedAt = performance.now();
    const droppable = droppableBody(head);
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
    if (
      written === "keep-alive" &&
      (await dropBody(this.#client, this.#requestFramer, head, headEnd))
    ) return true;
    await closeGracefully(this.#client, LINGER_MS);
    return false;
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
