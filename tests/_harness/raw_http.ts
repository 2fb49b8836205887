/**
 * Test helper: send HTTP/1.x requests as raw bytes over a TCP or TLS
 * socket and read the responses back, so that tests can send what `fetch`
 * refuses to (a Host with userinfo or spaces, no Host at all, two Host
 * fields, an absolute-form target, pipelined requests), or hold one
 * connection open and send and read on it step by step ({@linkcode RawClient}).
 * Bodies are read by their framing, independently of devsrv's own parser.
 *
 * @module
 */

/** A response as read off the socket. */
export interface RawResponse {
  /** The status line, e.g. `HTTP/1.1 403 Forbidden`. */
  statusLine: string;
  status: number;
  /** Field names in lower case; repeated fields joined with ", ". */
  headers: Map<string, string>;
  /** The raw head, for failure messages and header-presence checks. */
  head: string;
  body: string;
}

/** How long one exchange may take before the test fails. */
const EXCHANGE_TIMEOUT_MS = 15_000;
const HEAD_END = "\r\n\r\n";
const READ_CHUNK = 64 * 1024;
/** Bytes turned into characters per call: few enough for the argument list. */
const LATIN1_SLICE = 8 * 1024;

const encoder = new TextEncoder();

/** Reads a socket into a growing latin1 string; one byte, one character. */
class SocketReader {
  #conn: Deno.Conn;
  #buffer = "";
  #ended = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Reads once more; `false` at the end of the stream. */
  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const chunk = new Uint8Array(READ_CHUNK);
    let n: number | null;
    try {
      n = await this.#conn.read(chunk);
    } catch (error) {
      // A reset, a TLS peer gone without close_notify, or a connection
      // closed under the read (by a deadline) counts as the end.
      if (
        !(error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.UnexpectedEof ||
          error instanceof Deno.errors.BadResource)
      ) throw error;
      n = null;
    }
    if (n === null) {
      this.#ended = true;
      return false;
    }
    for (let i = 0; i < n; i += LATIN1_SLICE) {
      this.#buffer += String.fromCharCode(...chunk.subarray(i, Math.min(i + LATIN1_SLICE, n)));
    }
    return true;
  }

  /** Takes text up to and including `marker`, or everything at the end. */
  async until(marker: string): Promise<string | undefined> {
    while (!this.#buffer.includes(marker)) {
      if (!await this.#fill()) return undefined;
    }
    const end = this.#buffer.indexOf(marker) + marker.length;
    const taken = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end);
    return taken;
  }

  /** Takes exactly `length` characters (fewer at the end of the stream). */
  async take(length: number): Promise<string> {
    while (this.#buffer.length < length && await this.#fill()) {
      // keep reading
    }
    const taken = this.#buffer.slice(0, length);
    this.#buffer = this.#buffer.slice(length);
    return taken;
  }

  /** Takes everything until the peer closes. */
  async rest(): Promise<string> {
    while (await this.#fill()) {
      // keep reading
    }
    const taken = this.#buffer;
    this.#buffer = "";
    return taken;
  }
}

function parseHead(head: string): Omit<RawResponse, "body"> {
  const [statusLine = "", ...lines] = head.slice(0, -HEAD_END.length).split("\r\n");
  const status = Number(statusLine.split(" ")[1]);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { statusLine, status, headers, head };
}

async function readChunked(reader: SocketReader): Promise<string> {
  let body = "";
  while (true) {
    const sizeLine = await reader.until("\r\n");
    if (sizeLine === undefined) return body;
    const size = parseInt(sizeLine, 16);
    if (!(size > 0)) {
      // The trailer section: field lines up to an empty one.
      for (let line = await reader.until("\r\n"); line !== undefined && line !== "\r\n";) {
        line = await reader.until("\r\n");
      }
      return body;
    }
    body += await reader.take(size);
    await reader.take(2);
  }
}

async function readResponse(
  reader: SocketReader,
  method: string,
): Promise<RawResponse | undefined> {
  const head = await reader.until(HEAD_END);
  if (head === undefined) return undefined;
  const parsed = parseHead(head);
  const { status, headers } = parsed;
  const bodiless = method === "HEAD" || status === 101 || status === 204 || status === 304 ||
    (status >= 100 && status < 200);
  let body = "";
  if (bodiless) body = "";
  else if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    body = await readChunked(reader);
  } else if (headers.has("content-length")) {
    body = await reader.take(Number(headers.get("content-length")));
  } else body = await reader.rest();
  return { ...parsed, body };
}

function methodOf(request: string): string {
  return request.slice(0, request.indexOf(" "));
}

/**
 * Sends raw requests on one connection and reads one response per request.
 * A request whose response never comes (the server closed) yields nothing,
 * so the result can be shorter than `requests`.
 *
 * @param connect Opens the connection (TCP or TLS).
 * @param requests Complete request texts, CRLFs included; sent at once, pipelined.
 * @returns The responses, in order.
 */
