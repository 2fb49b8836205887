/**
 * The exchange's two state machines (`src/front/_exchange_state.ts`):
 * every transition, the ones that change nothing, and the paths an
 * exchange takes. The session that keeps them is tested through real
 * sockets in `tests/unit/front_*_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type BodyState,
  type ExchangeEvent,
  type ExchangeState,
  FIRST_EXCHANGE_STATE,
  firstBodyState,
  nextBodyState,
  nextExchangeState,
  pumped,
  unanswered,
} from "../../src/front/_exchange_state.ts";

const STATES: ExchangeState[] = ["forwarding", "interim", "relaying", "tunnelling"];
const BODY_STATES: BodyState[] = ["whole", "watched", "awaitingContinue", "pumping"];
const EVENTS: ExchangeEvent[] = ["interim", "final", "tunnel", "watch"];

/** Runs events in order from the first states; returns the last pair. */
function run(body: BodyState, ...events: ExchangeEvent[]): [ExchangeState, BodyState] {
  let state = FIRST_EXCHANGE_STATE;
  for (const event of events) {
    state = nextExchangeState(state, event);
    body = nextBodyState(body, event);
  }
  return [state, body];
}

Deno.test("nextExchangeState() follows the response to the client", () => {
  const table: [ExchangeState, ExchangeEvent, ExchangeState][] = [
    ["forwarding", "interim", "interim"],
    ["forwarding", "final", "relaying"],
    ["forwarding", "tunnel", "tunnelling"],
    ["forwarding", "watch", "forwarding"],
    ["interim", "interim", "interim"],
    ["interim", "final", "relaying"],
    ["interim", "tunnel", "tunnelling"],
    ["interim", "watch", "interim"],
    ["relaying", "interim", "relaying"],
    ["relaying", "final", "relaying"],
    ["relaying", "tunnel", "tunnelling"],
    ["relaying", "watch", "relaying"],
    ["tunnelling", "interim", "tunnelling"],
    ["tunnelling", "final", "tunnelling"],
    ["tunnelling", "tunnel", "tunnelling"],
    ["tunnelling", "watch", "tunnelling"],
  ];
  assert.equal(table.length, STATES.length * EVENTS.length);
  for (const [state, event, next] of table) {
    assert.equal(nextExchangeState(state, event), next, `${state} + ${event}`);
  }
});

Deno.test("nextBodyState() lets a 1xx release a waiting body and a watch start once", () => {
  const table: [BodyState, ExchangeEvent, BodyState][] = [
    ["whole", "interim", "whole"],
    ["whole", "final", "whole"],
    ["whole", "tunnel", "whole"],
    ["whole", "watch", "watched"],
    ["watched", "interim", "watched"],
    ["watched", "final", "watched"],
    ["watched", "tunnel", "watched"],
    ["watched", "watch", "watched"],
    ["awaitingContinue", "interim", "pumping"],
    ["awaitingContinue", "final", "awaitingContinue"],
    ["awaitingContinue", "tunnel", "awaitingContinue"],
    ["awaitingContinue", "watch", "awaitingContinue"],
    ["pumping", "interim", "pumping"],
    ["pumping", "final", "pumping"],
    ["pumping", "tunnel", "pumping"],
    ["pumping", "watch", "pumping"],
  ];
  assert.equal(table.length, BODY_STATES.length * EVENTS.length);
  for (const [state, event, next] of table) {
    assert.equal(nextBodyState(state, event), next, `${state} + ${event}`);
  }
});

Deno.test("firstBodyState() starts whole, waiting for 100 Continue, or pumping", () => {
  assert.equal(firstBodyState(true, false), "whole");
  assert.equal(firstBodyState(true, true), "whole");
  assert.equal(firstBodyState(false, false), "pumping");
  assert.equal(firstBodyState(false, true), "awaitingContinue");
  assert.equal(FIRST_EXCHANGE_STATE, "forwarding");
});

Deno.test("unanswered() holds only until something went to the client", () => {
  assert.deepEqual(STATES.filter(unanswered), ["forwarding"]);
  assert.equal(unanswered(run("whole", "watch")[0]), true, "a watch writes nothing");
  assert.equal(unanswered(run("whole", "interim")[0]), false);
});

Deno.test("pumped() is true while a pump, not a watch, reads the client", () => {
  assert.deepEqual(BODY_STATES.filter(pumped), ["awaitingContinue", "pumping"]);
});

Deno.test("an exchange's paths end where the session expects", () => {
  // A plain GET, its response streamed in pieces.
  assert.deepEqual(run("whole", "final", "watch", "final", "watch"), ["relaying", "watched"]);
  // Expect: 100-continue, answered with 100 and then the final response.
  assert.deepEqual(run("awaitingContinue", "interim", "final"), ["relaying", "pumping"]);
  // Expect: 100-continue, answered at once with a final response: the body never comes.
  assert.deepEqual(run("awaitingContinue", "final"), ["relaying", "awaitingContinue"]);
  // A WebSocket upgrade.
  assert.deepEqual(run("whole", "tunnel"), ["tunnelling", "whole"]);
  // A rewriter reading the app's page before anything is written.
  assert.deepEqual(run("whole", "watch", "final"), ["relaying", "watched"]);
});

Deno.test("every transition is total: any state and event give a state", () => {
  for (const state of STATES) {
    for (const event of EVENTS) assert.ok(STATES.includes(nextExchangeState(state, event)));
  }
  for (const state of BODY_STATES) {
    for (const event of EVENTS) assert.ok(BODY_STATES.includes(nextBodyState(state, event)));
  }
});
