/**
 * Unit tests of the app's activity spans: the lead and the tail around a
 * span, open spans, merging and forgetting, on a manual clock.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ACTIVITY_LEAD_MS,
  ACTIVITY_TAIL_MS,
  activityAt,
  ActivityLog,
  type ActivitySpan,
} from "../../src/watch/app_activity.ts";

const SPAN: ActivitySpan = { what: "the app was answering /", startMs: 10_000, endMs: 10_020 };

Deno.test("activityAt() covers a span from its lead to its tail", () => {
  const at = (ms: number) => activityAt([SPAN], ms, ms);
  assert.equal(at(10_010), SPAN.what);
  assert.equal(at(10_000 - ACTIVITY_LEAD_MS), SPAN.what);
  assert.equal(at(10_000 - ACTIVITY_LEAD_MS - 1), undefined);
  assert.equal(at(10_020 + ACTIVITY_TAIL_MS), SPAN.what);
  assert.equal(at(10_020 + ACTIVITY_TAIL_MS + 1), undefined);
});

Deno.test("activityAt() matches a change window that overlaps a span", () => {
  assert.equal(activityAt([SPAN], 9_000, 10_000), SPAN.what);
  assert.equal(activityAt([SPAN], 9_000, 9_500), undefined);
});

Deno.test("activityAt() treats an open span as going on now and later", () => {
  const open = { ...SPAN, endMs: null };
  assert.equal(activityAt([open], 99_999_999, 99_999_999), SPAN.what);
});

Deno.test("activityAt() names the latest span that covers the change", () => {
  const later = { what: "the app was answering /b", startMs: 10_005, endMs: 10_030 };
  assert.equal(activityAt([SPAN, later], 10_010, 10_010), later.what);
});

Deno.test("ActivityLog records spans from begin to end, once", () => {
  let now = 1000;
  const log = new ActivityLog({ clock: () => now });
  const end = log.begin("the app was answering /a");
  assert.equal(log.inProgress, 1);
  assert.deepEqual(log.spans(), [{ what: "the app was answering /a", startMs: 1000, endMs: null }]);
  now = 1010;
  end();
  now = 5000;
  end(); // a second call changes nothing
  assert.equal(log.inProgress, 0);
  assert.deepEqual(log.spans(), [{ what: "the app was answering /a", startMs: 1000, endMs: 1010 }]);
});

Deno.test("ActivityLog merges spans close together without changing any answer", () => {
  let now = 1000;
  const log = new ActivityLog({ clock: () => now });
  const unmerged: ActivitySpan[] = [];
  for (let i = 0; i < 100; i++) {
    now = 1000 + i * 50;
    const end = log.begin(`the app was answering /${i}`);
    now += 3;
    end();
    unmerged.push({ what: `the app was answering /${i}`, startMs: now - 3, endMs: now });
  }
  now += 1;
  const merged = log.spans();
  assert.equal(merged.length, 1);
  for (let ms = 900; ms < 7000; ms += 7) {
    assert.equal(
      activityAt(merged, ms, ms) !== undefined,
      activityAt(unmerged, ms, ms) !== undefined,
      `at ${ms}`,
    );
  }
});

Deno.test("ActivityLog keeps spans apart when a change could fall between them", () => {
  let now = 1000;
  const log = new ActivityLog({ clock: () => now });
  log.begin("the app was answering /a")();
  now = 1000 + ACTIVITY_LEAD_MS + ACTIVITY_TAIL_MS + 100;
  log.begin("the app was answering /b")();
  assert.equal(log.spans().length, 2);
  assert.equal(
    activityAt(log.spans(), 1000 + ACTIVITY_TAIL_MS + 50, 1000 + ACTIVITY_TAIL_MS + 50),
    undefined,
  );
});

Deno.test("ActivityLog forgets spans after two minutes", () => {
  let now = 1000;
  const log = new ActivityLog({ clock: () => now });
  log.begin("the app was restarting")();
  now = 1000 + 121_000;
  assert.deepEqual(log.spans(), []);
});
