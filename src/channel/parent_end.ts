/**
 * The parent's end of the private channel: a loopback listener that accepts
 * only connections presenting this session's token, and hands each child's
 * messages to the supervisor by generation.
 *
 * @module
 */

import { type ChildMessage, newToken, readMessages, safeEqual } from "./messages.ts";

/** Called with each authenticated child's connection and message stream. */
export type ChildConnected = (
  generation: number,
  messages: AsyncGenerator<unknown>,
  conn: Deno.Conn,
) => void;

/** How long a connection has to present the token. */
const HELLO_TIMEOUT_MS = 5000;

/** The listening end. */
export class ChannelListener {
  readonly token = newToken();
  readonly address: string;
  #listener: Deno.TcpListener;
  #conns = new Set<Deno.Conn>();
  #accepting: Promise<void>;

  /** @param onChild Receives each authenticated child. */
  constructor(onChild: ChildConnected) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.address = `127.0.0.1:${this.#listener.addr.port}`;
    this.#accepting = this.#accept(onChild);
  }

  async #accept(onChild: ChildConnected): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        // Small messages both ways, each awaited: no Nagle delay on them.
        conn.setNoDelay(true);
        this.#conns.add(conn);
        this.#greet(conn, onChild);
      }
    } catch {
      // Closing the listener ends the loop without an error. Any other accept
      // failure (too many open files is a plain Error) ends it here too: the
      // parent must not crash on it.
    }
  }

  async #greet(conn: Deno.Conn, onChild: ChildConnected): Promise<void> {
    const messages = readMessages(conn);
    const timer = setTimeout(() => this.#drop(conn), HELLO_TIMEOUT_MS);
    const first = await messages.next();
    clearTimeout(timer);
    const hello = first.value as
      | Partial<Extract<ChildMessage, { type: "hello" }>>
      | undefined;
    if (
      first.done || hello?.type !== "hello" ||
      typeof hello.token !== "string" ||
      !safeEqual(hello.token, this.token) ||
      typeof hello.generation !== "number"
    ) {
      this.#drop(conn);
      return;
    }
    onChild(hello.generation, messages, conn);
  }

  /**
   * Forgets a child's connection and closes it.
   *
   * @param conn The connection handed to `onChild`.
   */
  release(conn: Deno.Conn): void {
    this.#drop(conn);
  }

  #drop(conn: Deno.Conn): void {
    this.#conns.delete(conn);
    try {
      conn.close();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error; // already closed
    }
  }

  /** Closes the listener and every child connection. */
  async close(): Promise<void> {
    this.#listener.close();
    for (const conn of [...this.#conns]) this.#drop(conn);
    await this.#accepting;
  }
}
