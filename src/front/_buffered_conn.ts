/**
 * A connection with one read buffer that it keeps for its whole life, and
 * the byte-level helpers the front builds on: write everything, read up to
 * the end of a head, pipe one way, close politely.
 *
 * The front never uses Web streams on its hot path: `conn.read` into a
 * reused buffer and `conn.write` straight from it cost the least.
 *
 * @module
 */

import { findHeadEnd } from "./http1.ts";

/** Every connection's buffer starts this small; most messages fit. */
const INITIAL_BUFFER_BYTES = 16 * 1024;
/** A body that keeps filling the buffer gets a bigger one, up to this. */
const STREAMING_BUFFER_BYTES = 64 * 1024;

/** {@linkcode readHead} found no head before the end of the stream. */
export const END_OF_STREAM = -1;
/** {@linkcode readHead} found no head within the allowed size. */
export const HEAD_TOO_LARGE = -2;

/** A connection and the bytes received on it but not consumed yet. */
export class BufferedConn {
  /** The connection. */
  readonly conn: Deno.Conn;
  /** The read buffer; replaced when it grows. */
  buf: Uint8Array;
  /** Where the bytes not consumed yet start. */
  start = 0;
  /** Where the received bytes end. */
  end = 0;
  /** Bytes received so far, to tell whether a peer said anything at all. */
  received = 0;
  readonly #maxBytes: number;
  #closed = false;
  /** The read in flight, which every caller of `fill` shares. */
  #pending: Promise<boolean> | null = null;

  /**
   * Wraps a connection.
   *
   * @param conn The connection to read from and write to.
   * @param maxBytes How large the buffer may grow to hold one head.
   */
  constructor(conn: Deno.Conn, maxBytes: number) {
    this.conn = conn;
    this.buf = new Uint8Array(INITIAL_BUFFER_BYTES);
    this.#maxBytes = Math.max(maxBytes, STREAMING_BUFFER_BYTES);
  }

  /** How many received bytes are not consumed yet. */
  get buffered(): number {
    return this.end - this.start;
  }

  /**
   * Reads more bytes after those held, making room first. A call while a
   * read is in flight shares that read: one side may watch a connection
   * for its close while another later waits for its next bytes.
   *
   * @returns `false` at the end of the stream.
   * @throws {Deno.errors.ConnectionReset} And the like, when the peer fails.
   */
  fill(): Promise<boolean> {
    if (this.#pending === null) {
      // Making room may throw (a full buffer): before the read starts, so
      // that #readMore always settles after this assignment.
      this.#makeRoomToRead();
      this.#pending = this.#readMore();
    }
    return this.#pending;
  }

  #makeRoomToRead(): void {
    const size = this.buf.length;
    if (this.start === this.end) {
      if (this.end === size && size < STREAMING_BUFFER_BYTES) this.#grow(size * 2);
      this.start = this.end = 0;
    } else if (this.end === size) {
      this.#makeRoom();
    }
  }

  async #readMore(): Promise<boolean> {
    try {
      const read = await this.conn.read(this.end === 0 ? this.buf : this.buf.subarray(this.end));
      if (read === null) return false;
      this.end += read;
      this.received += read;
      return true;
    } finally {
      this.#pending = null;
    }
  }

  /**
   * Like {@linkcode BufferedConn.fill}, but a failing peer counts as the end
   * of the stream: for reads whose failure is handled like a close.
   *
   * @returns `false` at the end of the stream or when reading failed.
   */
  async fillOrEnd(): Promise<boolean> {
    try {
      return await this.fill();
    } catch {
      // Any read error ends this one connection, never the front: a reset,
      // a broken pipe, and TLS failures, which Deno raises as plain Errors.
      return false;
    }
  }

  /** Closes the connection; closing twice is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Already closed by the runtime: nothing left to release.
    }
  }

  /** Whether {@linkcode BufferedConn.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Moves the unconsumed bytes to the front, or grows when there are none to drop. */
  #makeRoom(): void {
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    } else if (this.buf.length < this.#maxBytes) {
      this.#grow(Math.min(this.buf.length * 2, this.#maxBytes));
    } else {
      throw new RangeError("Read buffer is full");
    }
  }

  #grow(size: number): void {
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(this.start, this.end));
    this.end -= this.start;
    this.start = 0;
    this.buf = bigger;
  }
}

/**
 * Writes all of `bytes`, however many calls it takes.
 *
 * @param conn Where to write.
 * @param bytes What to write.
 */
export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) {
    const written = await conn.write(rest);
    rest = rest.subarray(written);
  }
}

/**
 * Reads until a whole head (up to its empty line) is buffered, starting at
 * `reader.start`, which is left pointing at the head.
 *
 * @param reader The connection to read from.
 * @param limit The largest head accepted, in bytes.
 * @returns Where the head ends in `reader.buf`, or {@linkcode END_OF_STREAM}
 *   or {@linkcode HEAD_TOO_LARGE}.
 */
export async function readHead(reader: BufferedConn, limit: number): Promise<number> {
  let scanFrom = reader.start;
  for (;;) {
    const headEnd = findHeadEnd(reader.buf, scanFrom, reader.end);
    if (headEnd !== -1) return headEnd - reader.start <= limit ? headEnd : HEAD_TOO_LARGE;
    const scanned = reader.buffered;
    if (scanned >= limit) return HEAD_TOO_LARGE;
    if (!(await reader.fill())) return END_OF_STREAM;
    // Back up two bytes: a terminator may straddle the two reads.
    scanFrom = reader.start + Math.max(0, scanned - 2);
  }
}

/**
 * Copies bytes from one connection to another until either side ends or
 * fails; the buffered bytes of `from` go first.
 *
 * @param from The reading side.
 * @param to The writing side.
 */
export async function pipe(from: BufferedConn, to: Deno.Conn): Promise<void> {
  try {
    for (;;) {
      if (from.buffered > 0) {
        await writeAll(to, from.buf.subarray(from.start, from.end));
        from.start = from.end;
      }
      if (!(await from.fill())) return;
    }
  } catch {
    // Either side went away, which is how a tunnel ends.
  }
}

/**
 * Closes a connection after a last response without destroying it: a
 * close with unread input makes the kernel send a reset, which can reach
 * the client before it reads the response. So the write side is shut first,
 * and input is read and dropped until the peer closes or `lingerMs` passes.
 *
 * @param reader The connection to close.
 * @param lingerMs The longest wait for the peer to close.
 */
export async function closeGracefully(reader: BufferedConn, lingerMs: number): Promise<void> {
  const timer = setTimeout(() => reader.close(), lingerMs);
  try {
    await reader.conn.closeWrite();
    reader.start = reader.end;
    while (await reader.fill()) reader.start = reader.end;
  } catch {
    // The peer is gone already, which is all we waited for.
  } finally {
    clearTimeout(timer);
    reader.close();
  }
}
