/**
 * The child's lifecycle as a pure state machine (`transition()`): every
 * transition the supervisor relies on, with plain objects standing in for
 * child processes (the machine never touches one), then thousands of
 * random event sequences, stale reports included, against the rules that
 * must always hold. The real processes are tested end to end in
 * `tests/e2e/reloader_test.ts`, `restarts_test.ts` and
 * `zero_downtime_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  childOf,
  type Effect,
  initialLifecycle,
  type Lifecycle,
  type LifecycleEvent,
  type RestartRequest,
  startsBeforeExit,
  transition,
} from "../../src/supervisor/lifecycle.ts";
import type { AppFailure } from "../../src/pages/failure_page.ts";
import { fuzzSeed, pick, seededRandom } from "../_harness/random.ts";

/** A stand-in for a child process: the machine only compares them. */
interface Child {
  name: string;
}

type State = Lifecycle<Child>;
type Event = LifecycleEvent<Child>;

const FAILURE: AppFailure = { message: "Expression expected", detail: "", output: "" };
const CRASH: AppFailure = { kind: "crash", message: "exit code 1", detail: "", output: "" };

function child(name: string): Child {
  return { name };
}

function request(reason: string, files: string[] = [], startupFileChanged = false): RestartRequest {
  return startupFileChanged ? { reason, files, startupFileChanged } : { reason, files };
}

/** Runs events in order from a state; returns the last state and every effect, in order. */
function run(state: State, ...events: Event[]): { state: State; effects: Effect<Child>[] } {
  const effects: Effect<Child>[] = [];
  for (const event of events) {
    const next = transition(state, event);
    state = next.state;
    effects.push(...next.effects);
  }
  return { state, effects };
}

function kinds(effects: Effect<Child>[]): string[] {
  return effects.map((effect) => effect.kind);
}

/** A session whose child `first` serves. */
function serving(first: Child): State {
  return run(
    initialLifecycle<Child>(),
    { kind: "restart", request: request("start") },
    { kind: "spawned", child: first },
    { kind: "ready", child: first },
  ).state;
}

Deno.test("transition() starts the first child: spawn, launch, then serve", () => {
  const first = child("first");
  let step = transition(initialLifecycle<Child>(), {
    kind: "restart",
    request: request("start"),
  });
  assert.deepEqual(kinds(step.effects), ["restartBegun", "spawn"]);
  assert.deepEqual(step.effects[1], { kind: "spawn", fresh: false });
  assert.equal(step.state.phase.kind, "idle", "no child until it is spawned");
  step = transition(step.state, { kind: "spawned", child: first });
  assert.deepEqual(step.state.phase, { kind: "starting", child: first, abandoned: false });
  assert.deepEqual(step.effects, [{ kind: "launch", child: first }]);
  step = transition(step.state, { kind: "ready", child: first });
  assert.deepEqual(step.state.phase, { kind: "ready", child: first });
  assert.deepEqual(step.effects, [
    { kind: "serve", child: first },
    { kind: "restartEnded", request: request("start"), ok: true },
  ]);
  assert.equal(step.state.restart, undefined);
});

Deno.test("transition() restarts as stop, then start: the old child stops before the next is taken", () => {
  const [first, second] = [child("first"), child("second")];
  let step = transition(serving(first), { kind: "restart", request: request("change", ["a.ts"]) });
  assert.deepEqual(step.state.phase, { kind: "stopping", child: first });
  assert.deepEqual(kinds(step.effects), ["restartBegun", "stop"]);
  assert.deepEqual(step.effects[1], { kind: "stop", child: first });
  step = transition(step.state, { kind: "stopped", child: first });
  assert.deepEqual(step.effects, [{ kind: "spawn", fresh: false }]);
  step = run(step.state, { kind: "spawned", child: second }, { kind: "ready", child: second });
  assert.deepEqual(step.state.phase, { kind: "ready", child: second });
  assert.deepEqual(step.effects.at(-1), {
    kind: "restartEnded",
    request: request("change", ["a.ts"]),
    ok: true,
  });
});

