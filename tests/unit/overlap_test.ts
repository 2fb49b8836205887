/**
 * What a session learns about running the next child beside the old one.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Overlap } from "../../src/supervisor/overlap.ts";

Deno.test("Overlap: a start beside the old child that failed, then a fresh one that serves, makes every next child wait for the exit", () => {
  const overlap = new Overlap();
  assert.equal(overlap.exitFirst, undefined);
  overlap.failedBeside("AddrInUse: Address already in use");
  assert.equal(overlap.startEnded(true), "AddrInUse: Address already in use");
  assert.equal(overlap.exitFirst, "AddrInUse: Address already in use");
  // Said once: a later start changes nothing.
  overlap.failedBeside("another");
  assert.equal(overlap.startEnded(true), undefined);
  assert.equal(overlap.exitFirst, "AddrInUse: Address already in use");
});

Deno.test("Overlap: when the fresh start fails too, the code was at fault and nothing is learned", () => {
  const overlap = new Overlap();
  overlap.failedBeside("AddrInUse: Address already in use");
  assert.equal(overlap.startEnded(false), undefined);
  assert.equal(overlap.exitFirst, undefined);
  // The suspicion is spent: a later start that serves proves nothing.
  assert.equal(overlap.startEnded(true), undefined);
  assert.equal(overlap.exitFirst, undefined);
});

Deno.test("Overlap: starts that never failed beside the old child teach nothing", () => {
  const overlap = new Overlap();
  assert.equal(overlap.startEnded(true), undefined);
  assert.equal(overlap.startEnded(false), undefined);
  assert.equal(overlap.exitFirst, undefined);
});
