/**
 * Sends one request's bytes to a backend while keeping a copy, so that the
 * request can be sent again to a fresh connection when the first one closes
 * before answering (an app that closes an idle keep-alive connection as it
 * stops, or that is being replaced).
 *
 * The head goes first; the body follows in pieces as a pump reads them from
 * the client, possibly while the response is already being read. Writes are
 * serialized, so a resend and the pump never interleave their bytes.
 *
 * @module
 */

import { writeAll } from "./_buffered_conn.ts";

/** Requests up to this size are kept for a resend; larger ones are not. */
export const RESEND_LIMIT_BYTES = 1024 * 1024;

/** The backend connection failed while a body that is not kept was sent. */
export class BackendGoneError extends Error {
  /** Creates the error. */
  constructor() {
    super("The backend connection closed while the request was sent");
    this.name = "BackendGoneError";
  }
}

function ignore(): void {}

/** Writes a request to a backend and keeps its bytes for a resend. */
export class RequestSender {
  /** Bytes kept for a resend, or only those not written yet once not keeping. */
  readonly #pieces: Uint8Array[] = [];
  #keptBytes = 0;
  #keeping = true;
  #target: Deno.Conn | null = null;
  /** How many of `#pieces` the current target has received. */
  #written = 0;
  #failed = false;
  #queue: Promise<void> = Promise.resolve();

  /**
   * Starts a new request with its first bytes: the head and whatever part
   * of the body came with it.
   *
   * @param first The bytes.
   * @param copy Copy them, because their buffer will be reused while the
   *   request may still need them.
   */
  begin(first: Uint8Array, copy: boolean): void {
    this.#pieces.length = 0;
    this.#pieces.push(copy ? first.slice() : first);
    this.#keptBytes = first.length;
    this.#keeping = first.length <= RESEND_LIMIT_BYTES;
    this.#target = null;
    this.#written = 0;
    this.#failed = false;
  }

  /** Whether every byte sent so far is kept, so a resend is possible. */
  get canResend(): boolean {
    return this.#keeping;
  }

  /** Whether writing to the current backend failed. */
  get failed(): boolean {
    return this.#failed;
  }

  /**
   * Sends everything kept to a backend; later pieces go there too.
   *
   * @param conn The backend connection.
   * @returns When the kept bytes are written (or writing them failed).
   */
  sendTo(conn: Deno.Conn): Promise<void> {
    return this.#serialized(() => {
      this.#target = conn;
      this.#written = 0;
      this.#failed = false;
      return this.#flush();
    });
  }

  /**
   * Sends the whole request, all of which came with its head: with no pump
   * to race with, nothing needs serializing.
   *
   * @param conn The backend connection.
   * @returns When the bytes are written (or writing them failed).
   */
  async sendWhole(conn: Deno.Conn): Promise<void> {
    this.#target = conn;
    this.#written = 0;
    this.#failed = false;
    try {
      await writeAll(conn, this.#pieces[0]!);
      this.#written = 1;
    } catch {
      this.#failed = true; // the response side sees it too and decides
    }
  }

  /**
   * Sends the next piece of the body.
   *
   * @param piece Bytes in the caller's buffer; copied when kept, else
   *   written before the returned promise settles.
   * @returns When the piece is written.
   * @throws {BackendGoneError} When the backend failed and the piece is
   *   not kept: the request can no longer be delivered.
   */
  push(piece: Uint8Array): Promise<void> {
    if (this.#keeping && this.#keptBytes + piece.length <= RESEND_LIMIT_BYTES) {
      this.#pieces.push(piece.slice());
      this.#keptBytes += piece.length;
      return this.#serialized(() => this.#flush());
    }
    this.#keeping = false;
    return this.#serialized(() => this.#writeUnkept(piece));
  }

  /** The response has begun, so there will be no resend: stop keeping. */
  stopKeeping(): void {
    this.#keeping = false;
  }

  #serialized(task: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(task);
    this.#queue = run.then(ignore, ignore);
    return run;
  }

  /** Writes the pieces the current target has not received. */
  async #flush(): Promise<void> {
    const target = this.#target;
    if (target === null || this.#failed) return;
    try {
      while (this.#written < this.#pieces.length) {
        await writeAll(target, this.#pieces[this.#written]!);
        this.#written++;
      }
    } catch {
      // The backend went away; the response side sees it too and decides.
      this.#failed = true;
    }
    if (!this.#keeping && !this.#failed) {
      this.#pieces.length = 0;
      this.#written = 0;
    }
  }

  async #writeUnkept(piece: Uint8Array): Promise<void> {
    await this.#flush();
    const target = this.#target;
    if (target === null || this.#failed) throw new BackendGoneError();
    try {
      await writeAll(target, piece);
    } catch {
      // Any write error means the backend is gone (a reset, a broken pipe,
      // a closed resource); the session tells the client, never crashes.
      this.#failed = true;
      throw new BackendGoneError();
    }
  }
}
