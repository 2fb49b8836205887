/**
 * Unit tests of the debouncer, on a manual clock (and once on real timers).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type DebounceClock,
  Debouncer,
  MAX_WAIT_FACTOR,
  maxWaitFor,
  MIN_MAX_WAIT_MS,
  type TimerHandle,
} from "../../src/watch/debounce.ts";
import { DEFAULT_DEBOUNCE_MS } from "../../src/options.ts";

/** A clock that moves only when told to, firing due timers in order. */
class ManualClock implements DebounceClock {
  #now = 0;
  #next = 1;
  readonly #timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + delayMs, callback });
    return id as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as unknown as number);
  }

  /** How many timers are scheduled. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= end)
        .sort(([, a], [, b]) => a.at - b.at)[0];
      if (due === undefined) break;
      const [id, timer] = due;
      this.#timers.delete(id);
      this.#now = timer.at;
      timer.callback();
    }
    this.#now = end;
  }
}

function setup(quietMs = 30, maxWaitMs?: number) {
  const clock = new ManualClock();
  const batches: string[][] = [];
  const debouncer = new Debouncer((paths) => batches.push(paths), {
    quietMs,
    clock,
    ...(maxWaitMs === undefined ? {} : { maxWaitMs }),
  });
  return { clock, batches, debouncer };
}

Deno.test("Debouncer with the default quiet period makes an editor's save one batch", () => {
  const { clock, batches, debouncer } = setup(DEFAULT_DEBOUNCE_MS);
  // truncate, write, a temporary file renamed over, chmod: a step every 2 ms.
  for (const path of ["/app.ts", "/app.ts", "/app.ts", "/app.ts"]) {
    debouncer.add([path]);
    clock.advance(2);
  }
  assert.deepEqual(batches, []);
  clock.advance(DEFAULT_DEBOUNCE_MS - 2);
  assert.deepEqual(batches, [["/app.ts"]]);
  // A step that comes later than the quiet period is another batch (the
  // supervisor then abandons a start that it overtakes).
  debouncer.add(["/app.ts"]);
  clock.advance(DEFAULT_DEBOUNCE_MS);
  debouncer.add(["/app.ts"]);
  clock.advance(DEFAULT_DEBOUNCE_MS);
  assert.deepEqual(batches, [["/app.ts"], ["/app.ts"], ["/app.ts"]]);
});

Deno.test("Debouncer hands over one sorted, unique batch after the quiet period", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.add(["/b.ts", "/a.ts"]);
  clock.advance(10);
  debouncer.add(["/b.ts", "/c.ts"]);
  clock.advance(29);
  assert.deepEqual(batches, []);
  assert.equal(debouncer.pending, 3);
  clock.advance(1);
  assert.deepEqual(batches, [["/a.ts", "/b.ts", "/c.ts"]]);
  assert.equal(debouncer.pending, 0);
  assert.equal(clock.pending, 0);
});

Deno.test("Debouncer restarts the quiet period for a path already in the batch", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.add(["/a.ts"]);
  clock.advance(20);
  debouncer.add(["/a.ts"]);
  clock.advance(20);
  assert.deepEqual(batches, []);
  clock.advance(10);
  assert.deepEqual(batches, [["/a.ts"]]);
});

Deno.test("Debouncer ignores an empty add", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.add([]);
  assert.equal(clock.pending, 0);
  debouncer.add(["/a.ts"]);
  clock.advance(20);
  debouncer.add([]);
  clock.advance(10);
  assert.deepEqual(batches, [["/a.ts"]]);
});

Deno.test("Debouncer never holds a steady stream longer than the maximum wait", () => {
  const { clock, batches, debouncer } = setup(30);
  for (let t = 0; t < 2500; t += 10) {
    debouncer.add([`/f${t}.ts`]);
    clock.advance(10);
  }
  assert.equal(batches.length, 2); // at 1000 ms and at 2000 ms
  assert.equal(batches[0]!.length, 100);
  assert.equal(batches[1]!.length, 100);
  clock.advance(30);
  assert.equal(batches.length, 3);
});

Deno.test("Debouncer makes a burst of 50 changes one batch", () => {
  const { clock, batches, debouncer } = setup(30);
  for (let i = 0; i < 50; i++) {
    debouncer.add(["/app.ts"]);
    clock.advance(1);
  }
  clock.advance(100);
  assert.deepEqual(batches, [["/app.ts"]]);
});

Deno.test("Debouncer holds the batch while a watcher is still working", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.add(["/a.ts"]);
  debouncer.hold();
  clock.advance(100);
  assert.deepEqual(batches, [], "the quiet period ended, but work goes on");
  debouncer.add(["/b.ts"]);
  debouncer.release();
  assert.deepEqual(batches, [], "a fresh change restarted the quiet period");
  clock.advance(30);
  assert.deepEqual(batches, [["/a.ts", "/b.ts"]]);
});

Deno.test("Debouncer flushes on release when the quiet period ended meanwhile", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.hold();
  debouncer.hold();
  debouncer.add(["/a.ts"]);
  clock.advance(50);
  debouncer.release();
  assert.deepEqual(batches, [], "still held once");
  debouncer.release();
  assert.deepEqual(batches, [["/a.ts"]]);
  debouncer.release(); // unpaired: no effect
  assert.equal(clock.pending, 0);
});

Deno.test("Debouncer does not hold a batch past the maximum wait", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.hold();
  debouncer.add(["/a.ts"]);
  clock.advance(MIN_MAX_WAIT_MS - 1);
  assert.deepEqual(batches, []);
  clock.advance(1);
  assert.deepEqual(batches, [["/a.ts"]]);
  debouncer.release();
  assert.equal(batches.length, 1);
});

Deno.test("Debouncer with an empty batch is not affected by hold and release", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.hold();
  clock.advance(100);
  debouncer.release();
  assert.deepEqual(batches, []);
  assert.equal(clock.pending, 0);
});

Deno.test("Debouncer.flush() hands over at once and close() drops the batch", () => {
  const { clock, batches, debouncer } = setup(30);
  debouncer.add(["/a.ts"]);
  debouncer.flush();
  assert.deepEqual(batches, [["/a.ts"]]);
  debouncer.flush();
  assert.equal(batches.length, 1, "an empty batch is never handed over");
  debouncer.add(["/b.ts"]);
  debouncer.close();
  debouncer.add(["/c.ts"]);
  clock.advance(1000);
  assert.deepEqual(batches, [["/a.ts"]]);
  assert.equal(clock.pending, 0);
});

Deno.test("Debouncer with a zero quiet period hands over on the next tick", () => {
  const { clock, batches, debouncer } = setup(0);
  debouncer.add(["/a.ts"]);
  assert.deepEqual(batches, []);
  clock.advance(0);
  assert.deepEqual(batches, [["/a.ts"]]);
});

Deno.test("Debouncer takes an explicit maximum wait", () => {
  const { clock, batches, debouncer } = setup(30, 50);
  for (let i = 0; i < 6; i++) {
    debouncer.add(["/a.ts"]);
    clock.advance(10);
  }
  assert.deepEqual(batches, [["/a.ts"]]);
});

Deno.test("Debouncer rejects negative periods", () => {
  assert.throws(() => new Debouncer(() => {}, { quietMs: -1 }), RangeError);
  assert.throws(
    () => new Debouncer(() => {}, { quietMs: 10, maxWaitMs: Number.NaN }),
    RangeError,
  );
});

Deno.test("maxWaitFor() is ten quiet periods, at least one second", () => {
  assert.equal(maxWaitFor(30), MIN_MAX_WAIT_MS);
  assert.equal(maxWaitFor(500), 500 * MAX_WAIT_FACTOR);
});

Deno.test("Debouncer works on real timers", async () => {
  const batches: string[][] = [];
  const debouncer = new Debouncer((paths) => batches.push(paths), {
    quietMs: 5,
  });
  try {
    debouncer.add(["/a.ts"]);
    debouncer.add(["/b.ts"]);
    const deadline = performance.now() + 5000;
    while (batches.length === 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.deepEqual(batches, [["/a.ts", "/b.ts"]]);
  } finally {
    debouncer.close();
  }
});
