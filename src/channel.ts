/**
 * The private channel between the reloader and its child: a loopback TCP
 * connection that the child opens and authenticates with a secret token
 * from its environment (readable only by the same user). Messages are
 * newline-delimited JSON. The loss of the connection tells either side
 * that the other is gone, also when a process was killed with SIGKILL.
 *
 * @module
 */

import { DevsrvError } from "./errors.ts";
import {
  CONTROL_ADDRESS_ENV,
  CONTROL_TOKEN_ENV,
  GENERATION_ENV,
  readEnv,
  RUN_MAIN_ENV,
} from "./role.ts";

/** A host and port. */
export interface HostPort {
  hostname: string;
  port: number;
}

/**
 * One server of the child that listens: the first one makes the child
 * ready. `index` counts the servers the program started, from 0.
 */
export interface ListeningReport {
  type: "listening";
  /** 0 for the program's first server. */
  index: number;
  /** The loopback port it listens on. */
  port: number;
  /** The public address the program was told. */
  public: HostPort;
  /** What the program asked for (`undefined` fields: nothing asked). */
  requested: { hostname?: string; port?: number };
  /** The program's own certificate and key, when it asked for HTTPS. */
  tls?: { cert: string; key: string };
  /** What started it: `Deno.serve`, `node:http(s)` or devsrv (handler, static files). */
  kind: "deno" | "node" | "devsrv";
  /** Milliseconds from "start" to now. */
  loadMs: number;
}

/** What a stopping child waits for (it got SIGTERM). */
export interface StoppingReport {
  type: "stopping";
  /** Requests whose handler has not answered yet. */
  requests: number;
  /** The signal, when the program handles it itself. */
  handler: Deno.Signal | null;
}

/** What the child reports. */
export type ChildMessage =
  | { type: "hello"; token: string; generation: number; pid: number }
  | ListeningReport
  | { type: "closed"; index: number }
  /** The program's main module has been evaluated: its servers so far are all it starts at load. */
  | { type: "loaded" }
  /** The program is about to write these files (absolute paths), at `at` (`Date.now()`). */
  | { type: "wrote"; paths: string[]; at: number }
  | StoppingReport
  | {
    type: "failed";
    /**
     * What happened: the app failed to `load` (never served), `crashed`
     * after it served, or `exited` with a code and nothing to say.
     */
    kind?: "load" | "crash" | "exit";
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

/** The errors of a write to a peer that is gone: its loss is reported through `lost`. */
const LOST_PEER_ERRORS = [
  Deno.errors.BrokenPipe,
  Deno.errors.ConnectionReset,
  Deno.errors.BadResource,
  Deno.errors.NotConnected,
];

function ignoreLostPeer(error: unknown): void {
  if (!LOST_PEER_ERRORS.some((type) => error instanceof type)) throw error;
}

/** The child's end of the channel. */
export interface ParentLink {
  /** This child's generation. */
  readonly generation: number;
  /** Sends a message; a parent that is gone is not an error (see `lost`). */
  send(message: ChildMessage): Promise<void>;
  /** Resolves when the parent says "start": load the app and serve. */
  readonly started: Promise<StartMessage>;
  /** Resolves when the parent is gone (the connection closed). */
  readonly lost: Promise<void>;
  /** Lets the process end while the channel is still open (see `Deno.Conn.unref`). */
  unref(): void;
}

/**
 * "Start": load the app and serve. It says where the program's servers are
 * served, so the child can tell the program before the parent binds.
 */
export interface StartMessage {
  type: "start";
  /** Public ports the parent already owns, by server index (`null`: none yet). */
  ports: (number | null)[];
  /** `--host`, when given. */
  host: string | null;
  /** `--port`, when given: it is the first server's. */
  port: number | null;
  /** Capture `node:http` too: the program's module graph may use it. */
  node: boolean;
  /** The parent serves HTTPS on every public port (`--cert`). */
  tls: boolean;
}

/** What the parent tells the child. */
export type ParentMessage = StartMessage;

function isStartMessage(message: unknown): message is StartMessage {
  const start = message as Partial<StartMessage> | null;
  return start?.type === "start" && Array.isArray(start.ports);
}

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
    throw new DevsrvError(
      `${RUN_MAIN_ENV}=true is set, but no devsrv reloader started this process (${CONTROL_ADDRESS_ENV}, ${CONTROL_TOKEN_ENV} and ${GENERATION_ENV} are missing)`,
      `unset ${RUN_MAIN_ENV} and run devsrv again`,
    );
  }
  const conn = await Deno.connect({
    hostname: match[1],
    port: Number(match[2]),
  });
  await sendMessage(conn, { type: "hello", token, generation, pid: Deno.pid });
  let start = (_message: StartMessage) => {};
  const started = new Promise<StartMessage>((resolve) => start = resolve);
  const lost = (async () => {
    for await (const message of readMessages(conn)) {
      if (isStartMessage(message)) start(message);
    }
  })();
  return {
    generation,
    send: (message) => sendMessage(conn, message).catch(ignoreLostPeer),
    started,
    lost,
    unref: () => conn.unref(),
  };
}