Deno.test("transition() asks for a fresh child, not the standby, when a file Deno reads at start changed", () => {
  const step = run(
    serving(child("first")),
    { kind: "restart", request: request("change", ["deno.json"], true) },
    { kind: "stopped", child: child("first") }, // another object: not the child that stops
  );
  assert.equal(step.state.phase.kind, "stopping");
  const first = childOf(step.state.phase)!;
  const next = transition(step.state, { kind: "stopped", child: first });
  assert.deepEqual(next.effects, [{ kind: "spawn", fresh: true }]);
});

Deno.test("transition() merges what is asked while the old child stops into the restart under way", () => {
  const first = child("first");
  const step = run(
    serving(first),
    { kind: "restart", request: request("change", ["a.ts"]) },
    { kind: "restart", request: request("rs") },
    { kind: "restart", request: request("change", ["a.ts", ".env"], true) },
  );
  assert.deepEqual(step.state.pending, {
    reason: "rs",
    files: ["a.ts", ".env"],
    startupFileChanged: true,
  });
  assert.deepEqual(kinds(step.effects), ["restartBegun", "stop"], "one restart, one stop");
  const stopped = transition(step.state, { kind: "stopped", child: first });
  assert.deepEqual(stopped.effects, [{ kind: "spawn", fresh: true }]);
  assert.deepEqual(stopped.state.restart, {
    reason: "change",
    files: ["a.ts", ".env"],
    startupFileChanged: true,
  });
  assert.equal(stopped.state.pending, undefined);
});

Deno.test("transition() abandons a start that a newer change made pointless, once", () => {
  const [first, second, third] = [child("first"), child("second"), child("third")];
  let step = run(
    serving(first),
    { kind: "restart", request: request("change", ["a.ts"]) },
    { kind: "stopped", child: first },
    { kind: "spawned", child: second },
  );
  step = run(
    step.state,
    { kind: "restart", request: request("change", ["b.ts"]) },
    { kind: "restart", request: request("change", ["c.ts"]) },
  );
  assert.deepEqual(step.state.phase, { kind: "starting", child: second, abandoned: true });
  assert.deepEqual(step.effects, [{ kind: "abandon", child: second }]);
  // Its outcome still comes (here: it was ready just before it was ended).
  step = transition(step.state, { kind: "ready", child: second });
  assert.deepEqual(step.effects, [{ kind: "awaitExit", child: second }]);
  assert.equal(step.state.phase.kind, "starting", "an abandoned child never serves");
  step = transition(step.state, { kind: "gone", child: second });
  assert.deepEqual(kinds(step.effects), ["restartEnded", "restartBegun", "stop"]);
  assert.deepEqual(step.effects[0], {
    kind: "restartEnded",
    request: request("change", ["a.ts"]),
    ok: false,
  });
  assert.deepEqual(step.effects[1], {
    kind: "restartBegun",
    request: request("change", ["b.ts", "c.ts"]),
  });
  step = run(
    step.state,
    { kind: "stopped", child: second },
    { kind: "spawned", child: third },
    { kind: "ready", child: third },
  );
  assert.deepEqual(step.state.phase, { kind: "ready", child: third });
});

Deno.test("transition() shows a failed start, and keeps the child while it still runs", () => {
  const first = child("first");
  const start = run(
    initialLifecycle<Child>(),
    { kind: "restart", request: request("start") },
    { kind: "spawned", child: first },
  ).state;
  const alive = transition(start, {
    kind: "startFailed",
    child: first,
    failure: FAILURE,
    alive: true,
  });
  assert.deepEqual(alive.state.phase, { kind: "failed", failure: FAILURE, child: first });
  assert.deepEqual(alive.effects, [
    { kind: "fail", failure: FAILURE, child: first },
    { kind: "restartEnded", request: request("start"), ok: false },
  ]);
  const gone = transition(start, {
    kind: "startFailed",
    child: first,
    failure: FAILURE,
    alive: false,
  });
  assert.deepEqual(gone.state.phase, { kind: "failed", failure: FAILURE });
});

Deno.test("transition() serves a failed child whose server starts late, without a restart", () => {
  const first = child("first");
  const failed = run(
    initialLifecycle<Child>(),
    { kind: "restart", request: request("start") },
    { kind: "spawned", child: first },
    { kind: "startFailed", child: first, failure: FAILURE, alive: true },
  ).state;
  const step = transition(failed, { kind: "ready", child: first });
  assert.deepEqual(step.state.phase, { kind: "ready", child: first });
  assert.deepEqual(step.effects, [{ kind: "serve", child: first }]);
});

