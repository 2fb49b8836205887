/**
 * The private channel between the reloader and its child: a loopback TCP
 * connection that the child opens and authenticates with a secret token
 * from its environment (readable only by the same user). Messages are
 * newline-delimited JSON. The loss of the connection tells either side
 * that the other is gone, also when a process was killed with SIGKILL.
 *
 * This module is the protocol, what both ends share: the messages, their
 * framing and the token. The parent listens with `parent_end.ts`; the
 * child connects with `child_end.ts`.
 *
 * @module
 */

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
  /** The loopback port it listens on (0 when it listens on `path`). */
  port: number;
  /** The Unix socket it listens on instead, in the parent's private directory. */
  path?: string;
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
  /** Long-lived streams (server-sent events, WebSockets), ended at once, not waited for. */
  streams?: number;
  /** The signal, when the program handles it itself. */
  handler: Deno.Signal | null;
  /**
   * What else the program does as it ends, if anything: `"unload"` for an
   * `unload` or `beforeunload` listener, `"exit"` for Node's
   * `process.on("exit")` (see `serve/shutdown_hooks.ts`).
   */
  hook?: string | null;
}

/** What the child reports. */
export type ChildMessage =
  | { type: "hello"; token: string; generation: number; pid: number }
  | ListeningReport
  | { type: "closed"; index: number }
  /**
   * The program serves on a Unix socket, which devsrv does not front: the
   * child runs the program, with no public port for it.
   */
  | { type: "unixSocket"; path: string }
  /** The program's main module has been evaluated: its servers so far are all it starts at load. */
  | { type: "loaded" }
  /**
   * The answer to "askHooks": what the program does as it ends, now
   * (`"SIGTERM"`, `"unload"`, `"exit"`, ...), or `null` for nothing.
   */
  | { type: "hooks"; hook: string | null }
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
    /**
     * A server could not have its public address, which is taken, and the
     * program did not handle the error: the session cannot go on when it
     * serves nothing yet.
     */
    addressInUse?: boolean;
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

/**
 * The errors of a read or write on a connection whose peer is gone, or that
 * this side closed (`BadResource` after the close, `Interrupted` for a read
 * the close cut short).
 */
const LOST_CONNECTION_ERRORS = [
  Deno.errors.BadResource,
  Deno.errors.Interrupted,
  Deno.errors.BrokenPipe,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.UnexpectedEof,
  Deno.errors.TimedOut,
];

/**
 * Tells whether an error means the channel's connection is gone: its end,
 * not a fault.
 *
 * @param error A caught error.
 * @returns `true` for the errors of a closed, reset or broken connection.
 *
 * @example
 * ```ts
 * import { isLostConnection } from "./messages.ts";
 *
 * if (!isLostConnection(new Deno.errors.ConnectionReset("reset"))) throw new Error();
 * if (isLostConnection(new TypeError("a bug"))) throw new Error();
 * ```
 */
export function isLostConnection(error: unknown): boolean {
  return LOST_CONNECTION_ERRORS.some((type) => error instanceof type);
}

/** Reads newline-delimited JSON messages from a connection. */
export async function* readMessages(conn: Deno.Conn): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(16 * 1024);
  let pending = "";
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch (error) {
      if (!isLostConnection(error)) throw error;
      return;
    }
    if (n === null) return;
    pending += decoder.decode(buffer.subarray(0, n), { stream: true });
    if (pending.length > MAX_MESSAGE_BYTES) return;
    let newline: number;
    while ((newline = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        return; // not JSON: a protocol violation ends the stream
      }
      yield message;
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
  /**
   * The private directory where the child's `Deno.serve` servers listen on
   * Unix sockets; `null`: on loopback ports (Windows).
   */
  socketDir?: string | null;
}

/**
 * "askHooks": what does the program do as it ends? The child answers with
 * "hooks" (see `serve/shutdown_hooks.ts`).
 */
export interface AskHooksMessage {
  type: "askHooks";
}

/** What the parent tells the child. */
export type ParentMessage = StartMessage | AskHooksMessage;

/**
 * Tells whether a message the child read is the parent's "askHooks".
 *
 * @param message A message as read.
 * @returns `true` for "askHooks".
 */
export function isAskHooksMessage(message: unknown): message is AskHooksMessage {
  return (message as Partial<AskHooksMessage> | null)?.type === "askHooks";
}

/**
 * Tells whether a message the child read is the parent's "start".
 *
 * @param message A message as read.
 * @returns `true` for a well-formed "start".
 */
export function isStartMessage(message: unknown): message is StartMessage {
  const start = message as Partial<StartMessage> | null;
  return start?.type === "start" && Array.isArray(start.ports);
}

/** A child's report, after its hello. */
export type ChildReport = Exclude<ChildMessage, { type: "hello" }>;

/**
 * Reads a message from a child as one of its reports, checking its shape:
 * a message the parent cannot read is dropped, never half-believed.
 *
 * @param message A message as read from the channel.
 * @returns The report, or `undefined` when it is not a well-formed one.
 *
 * @example
 * ```ts
 * import { readChildReport } from "./messages.ts";
 *
 * if (readChildReport({ type: "closed", index: 1 })?.type !== "closed") throw new Error();
 * if (readChildReport({ type: "closed" }) !== undefined) throw new Error();
 * if (readChildReport({ type: "hello", token: "x", generation: 1, pid: 2 }) !== undefined) {
 *   throw new Error();
 * }
 * ```
 */
export function readChildReport(message: unknown): ChildReport | undefined {
  const report = message as Partial<Record<string, unknown>> | null;
  switch (report?.type) {
    case "listening":
      return isListeningReport(report) ? report : undefined;
    case "loaded":
      return { type: "loaded" };
    case "hooks":
      return typeof report.hook === "string" || report.hook === null
        ? { type: "hooks", hook: report.hook }
        : undefined;
    case "wrote":
      return Array.isArray(report.paths) && typeof report.at === "number"
        ? {
          type: "wrote",
          paths: report.paths.filter((path): path is string => typeof path === "string"),
          at: report.at,
        }
        : undefined;
    case "closed":
      return Number.isInteger(report.index) ? report as ChildReport : undefined;
    case "unixSocket":
      return typeof report.path === "string"
        ? { type: "unixSocket", path: report.path }
        : undefined;
    case "stopping":
      return typeof report.requests === "number" &&
          (report.handler === null || typeof report.handler === "string") &&
          (report.hook == null || typeof report.hook === "string")
        ? report as ChildReport
        : undefined;
    case "failed":
      return typeof report.message === "string" && typeof report.detail === "string"
        ? report as ChildReport
        : undefined;
    default:
      return undefined;
  }
}

function isListeningReport(message: unknown): message is ListeningReport {
  const report = message as Partial<ListeningReport>;
  return Number.isInteger(report.index) && typeof report.port === "number" &&
    (report.path === undefined || typeof report.path === "string") &&
    typeof report.public?.port === "number" && typeof report.requested === "object";
}
