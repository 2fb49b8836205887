/**
 * A small HTTP/1.1 load generator over raw keep-alive TCP connections, so
 * that the client costs little next to the servers it measures.
 *
 * @module
 */

const encoder = new TextEncoder();
/** How long past its end a load may run before its connections are closed under it. */
const GRACE_MS = 10_000;

/** Closes a connection that may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (error) {
    // closed already (by the other side of a timeout)
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** Requests per second and per-request latencies. */
export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  rps: number;
}

function contentLength(head: string): number {
  const match = head.match(/\r\ncontent-length:\s*(\d+)/i);
  return match ? Number(match[1]) : 0;
}

/** Reads one response (Content-Length framed) from a connection. */
async function readResponse(
  conn: Deno.Conn,
  buffer: Uint8Array,
  carry: { bytes: Uint8Array },
): Promise<number> {
  let data = carry.bytes;
  const decoder = new TextDecoder();
  while (true) {
    const text = decoder.decode(data);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const total = end + 4 + contentLength(text.slice(0, end + 4));
      if (data.length >= total) {
        carry.bytes = data.slice(total);
        return Number(text.slice(9, 12));
      }
    }
    const n = await conn.read(buffer);
    if (n === null) throw new Error("connection closed");
    const next = new Uint8Array(data.length + n);
    next.set(data);
    next.set(buffer.subarray(0, n), data.length);
    data = next;
  }
}

/**
 * Sends requests on `connections` keep-alive connections for `seconds`.
 *
 * @param port Target port on 127.0.0.1.
 * @param connections Concurrent connections.
 * @param seconds Duration.
 * @returns The counts.
 */
export async function runLoad(
  port: number,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const request = encoder.encode(`GET / HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`);
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const open = new Set<Deno.Conn>();
  // A server that stops answering must not hang the bench: its connections are closed.
  const stuck = setTimeout(
    () => open.forEach((conn) => closeQuietly(conn)),
    seconds * 1000 + GRACE_MS,
  );
  await Promise.all(Array.from({ length: connections }, async () => {
    const buffer = new Uint8Array(64 * 1024);
    while (performance.now() < deadline) {
      let conn: Deno.Conn | undefined;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
        open.add(conn);
        const carry = { bytes: new Uint8Array(0) };
        while (performance.now() < deadline) {
          await conn.write(request);
          const status = await readResponse(conn, buffer, carry);
          if (status === 200) requests++;
          else errors++;
        }
      } catch {
        errors++;
      } finally {
        if (conn) {
          open.delete(conn);
          closeQuietly(conn);
        }
      }
    }
  }));
  clearTimeout(stuck);
  const elapsed = (performance.now() - started) / 1000;
  return { requests, errors, seconds: elapsed, rps: requests / elapsed };
}

/**
 * Sends requests with `fetch` from `loops` concurrent loops for `seconds`:
 * a client that parses HTTP like a browser or an app does, unlike the raw
 * generator above, which does almost nothing per request.
 *
 * @param port Target port on 127.0.0.1.
 * @param loops Concurrent request loops (fetch pools their connections).
 * @param seconds Duration.
 * @returns The counts.
 */
export async function runFetchLoad(
  port: number,
  loops: number,
  seconds: number,
): Promise<LoadResult> {
  const url = `http://127.0.0.1:${port}/`;
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: loops }, async () => {
    while (performance.now() < deadline) {
      try {
        const response = await fetch(url, {
          signal: AbortSignal.timeout(seconds * 1000 + GRACE_MS),
        });
        await response.arrayBuffer();
        if (response.status === 200) requests++;
        else errors++;
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  return { requests, errors, seconds: elapsed, rps: requests / elapsed };
}

/** Requests timed together: performance.now() is too coarse for one loopback round trip. */
const LATENCY_BATCH = 100;

/**
 * Measures sequential request latency on one keep-alive connection, as the
 * mean of each batch of {@linkcode LATENCY_BATCH} requests.
 *
 * @param port Target port.
 * @param batches Number of batches.
 * @returns Per-request latency of each batch, in ms.
 */
export async function sequentialLatencies(port: number, batches: number): Promise<number[]> {
  const request = encoder.encode(`GET / HTTP/1.1\r\nHost: localhost:${port}\r\n\r\n`);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(64 * 1024);
  const carry = { bytes: new Uint8Array(0) };
  const latencies: number[] = [];
  const stuck = setTimeout(() => closeQuietly(conn), GRACE_MS * batches);
  try {
    for (let batch = 0; batch < batches; batch++) {
      const started = performance.now();
      for (let i = 0; i < LATENCY_BATCH; i++) {
        await conn.write(request);
        await readResponse(conn, buffer, carry);
      }
      latencies.push((performance.now() - started) / LATENCY_BATCH);
    }
  } finally {
    clearTimeout(stuck);
    closeQuietly(conn);
  }
  return latencies;
}

/** The value at quantile q of a list. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/**
 * Requests per second measured by `wrk` (one thread), a load generator in C
 * that costs the machine far less per request than either client above,
 * when it is installed (`apt-get install wrk`).
 *
 * @param port Target port on 127.0.0.1.
 * @param connections Concurrent keep-alive connections.
 * @param seconds Duration.
 * @returns Requests per second, or `null` when wrk is not installed.
 */
export async function runWrk(
  port: number,
  connections: number,
  seconds: number,
): Promise<number | null> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("wrk", {
      args: ["-t1", `-c${connections}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`],
      stdin: "null",
      signal: AbortSignal.timeout(seconds * 1000 + GRACE_MS),
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const text = new TextDecoder().decode(output.stdout);
  const match = text.match(/Requests\/sec:\s*([\d.]+)/);
  if (!output.success || match === null) throw new Error(`wrk failed: ${text.trim()}`);
  // wrk counts non-2xx answers as requests too: refuse to report those.
  if (/Non-2xx/.test(text)) throw new Error(`wrk saw error responses: ${text.trim()}`);
  return Number(match[1]);
}