Deno.test("transition() restarts from a failure: a live failed child is stopped, else the next starts at once", () => {
  const first = child("first");
  const start = run(
    initialLifecycle<Child>(),
    { kind: "restart", request: request("start") },
    { kind: "spawned", child: first },
  ).state;
  const alive = run(
    start,
    { kind: "startFailed", child: first, failure: FAILURE, alive: true },
    { kind: "restart", request: request("change", ["a.ts"]) },
  );
  assert.deepEqual(kinds(alive.effects).slice(-2), ["restartBegun", "stop"]);
  const gone = run(
    start,
    { kind: "startFailed", child: first, failure: FAILURE, alive: false },
    { kind: "restart", request: request("change", ["a.ts"]) },
  );
  assert.deepEqual(kinds(gone.effects).slice(-2), ["restartBegun", "spawn"]);
  assert.equal(gone.state.phase.kind, "failed", "the 503 page stays until a child starts");
});

Deno.test("transition() restarts a child that exits with code 3, and shows any other exit", () => {
  const first = child("first");
  const asked = transition(serving(first), {
    kind: "exited",
    child: first,
    code: 3,
    failure: CRASH,
  });
  assert.deepEqual(kinds(asked.effects), ["restartAsked", "restartBegun", "stop"]);
  assert.deepEqual(asked.state.restart, { reason: "exit code 3", files: [] });
  const crashed = transition(serving(first), {
    kind: "exited",
    child: first,
    code: 1,
    failure: CRASH,
  });
  assert.deepEqual(crashed.state.phase, { kind: "failed", failure: CRASH });
  assert.deepEqual(crashed.effects, [{ kind: "fail", failure: CRASH, child: first }]);
});

Deno.test("transition() shows why no child could be started, and goes on without one", () => {
  const start = transition(initialLifecycle<Child>(), {
    kind: "restart",
    request: request("start"),
  }).state;
  const failed = transition(start, { kind: "spawnFailed", failure: FAILURE });
  assert.deepEqual(failed.state.phase, { kind: "failed", failure: FAILURE });
  assert.deepEqual(kinds(failed.effects), ["fail", "restartEnded"]);
  // Not permitted: the session ends elsewhere; the phase stays.
  const denied = transition(start, { kind: "spawnFailed", failure: undefined });
  assert.equal(denied.state.phase.kind, "idle");
  assert.deepEqual(kinds(denied.effects), ["restartEnded"]);
});

Deno.test("transition() does nothing for a report that is not the current child's", () => {
  const [first, other] = [child("first"), child("other")];
  const state = serving(first);
  for (
    const event of [
      { kind: "ready", child: other },
      { kind: "startFailed", child: other, failure: FAILURE, alive: true },
      { kind: "exited", child: other, code: 1, failure: CRASH },
      { kind: "stopped", child: first },
      { kind: "gone", child: first },
      { kind: "spawned", child: other },
      { kind: "spawnFailed", failure: FAILURE },
    ] satisfies Event[]
  ) {
    const step = transition(state, event);
    assert.equal(step.state, state, event.kind);
    assert.deepEqual(step.effects, [], event.kind);
  }
});

Deno.test("transition() ends the session once, then does nothing", () => {
  const first = child("first");
  const step = transition(serving(first), { kind: "shutdown" });
  assert.deepEqual(step.state.phase, { kind: "shutdown" });
  assert.deepEqual(step.effects, [{ kind: "stopAll", child: first }]);
  for (
    const event of [
      { kind: "restart", request: request("rs") },
      { kind: "shutdown" },
      { kind: "exited", child: first, code: 3, failure: CRASH },
    ] satisfies Event[]
  ) {
    assert.deepEqual(transition(step.state, event), { state: step.state, effects: [] });
  }
  const idle = transition(initialLifecycle<Child>(), { kind: "shutdown" });
  assert.deepEqual(idle.effects, [{ kind: "stopAll", child: undefined }]);
});

