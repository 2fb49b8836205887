/**
 * What a change costs: reload latency (the write of a file → the first
 * response with the new content) over series of edits that alternate
 * between servers, with or without long-lived streams open, and the
 * requests that fail across reloads under a steady load.
 *
 * @module
 */

import { closeQuietly } from "./_load.ts";
import { bodyOrError, type Running, waitForContent } from "./_tools.ts";

/** Most one reload may take before the bench gives up. */
const RELOAD_TIMEOUT_MS = 30_000;
/** How long streams have to end after a reload before they count as still open. */
const STREAM_END_TIMEOUT_MS = 3_000;
/** How long a stream has to open. */
const STREAM_OPEN_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();

/** One series of edits: a server, and whether streams are open while each edit happens. */
export interface Series {
  running: Running;
  withStreams?: boolean;
}

/** What a series measured. */
export interface SeriesResult {
  /** Reload latency of each edit, ms. */
  latencies: number[];
  /** How the open streams ended after each edit (with `withStreams`), counted by outcome. */
  streamEnds: Map<string, number>;
}

/**
 * Measures reload latency for several series, one edit of each in turn
 * (the order reversed every other round), every server settled before each
 * edit, so that a busy moment of the machine falls on all of them alike.
 *
 * @param series What to measure.
 * @param edits Edits per series.
 * @returns One result per series, in order.
 */
export async function alternateEdits(series: Series[], edits: number): Promise<SeriesResult[]> {
  const results = series.map((): SeriesResult => ({ latencies: [], streamEnds: new Map() }));
  const servers = [...new Set(series.map((s) => s.running))];
  for (let round = 1; round <= edits; round++) {
    const order = series.map((_, i) => i);
    if (round % 2 === 0) order.reverse();
    for (const i of order) {
      const { running, withStreams } = series[i]!;
      const result = results[i]!;
      await Promise.all(servers.map((server) => server.settle()));
      const streams = withStreams ? await openStreams(running) : undefined;
      try {
        result.latencies.push(await reloadOnce(running, `series ${i} edit ${round}`));
        if (streams) {
          for (const end of await streams.ends(STREAM_END_TIMEOUT_MS)) {
            result.streamEnds.set(end, (result.streamEnds.get(end) ?? 0) + 1);
          }
        }
      } finally {
        streams?.close();
      }
    }
  }
  return results;
}

/** One edit: the write of the file → the first response with the new content, in ms. */
export async function reloadOnce(running: Running, marker: string): Promise<number> {
  const started = performance.now();
  await running.edit(marker);
  await waitForContent(running.url, marker, RELOAD_TIMEOUT_MS, running.server);
  return performance.now() - started;
}

/** Streams open on a server. */
interface OpenStreams {
  /** How each stream ended (`SSE ended by the server`, `WebSocket closed 1001`, `... still open`). */
  ends(timeoutMs: number): Promise<string[]>;
  /** Closes what is still open. */
  close(): void;
}

/** Opens two server-sent events streams (fetch, reading) and one WebSocket, each seen to work. */
async function openStreams(running: Running): Promise<OpenStreams> {
  const opened = await Promise.allSettled([
    openEventStream(new URL("/events", running.url)),
    openEventStream(new URL("/events", running.url)),
    openWebSocket(new URL("/ws", running.url.replace(/^http/, "ws"))),
  ]);
  const streams = opened.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  const failed = opened.find((result) => result.status === "rejected");
  if (failed) {
    for (const stream of streams) stream.close();
    throw new Error(`A stream did not open on ${running.tool.name}`, { cause: failed.reason });
  }
  return {
    ends: (timeoutMs) => Promise.all(streams.map((stream) => stream.end(timeoutMs))),
    close: () => streams.forEach((stream) => stream.close()),
  };
}

/** One open stream. */
interface Stream {
  end(timeoutMs: number): Promise<string>;
  close(): void;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function openEventStream(url: URL): Promise<Stream> {
  const abort = new AbortController();
  const opening = (async () => {
    const response = await fetch(url, { signal: abort.signal });
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel();
      throw new Error(`${url} answered ${response.status}`);
    }
    const reader = response.body.getReader();
    const first = await reader.read(); // the server's first event
    if (first.done) throw new Error(`${url} ended before its first event`);
    return reader;
  })();
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = await withTimeout(opening, STREAM_OPEN_TIMEOUT_MS, `opening ${url}`);
  } catch (error) {
    abort.abort();
    throw error;
  }
  const ended = (async () => {
    try {
      while (!(await reader.read()).done) {
        // events after the first: still open
      }
      return "SSE ended by the server";
    } catch {
      return abort.signal.aborted ? "SSE still open" : "SSE connection reset";
    }
  })();
  return {
    end: async (timeoutMs) => {
      const timer = setTimeout(() => abort.abort(), timeoutMs);
      try {
        return await ended;
      } finally {
        clearTimeout(timer);
      }
    },
    close: () => abort.abort(),
  };
}

