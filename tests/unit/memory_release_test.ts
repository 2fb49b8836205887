/**
 * The parent's memory release: when a collection is worth it, and that the
 * runtime still lets the parent run one.
 *
 * @module
 */

import { equal } from "node:assert/strict";
import {
  BURST_EXCHANGES,
  collectGarbage,
  type MemoryReleaseSource,
  ReleaseDecider,
  SLACK_BYTES,
  trimNativeHeap,
} from "../../src/front/memory_release.ts";

const MB = 1024 * 1024;

/** Counters a test sets by hand. */
function source(activity: number, heapTotal: number, heapUsed: number): MemoryReleaseSource {
  return { activity: () => activity, heap: () => ({ heapTotal, heapUsed }) };
}

Deno.test("ReleaseDecider collects once traffic has stopped and the heap has slack", () => {
  const decider = new ReleaseDecider(0);
  const bloated = (activity: number) => source(activity, 40 * MB, 6 * MB);
  equal(decider.check(bloated(500)), false, "busy");
  equal(decider.check(bloated(900)), false, "still busy");
  equal(decider.check(bloated(900)), true, "quiet for a whole interval");
  equal(decider.check(bloated(900)), false, "once per burst");
});

Deno.test("ReleaseDecider leaves an idle parent and a lean heap alone", () => {
  const decider = new ReleaseDecider(7);
  equal(decider.check(source(7, 40 * MB, 6 * MB)), false, "no traffic since start");
  equal(decider.check(source(8, 10 * MB, 6 * MB)), false, "busy");
  equal(decider.check(source(8, 6 * MB + SLACK_BYTES - 1, 6 * MB)), false, "slack below the bar");
  equal(decider.check(source(8, 40 * MB, 6 * MB)), false, "that burst was judged already");
});

Deno.test("ReleaseDecider collects after a burst even when the heap stayed lean", () => {
  const decider = new ReleaseDecider(0);
  const lean = (activity: number) => source(activity, 8 * MB, 6 * MB);
  equal(decider.check(lean(10)), false, "busy");
  equal(decider.check(lean(10)), false, "a few requests leave a lean heap alone");
  equal(decider.check(lean(10 + BURST_EXCHANGES)), false, "busy");
  equal(decider.check(lean(10 + BURST_EXCHANGES)), true, "quiet after a burst");
});

Deno.test("collectGarbage() runs a full collection in this Deno", async () => {
  // If a Deno release stops allowing --expose-gc at run time, the parent
  // would silently keep its memory after bursts: fail here instead.
  equal(await collectGarbage(), true);
});

Deno.test("trimNativeHeap() reaches glibc's malloc_trim on Linux with FFI permission", () => {
  equal(trimNativeHeap(), Deno.build.os === "linux");
});