Deno.test("transition() tries a start that overlapped the old child's stop again once, after the old one exits", () => {
  const [first, second, third, fourth] = [child("1"), child("2"), child("3"), child("4")];
  let step = run(
    serving(first),
    { kind: "restart", request: request("change", ["a.ts"]) },
    { kind: "stopped", child: first, early: true },
    { kind: "spawned", child: second },
  );
  const codeError = transition(step.state, {
    kind: "startFailed",
    child: second,
    failure: FAILURE,
    alive: false,
  });
  assert.equal(codeError.state.phase.kind, "failed", "a failure of the code itself: no retry");
  step = transition(step.state, {
    kind: "startFailed",
    child: second,
    failure: FAILURE,
    alive: false,
    retryable: true,
  });
  assert.deepEqual(step.effects, [
    { kind: "retryAfterOverlap", child: second, failure: FAILURE },
    { kind: "stop", child: second, untilExit: true },
  ]);
  assert.deepEqual(step.state.phase, { kind: "stopping", child: second });
  assert.notEqual(step.state.restart, undefined, "the restart is still under way");
  step = run(
    step.state,
    { kind: "stopped", child: second },
    { kind: "spawned", child: third },
    { kind: "startFailed", child: third, failure: FAILURE, alive: false, retryable: true },
  );
  assert.deepEqual(kinds(step.effects), ["spawn", "launch", "fail", "restartEnded"]);
  assert.deepEqual(step.state.phase, { kind: "failed", failure: FAILURE });
  // The next restart may overlap, and retry, again.
  step = run(
    step.state,
    { kind: "restart", request: request("change", ["a.ts"]) },
    { kind: "spawned", child: fourth },
  );
  assert.equal(step.state.phase.kind, "starting");
  const plain = run(
    serving(first),
    { kind: "restart", request: request("change", ["a.ts"]) },
    { kind: "stopped", child: first, early: false },
    { kind: "spawned", child: second },
    { kind: "startFailed", child: second, failure: FAILURE, alive: false, retryable: true },
  );
  assert.equal(plain.state.phase.kind, "failed", "after a full stop a failure is the app's");
});

Deno.test("transition() takes a head start as the restart's next child once the old one is out of the way", () => {
  const [first, second, third] = [child("1"), child("2"), child("3")];
  let step = run(serving(first), {
    kind: "restart",
    request: request("change", ["a.ts"]),
    prepared: second,
  });
  assert.deepEqual(kinds(step.effects), ["restartBegun", "stop"]);
  assert.deepEqual(step.state.phase, { kind: "stopping", child: first });
  step = run(step.state, { kind: "stopped", child: first, early: true });
  assert.deepEqual(step.effects, [{ kind: "adopt", child: second }], "no spawn, no launch");
  assert.deepEqual(step.state.phase, { kind: "starting", child: second, abandoned: false });
  assert.equal(step.state.prepared, undefined);
  step = run(step.state, { kind: "ready", child: second });
  assert.deepEqual(kinds(step.effects), ["serve", "restartEnded"]);
  // Its failure may be the old child's doing (it loaded beside it): tried again once.
  const failed = run(
    serving(first),
    { kind: "restart", request: request("change", ["a.ts"]), prepared: second },
    { kind: "stopped", child: first, early: true },
    { kind: "startFailed", child: second, failure: FAILURE, alive: false, retryable: true },
    { kind: "stopped", child: second },
    { kind: "spawned", child: third },
  );
  assert.deepEqual(kinds(failed.effects), [
    "restartBegun",
    "stop",
    "adopt",
    "retryAfterOverlap",
    "stop",
    "spawn",
    "launch",
  ]);
  assert.deepEqual(failed.state.phase, { kind: "starting", child: third, abandoned: false });
  // From a failed app with no child: taken at once.
  const fromFailed = transition(
    { ...initialLifecycle<Child>(), phase: { kind: "failed", failure: FAILURE } },
    { kind: "restart", request: request("change", ["a.ts"]), prepared: second },
  );
  assert.deepEqual(kinds(fromFailed.effects), ["restartBegun", "adopt"]);
});