export async function exchange(
  connect: () => Promise<Deno.Conn>,
  requests: string[],
): Promise<RawResponse[]> {
  const conn = await connect();
  const timer = setTimeout(() => conn.close(), EXCHANGE_TIMEOUT_MS);
  const responses: RawResponse[] = [];
  try {
    await conn.write(encoder.encode(requests.join("")));
    const reader = new SocketReader(conn);
    for (const request of requests) {
      const response = await readResponse(reader, methodOf(request));
      if (!response) break;
      responses.push(response);
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  return responses;
}

/**
 * Sends one raw request and returns its response.
 *
 * @param connect Opens the connection.
 * @param request The request text.
 * @returns The response.
 * @throws {Error} When the server closes without answering.
 */
export async function sendRaw(
  connect: () => Promise<Deno.Conn>,
  request: string,
): Promise<RawResponse> {
  const [response] = await exchange(connect, [request]);
  if (!response) {
    throw new Error(`no response to ${JSON.stringify(request)}`);
  }
  return response;
}

/**
 * Builds a request text; a field listed twice is sent twice.
 *
 * @param requestLine E.g. `GET / HTTP/1.1`.
 * @param headers Field lines, in order.
 * @returns The request, ending with the empty line.
 */
export function rawRequest(
  requestLine: string,
  headers: [string, string][],
): string {
  const lines = headers.map(([name, value]) => `${name}: ${value}`);
  return [requestLine, ...lines, "", ""].join("\r\n");
}

/**
 * Opens plain TCP connections to a local port.
 *
 * @param port The port on 127.0.0.1.
 * @returns A connect function for {@linkcode exchange}.
 */
export function tcpTo(port: number): () => Promise<Deno.Conn> {
  return () => Deno.connect({ hostname: "127.0.0.1", port });
}

/**
 * Opens TLS connections to a local port, trusting `caCert`.
 *
 * @param port The port on 127.0.0.1.
 * @param caCert The PEM certificate to trust.
 * @returns A connect function for {@linkcode exchange}.
 */
export function tlsTo(port: number, caCert: string): () => Promise<Deno.Conn> {
  return () =>
    Deno.connectTls({
      hostname: "127.0.0.1",
      port,
      caCerts: [caCert],
      alpnProtocols: ["http/1.1"],
    });
}

/**
 * One connection held open, to send and read on step by step: a request,
 * its response, then the next, or bytes in pieces, or nothing until the
 * server closes.
 */
export class RawClient {
  /** The connection, for reads and writes of its own. */
  readonly conn: Deno.Conn;
  readonly #reader: SocketReader;

  /**
   * Wraps an open connection.
   *
   * @param conn The connection.
   */
  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.#reader = new SocketReader(conn);
  }

  /**
   * Opens a plain TCP connection to a local port.
   *
   * @param port The port on 127.0.0.1.
   * @returns The client.
   */
  static async connect(port: number): Promise<RawClient> {
    return new RawClient(await tcpTo(port)());
  }

  /**
   * Writes bytes, all of them.
   *
   * @param data Text (sent as UTF-8) or bytes.
   */
  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.conn.write(bytes));
  }

  /**
   * Reads one response.
   *
   * @param method The request's method: a `HEAD` response has no body.
   * @returns The response.
   * @throws {Error} When the server closes before a whole head.
   */
  async readResponse(method = "GET"): Promise<RawResponse> {
    const response = await readResponse(this.#reader, method);
    if (!response) throw new Error("Connection closed before a response head");
    return response;
  }

  /**
   * Reads until the server closes.
   *
   * @returns Everything not read yet, as latin1 text.
   */
  readToEnd(): Promise<string> {
    return this.#reader.rest();
  }

  /**
   * Waits for the server to close the connection, and fails when it sends
   * anything more first.
   */
  async expectClosed(): Promise<void> {
    const rest = await this.readToEnd();
    if (rest !== "") {
      throw new Error(`Expected the connection to close, got ${JSON.stringify(rest)}`);
    }
  }

  /** Closes the connection; closing twice is harmless. */
  close(): void {
    try {
      this.conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error; // closed already
    }
  }
}

/**
 * Sends one request and reads every byte until the server closes the
 * connection, or fails the wait after the exchange deadline.
 *
 * @param connect Opens the connection.
 * @param request The request text, sent as latin1 (one character, one byte).
 * @returns Everything the server sent, as latin1 text.
 */
export async function readUntilClosed(
  connect: () => Promise<Deno.Conn>,
  request: string,
): Promise<string> {
  const client = new RawClient(await connect());
  const timer = setTimeout(() => client.close(), EXCHANGE_TIMEOUT_MS);
  try {
    await client.send(Uint8Array.from(request, (char) => char.charCodeAt(0)));
    return await client.readToEnd();
  } finally {
    clearTimeout(timer);
    client.close();
  }
}
