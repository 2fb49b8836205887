/**
 * Test helper: send HTTP/1.x requests as raw bytes over a TCP or TLS
 * socket and read the responses back, so that tests can send what `fetch`
 * refuses to (a Host with userinfo or spaces, no Host at all, two Host
 * fields, an absolute-form target, pipelined requests).
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
const READ_CHUNK = 16 * 1024;

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
    } catch {
      n = null; // reset by peer counts as the end
    }
    if (n === null) {
      this.#ended = true;
      return false;
    }
    for (let i = 0; i < n; i++) this.#buffer += String.fromCharCode(chunk[i]!);
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
      await reader.until("\r\n"); // the empty trailer section
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