Deno.test("transition() discards a head start whose code is out of date before it is taken", () => {
  const [first, second, third, fourth] = [child("1"), child("2"), child("3"), child("4")];
  // Another restart is under way: the head start is discarded, its request waits.
  const underWay = run(
    serving(first),
    { kind: "restart", request: request("rs") },
    { kind: "restart", request: request("change", ["a.ts"]), prepared: second },
  );
  assert.deepEqual(kinds(underWay.effects), ["restartBegun", "stop", "discard"]);
  assert.deepEqual(underWay.state.pending?.files, ["a.ts"]);
  assert.equal(underWay.state.prepared, undefined);
  // A change while the old child stops: the head start loaded the code before it.
  const changedAgain = run(
    serving(first),
    { kind: "restart", request: request("change", ["a.ts"]), prepared: second },
    { kind: "restart", request: request("change", ["b.ts"]) },
    { kind: "stopped", child: first, early: true },
  );
  assert.deepEqual(kinds(changedAgain.effects), ["restartBegun", "stop", "discard", "spawn"]);
  assert.deepEqual(changedAgain.state.restart?.files, ["a.ts", "b.ts"]);
  // The session ends before it is taken.
  const ended = run(
    serving(third),
    { kind: "restart", request: request("change", ["a.ts"]), prepared: fourth },
    { kind: "shutdown" },
  );
  assert.deepEqual(ended.effects.slice(-2), [
    { kind: "discard", child: fourth },
    { kind: "stopAll", child: third },
  ]);
});

Deno.test("startsBeforeExit() starts the next child at once only when the old one waits for devsrv's own work", () => {
  const stopping = (requests: number, handler: Deno.Signal | null, hook: string | null = null) =>
    ({ type: "stopping", requests, handler, hook }) as const;
  const old = { subprocesses: 0, servesUnixSocket: false, exitFirst: false };
  assert.equal(startsBeforeExit(stopping(0, null), old), true, "nothing to wait for");
  assert.equal(startsBeforeExit(stopping(3, null), old), true, "requests finish beside the next");
  assert.equal(startsBeforeExit(stopping(0, "SIGTERM"), old), false, "the app's own shutdown");
  assert.equal(startsBeforeExit(stopping(2, "SIGINT"), old), false, "the app's own shutdown");
  assert.equal(startsBeforeExit(stopping(0, null, "unload"), old), false, "it saves as it ends");
  assert.equal(startsBeforeExit(stopping(0, null, "exit"), old), false, "Node's exit listener");
  assert.equal(
    startsBeforeExit(stopping(0, null), { ...old, subprocesses: 1 }),
    false,
    "a subprocess may hold a port",
  );
  assert.equal(
    startsBeforeExit(stopping(0, null), { ...old, servesUnixSocket: true }),
    false,
    "its own socket's path",
  );
  assert.equal(
    startsBeforeExit(stopping(0, null), { ...old, exitFirst: true }),
    false,
    "a start beside it failed before",
  );
  assert.equal(startsBeforeExit(undefined, old), false, "exited, or said nothing first");
});

/**
 * A world that answers the machine's effects as processes would, in a
 * random order and with random outcomes, and also sends stale and
 * unsolicited reports. Only `spawn` is answered at once, as the supervisor
 * does (it takes or starts the child synchronously).
 */
