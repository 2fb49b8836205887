/**
 * The child's end of the private channel (see `messages.ts`): it connects
 * to the parent named by its environment, says hello with the token, waits
 * for "start", and learns that the parent is gone when the connection
 * closes.
 *
 * @module
 */

import { DevsrvError } from "../errors.ts";
import {
  CHANNEL_ADDRESS_ENV,
  CHANNEL_TOKEN_ENV,
  GENERATION_ENV,
  readEnv,
  RUN_MAIN_ENV,
} from "../role.ts";
import {
  type ChildMessage,
  isAskHooksMessage,
  isLostConnection,
  isStartMessage,
  readMessages,
  sendMessage,
  type StartMessage,
} from "./messages.ts";

/** A write to a peer that is gone fails: its loss is reported through `lost`. */
function ignoreLostPeer(error: unknown): void {
  if (!isLostConnection(error)) throw error;
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
  /**
   * Answers the parent's "askHooks" from now on (until then, with
   * `"unknown"`: the program has not been set up).
   */
  answerHooks(answer: () => string | null): void;
}

/**
 * Connects the child to its parent, using the `DEVSRV_*` environment.
 *
 * @returns The link.
 * @throws {DevsrvError} When the environment does not describe a channel.
 */
export async function connectToParent(): Promise<ParentLink> {
  const address = readEnv(CHANNEL_ADDRESS_ENV);
  const token = readEnv(CHANNEL_TOKEN_ENV);
  const generation = Number(readEnv(GENERATION_ENV));
  const match = address?.match(/^(.+):(\d+)$/);
  const fix = `unset ${RUN_MAIN_ENV} and run devsrv again`;
  if (!match?.[1] || !token || !Number.isInteger(generation)) {
    const missing = [
      ...(match?.[1] ? [] : [CHANNEL_ADDRESS_ENV]),
      ...(token ? [] : [CHANNEL_TOKEN_ENV]),
      ...(Number.isInteger(generation) ? [] : [GENERATION_ENV]),
    ];
    throw new DevsrvError(
      `${RUN_MAIN_ENV}=true is set, but no devsrv reloader started this process (${
        missing.join(", ")
      } ${missing.length === 1 ? "is" : "are"} missing or invalid)`,
      fix,
    );
  }
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: match[1], port: Number(match[2]) });
  } catch (error) {
    // A stale environment: the reloader it names is gone.
    if (!(error instanceof Deno.errors.ConnectionRefused || isLostConnection(error))) throw error;
    throw new DevsrvError(
      `${RUN_MAIN_ENV}=true is set, but no devsrv reloader listens at ${address} (${CHANNEL_ADDRESS_ENV}); it did not start this process`,
      fix,
    );
  }
  // Small messages both ways, each awaited: no Nagle delay on them.
  conn.setNoDelay(true);
  await sendMessage(conn, { type: "hello", token, generation, pid: Deno.pid });
  let start = (_message: StartMessage) => {};
  const started = new Promise<StartMessage>((resolve) => start = resolve);
  let hooks = (): string | null => "unknown";
  const lost = (async () => {
    for await (const message of readMessages(conn)) {
      if (isStartMessage(message)) start(message);
      if (isAskHooksMessage(message)) {
        void sendMessage(conn, { type: "hooks", hook: hooks() }).catch(ignoreLostPeer);
      }
    }
  })();
  return {
    generation,
    send: (message) => sendMessage(conn, message).catch(ignoreLostPeer),
    started,
    lost,
    unref: () => conn.unref(),
    answerHooks: (answer) => hooks = answer,
  };
}