async function openWebSocket(url: URL): Promise<Stream> {
  const socket = new WebSocket(url);
  let closedByUs = false;
  const closed = new Promise<string>((resolve) => {
    socket.onclose = (event) => {
      if (closedByUs) resolve("WebSocket still open");
      else if (event.wasClean) resolve(`WebSocket closed ${event.code}`);
      else resolve("WebSocket dropped without a close frame");
    };
  });
  const greeted = new Promise<void>((resolve, reject) => {
    socket.onmessage = () => resolve(); // the app says hello once open
    socket.onerror = (event) => reject(new Error(`WebSocket ${url}: ${String(event)}`));
    closed.then((how) => reject(new Error(`WebSocket ${url} ${how} before its greeting`)));
  });
  try {
    await withTimeout(greeted, STREAM_OPEN_TIMEOUT_MS, `opening ${url}`);
  } catch (error) {
    socket.close();
    await withTimeout(closed, STREAM_OPEN_TIMEOUT_MS, `closing ${url}`).catch(() => {});
    throw error;
  }
  socket.onerror = () => {}; // an abnormal close is reported by its code (1006)
  const close = () => {
    if (socket.readyState === WebSocket.CLOSED) return;
    closedByUs = true;
    socket.close();
  };
  return {
    end: async (timeoutMs) => {
      const timer = setTimeout(close, timeoutMs);
      try {
        // Closed by us: the close handshake still needs a moment.
        return await withTimeout(closed, timeoutMs + STREAM_OPEN_TIMEOUT_MS, `closing ${url}`);
      } finally {
        clearTimeout(timer);
      }
    },
    close,
  };
}

/**
 * Counts the requests that fail while a server reloads `reloads` times under
 * a steady load: two keep-alive loops (fetch) and two loops that open a
 * fresh connection per request.
 */
export async function failuresAcrossReloads(
  running: Running,
  reloads: number,
): Promise<{ failed: number; total: number }> {
  let loading = true;
  let failed = 0;
  let total = 0;
  const fresh = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: running.port });
    const timer = setTimeout(() => conn.close(), RELOAD_TIMEOUT_MS);
    try {
      await conn.write(
        encoder.encode(`GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
      );
      const buffer = new Uint8Array(4096);
      let head = "";
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        head += new TextDecoder().decode(buffer.subarray(0, n));
      }
      if (!head.startsWith("HTTP/1.1 200")) throw new Error(head.slice(0, 20) || "empty");
    } finally {
      clearTimeout(timer);
      closeQuietly(conn); // the timer may have closed it
    }
  };
  const loop = async (send: () => Promise<unknown>) => {
    while (loading) {
      total++;
      try {
        const result = await send();
        if (result instanceof Error) failed++;
      } catch {
        failed++;
      }
    }
  };
  const url = running.url;
  const loops = [
    loop(() => bodyOrError(url)),
    loop(() => bodyOrError(url)),
    loop(fresh),
    loop(fresh),
  ];
  try {
    for (let i = 1; i <= reloads; i++) {
      const marker = `load edit ${i}`;
      await running.edit(marker);
      await waitForContent(url, marker, RELOAD_TIMEOUT_MS, running.server);
    }
  } finally {
    loading = false;
    await Promise.all(loops);
  }
  return { failed, total };
}

/**
 * One reload of devsrv with `--verbose`, after two that are not shown: its
 * log lines from the write to the first response, each timed from the
 * write. The parent's phase lines carry its own clock, mapped onto the
 * bench's (by the earliest arrival of such a line); other lines are timed by
 * their arrival through the pipe.
 */
export async function verboseReload(
  running: Running,
): Promise<{ ms: number; lines: string[] }> {
  for (const marker of ["verbose warm-up 1", "verbose warm-up 2"]) {
    await running.settle();
    await reloadOnce(running, marker);
  }
  await running.settle();
  const server = running.server;
  const from = server.output.length;
  const started = performance.now();
  const ms = await reloadOnce(running, "verbose edit");
  const stamped: { start: number; at: number; text: string; parentMs: number | null }[] = [];
  let start = 0;
  for (const text of server.output.split("\n")) {
    const end = start + text.length;
    const clock = text.match(/^ \* \[(\d+\.\d) ms\] /);
    const parentMs = clock ? Number(clock[1]) : null;
    if (text.trim() !== "") stamped.push({ start, at: server.printedAt(end), text, parentMs });
    start = end + 1;
  }
  const offset = Math.min(
    ...stamped.flatMap(({ at, parentMs }) => parentMs === null ? [] : [at - parentMs]),
  );
  const lines = stamped
    .filter((line) => line.start >= from)
    .map(({ at, text, parentMs }) => ({
      sinceWrite: (parentMs === null ? at : parentMs + offset) - started,
      text: text.replace(/^ \* (\[\d+\.\d ms\] )?/, "").replace(/ · \[\d+\.\d ms\]/, " ·"),
    }))
    .filter(({ sinceWrite }) => sinceWrite <= ms)
    .map(({ sinceWrite, text }) => `${sinceWrite.toFixed(1).padStart(6)} ms  ${text}`);
  return { ms, lines };
}