Deno.test("transition() keeps its rules through 2,000 random sessions, stale reports included", () => {
  const seed = fuzzSeed();
  const random = seededRandom(seed);
  for (let session = 0; session < 2000; session++) {
    let state = initialLifecycle<Child>();
    const children: Child[] = [];
    /** Reports the world owes the machine: answers to its effects. */
    const owed: Event[] = [];
    /** The answer to a `spawn`, delivered next. */
    let spawnAnswer: Event | undefined;
    let begun = 0;
    let ended = 0;
    const stopped = new Set<Child>();
    /** Head starts given to the machine, and what became of them. */
    const heads = new Set<Child>();
    const adopted = new Set<Child>();
    const discarded = new Set<Child>();
    const context = () => `seed ${seed} (DEVSRV_FUZZ_SEED=${seed}), session ${session}`;
    for (let step = 0; step < 60; step++) {
      const roll = random();
      let event: Event;
      if (spawnAnswer !== undefined) {
        event = spawnAnswer;
        spawnAnswer = undefined;
      } else if (roll < 0.45 && owed.length > 0) {
        event = owed.splice(Math.floor(random() * owed.length), 1)[0]!;
      } else if (roll < 0.6) {
        event = { kind: "restart", request: request(pick(random, ["change", "rs"]), ["a.ts"]) };
      } else if (roll < 0.7) {
        // A change with a head start: a child already loading its code.
        const prepared = child(`child ${children.length + 1}`);
        children.push(prepared);
        heads.add(prepared);
        event = { kind: "restart", request: request("change", ["a.ts"]), prepared };
      } else if (roll < 0.98 && children.length > 0) {
        // A stale or unsolicited report about any child.
        const someone = pick(random, children);
        event = pick<Event>(random, [
          { kind: "ready", child: someone },
          {
            kind: "startFailed",
            child: someone,
            failure: FAILURE,
            alive: random() < 0.5,
            retryable: random() < 0.5,
          },
          { kind: "exited", child: someone, code: pick(random, [0, 1, 3]), failure: CRASH },
          { kind: "stopped", child: someone },
          { kind: "gone", child: someone },
        ]);
      } else {
        event = { kind: "shutdown" };
      }
      const before = state;
      const next = transition(state, event);
      state = next.state;
      if (before.phase.kind === "shutdown") {
        assert.deepEqual(next.effects, [], `${context()}: effects after shutdown`);
      }
      for (const effect of next.effects) {
        switch (effect.kind) {
          case "restartBegun":
            begun++;
            assert.equal(begun - ended, 1, `${context()}: two restarts under way`);
            break;
          case "restartEnded":
            ended++;
            break;
          case "stop":
            assert.ok(
              !stopped.has(effect.child),
              `${context()}: ${effect.child.name} stopped twice`,
            );
            stopped.add(effect.child);
            owed.push({ kind: "stopped", child: effect.child, early: random() < 0.5 });
            break;
          case "spawn": {
            const spawned = child(`child ${children.length + 1}`);
            children.push(spawned);
            spawnAnswer = random() < 0.95
              ? { kind: "spawned", child: spawned }
              : { kind: "spawnFailed", failure: FAILURE };
            break;
          }
          case "launch":
            owed.push(
              random() < 0.7
                ? { kind: "ready", child: effect.child }
                : { kind: "startFailed", child: effect.child, failure: FAILURE, alive: false },
            );
            break;
          case "awaitExit":
            owed.push({ kind: "gone", child: effect.child });
            break;
          case "adopt":
            assert.ok(heads.has(effect.child), `${context()}: adopted a child never given`);
            assert.ok(!discarded.has(effect.child), `${context()}: adopted a discarded head start`);
            assert.ok(!adopted.has(effect.child), `${context()}: adopted twice`);
            adopted.add(effect.child);
            owed.push(
              random() < 0.7 ? { kind: "ready", child: effect.child } : {
                kind: "startFailed",
                child: effect.child,
                failure: FAILURE,
                alive: false,
                retryable: random() < 0.5,
              },
            );
            break;
          case "discard":
            assert.ok(heads.has(effect.child), `${context()}: discarded a child never given`);
            assert.ok(!adopted.has(effect.child), `${context()}: discarded an adopted child`);
            assert.ok(!discarded.has(effect.child), `${context()}: discarded twice`);
            discarded.add(effect.child);
            break;
        }
      }
      // The rules that hold after every event:
      const { phase } = state;
      if (phase.kind !== "shutdown" && state.restart === undefined) {
        assert.equal(state.pending, undefined, `${context()}: a restart waits with none under way`);
        assert.ok(!state.spawning, `${context()}: spawning outside a restart`);
      }
      if (phase.kind === "starting" || phase.kind === "stopping") {
        assert.notEqual(state.restart, undefined, `${context()}: ${phase.kind} outside a restart`);
      }
      if (phase.kind === "ready") {
        assert.ok(!stopped.has(phase.child), `${context()}: a stopped child serves`);
      }
      const current = childOf(phase);
      if (current !== undefined) {
        assert.ok(!discarded.has(current), `${context()}: a discarded head start is current`);
      }
      if (state.prepared !== undefined) {
        assert.notEqual(state.restart, undefined, `${context()}: a head start outside a restart`);
      }
      if (phase.kind === "shutdown") break;
    }
  }
});
