/**
 * The private channel between the reloader and its child: a loopback TCP
 * connection that the child opens and authenticates with a secret token
 * from its environment (readable only by the same user). Messages are
 * newline-delimited JSON. The loss of the connection tells either side
 * that the other is gone, also when a process was killed with SIGKILL.
 *
 * @module
 */

import { CONTROL_ADDRESS_ENV, CONTROL_TOKEN_ENV, GENERATION_ENV, readEnv } from "./role.ts";

/** What the child reports. */
export type ChildMessage =
  | { type: "hello"; token: string; generation: number; pid: number }
  | { type: "ready"; port: number; loadMs: number }
  | {
    type: "failed";
    message: string;
    fix?: string;
    file?: string;
    line?: number;
    column?: number;
    detail: string;
  };

/** A failure report, without its type tag. */
export type FailureReport = Omit<
  Extract<ChildMessage, { type: "failed" }>,
  "type"
>;

const encoder = new TextEncoder();
/** A message larger than this is a protocol violation, not a report. */
const MAX_MESSAGE_BYTES = 1 << 20;

/** Reads newline-delimited JSON messages from a connection. */
export async function* readMessages(conn: Deno.Conn): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let pending = "";
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      return;
    }
    if (n === null) return;
    pending += decoder.decode(buffer.subarray(0, n), { stream: true });
    if (pending.length > MAX_MESSAGE_BYTES) return;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        yield JSON.parse(line);
      } catch {
        return;
      }
    }
  }
}

/**
 * Sends one message.
 *
 * @param conn The channel's connection.
 * @param message Any JSON value.
 */
export async function sendMessage(
  conn: Deno.Conn,
  message: unknown,
): Promise<void> {
  let bytes = encoder.encode(JSON.stringify(message) + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/**
 * Compares two secrets without leaking, through timing, how much matched.
 *
 * @param a One string.
 * @param b The other.
 * @returns Whether they are equal.
 */
export function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) {
    difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return difference === 0;
}

/** A new random token for one reloader session. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** The child's end of the channel. */
export interface ParentLink {
  /** This child's generation. */
  readonly generation: number;
  send(message: ChildMessage): Promise<void>;
  /** Resolves when the parent says "start": load the app and serve. */
  readonly started: Promise<void>;
  /** Resolves when the parent is gone (the connection closed). */
  readonly lost: Promise<void>;
}

/** What the parent tells the child. */
export type ParentMessage = { type: "start" };

/**
 * Connects the child to its parent, using the `DEVSRV_*` environment.
 *
 * @returns The link.
 * @throws {Error} When the environment does not describe a channel.
 */
export async function connectToParent(): Promise<ParentLink> {
  const address = readEnv(CONTROL_ADDRESS_ENV);
  const token = readEnv(CONTROL_TOKEN_ENV);
  const generation = Number(readEnv(GENERATION_ENV));
  const match = address?.match(/^(.+):(\d+)$/);
  if (!match?.[1] || !token || !Number.isInteger(generation)) {
    throw new Error(
      `${CONTROL_ADDRESS_ENV}, ${CONTROL_TOKEN_ENV} and ${GENERATION_ENV} must be set by the reloader`,
    );
  }
  const conn = await Deno.connect({
    hostname: match[1],
    port: Number(match[2]),
  });
  await sendMessage(conn, { type: "hello", token, generation, pid: Deno.pid });
  let start = () => {};
  const started = new Promise<void>((resolve) => start = resolve);
  const lost = (async () => {
    for await (const message of readMessages(conn)) {
      if ((message as Partial<ParentMessage>).type === "start") start();
    }
  })();
  return { generation, send: (message) => sendMessage(conn, message), started, lost };
}
