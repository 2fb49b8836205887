/**
 * Where one exchange of a client session stands, as two small state
 * machines, because its two directions run at once: the response's way
 * to the client ({@linkcode ExchangeState}), and the request body's way to
 * the backend, which also says who reads the client connection meanwhile
 * ({@linkcode BodyState}). A body pump may still be reading the client
 * while the response is already being relayed, so neither is a step of
 * the other.
 *
 * The transitions are pure functions of a state and an event; each does
 * nothing when there is nothing to do (a second 1xx, a second write of
 * the same response). `ClientSession` keeps one of each per exchange, as
 * plain strings: nothing is allocated per request or per chunk.
 *
 * @module
 */

/**
 * How far the response has gone to the client:
 * - `"forwarding"`: nothing has gone to the client yet; the request is
 *   being routed, held, sent or resent, and its response awaited (a final
 *   head may be in hand, not written yet: the rewriter may be reading it);
 * - `"interim"`: a 1xx response (not 101) went to the client; the final
 *   one is awaited;
 * - `"relaying"`: bytes of the final response went to the client;
 * - `"tunnelling"`: after a 101, a successful `CONNECT` or a response only
 *   the close ends, bytes are copied both ways blindly.
 *
 * Only in `"forwarding"` may the front still answer for the backend
 * (a 502, a 400 for a broken request body).
 */
export type ExchangeState = "forwarding" | "interim" | "relaying" | "tunnelling";

/**
 * How the request body goes to the backend, and so who reads the client
 * connection while the response is relayed:
 * - `"whole"`: it came with the head and goes in one write; nothing reads
 *   the client connection;
 * - `"watched"`: as `"whole"`, and the client connection is read for its
 *   close while the response streams (its end ends the exchange);
 * - `"awaitingContinue"`: the rest is to be read from the client by a
 *   pump, but the client sent `Expect: 100-continue` and waits for a 1xx
 *   before it sends it;
 * - `"pumping"`: the rest is read from the client by a pump, as it comes.
 */
export type BodyState = "whole" | "watched" | "awaitingContinue" | "pumping";

/**
 * What moves an exchange on:
 * - `"interim"`: a 1xx response (not 101) was forwarded to the client;
 * - `"final"`: bytes of the final response were written to the client;
 * - `"tunnel"`: the connection became a tunnel;
 * - `"watch"`: the response needs more bytes from the backend, so the
 *   client connection may be watched for its close.
 */
export type ExchangeEvent = "interim" | "final" | "tunnel" | "watch";

/** The state of a new exchange's response: nothing sent yet. */
export const FIRST_EXCHANGE_STATE: ExchangeState = "forwarding";

/**
 * The state of a new exchange's request body.
 *
 * @param whole Whether the whole body came with the head.
 * @param expectContinue Whether the client waits for a 1xx before it sends the body.
 * @returns `"whole"`, `"awaitingContinue"` or `"pumping"`.
 *
 * @example Usage
 * ```ts
 * import { firstBodyState } from "./_exchange_state.ts";
 *
 * if (firstBodyState(false, true) !== "awaitingContinue") throw new Error();
 * if (firstBodyState(true, true) !== "whole") throw new Error();
 * ```
 */
export function firstBodyState(whole: boolean, expectContinue: boolean): BodyState {
  if (whole) return "whole";
  return expectContinue ? "awaitingContinue" : "pumping";
}

/**
 * The response's state after an event.
 *
 * @param state The state now.
 * @param event What happened; `"watch"` does not concern the response.
 * @returns The next state (`state` itself when nothing changes).
 *
 * @example Usage
 * ```ts
 * import { nextExchangeState } from "./_exchange_state.ts";
 *
 * if (nextExchangeState("forwarding", "interim") !== "interim") throw new Error();
 * if (nextExchangeState("interim", "final") !== "relaying") throw new Error();
 * ```
 */
export function nextExchangeState(state: ExchangeState, event: ExchangeEvent): ExchangeState {
  switch (event) {
    case "interim":
      // A 1xx can only come before the final response.
      return state === "forwarding" ? "interim" : state;
    case "final":
      return state === "forwarding" || state === "interim" ? "relaying" : state;
    case "tunnel":
      return "tunnelling";
    case "watch":
      return state;
  }
}

/**
 * The request body's state after an event.
 *
 * @param state The state now.
 * @param event What happened; `"final"` and `"tunnel"` do not concern the body.
 * @returns The next state (`state` itself when nothing changes).
 *
 * @example Usage
 * ```ts
 * import { nextBodyState } from "./_exchange_state.ts";
 *
 * if (nextBodyState("awaitingContinue", "interim") !== "pumping") throw new Error();
 * if (nextBodyState("whole", "watch") !== "watched") throw new Error();
 * if (nextBodyState("pumping", "watch") !== "pumping") throw new Error();
 * ```
 */
export function nextBodyState(state: BodyState, event: ExchangeEvent): BodyState {
  switch (event) {
    case "interim":
      // The 1xx is the go-ahead the client waited for.
      return state === "awaitingContinue" ? "pumping" : state;
    case "watch":
      // While a pump reads the client, it sees the client's end itself.
      return state === "whole" ? "watched" : state;
    case "final":
    case "tunnel":
      return state;
  }
}

/**
 * Whether the client has received nothing of the response yet, so that
 * the front may still answer in the backend's place.
 *
 * @param state The response's state.
 * @returns `true` in `"forwarding"`.
 */
export function unanswered(state: ExchangeState): boolean {
  return state === "forwarding";
}

/**
 * Whether a pump reads the request body from the client (and so no watch
 * of the client connection is needed).
 *
 * @param state The request body's state.
 * @returns `true` in `"awaitingContinue"` and `"pumping"`.
 */
export function pumped(state: BodyState): boolean {
  return state === "awaitingContinue" || state === "pumping";
}
