/**
 * The import check of `deno task test` (`scripts/check_imports.ts`): its
 * cycle finder and its rules on small graphs, then on devsrv's own modules.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  checkRepository,
  type Edge,
  findCycles,
  groupOf,
  importProblems,
  PRELOAD_MODULE,
} from "../../scripts/check_imports.ts";

function edge(from: string, to: string, extra: Partial<Edge> = {}): Edge {
  return { from, to, dynamic: false, typeOnly: false, ...extra };
}

Deno.test("findCycles() finds every circle, self-imports included, and nothing else", () => {
  assert.deepEqual(findCycles([["a", "b"], ["b", "a"], ["b", "c"], ["d", "d"]]), [
    ["a", "b"],
    ["d"],
  ]);
  assert.deepEqual(findCycles([["a", "b"], ["b", "c"], ["a", "c"]]), []);
  const chain = Array.from({ length: 20_000 }, (_, i) => [`m${i}`, `m${i + 1}`] as const);
  assert.deepEqual(findCycles([...chain, ["m20000", "m0"]]).map((cycle) => cycle.length), [20_001]);
});

Deno.test("groupOf() names a module's folder, an entry file, or the shared root", () => {
  assert.equal(groupOf("main.ts"), "main.ts");
  assert.equal(groupOf("src/cli/main.ts"), "src/cli");
  assert.equal(groupOf("src/supervisor/lifecycle.ts"), "src/supervisor");
  assert.equal(groupOf("src/options.ts"), "src");
});

Deno.test("importProblems() accepts downward imports and refuses upward ones", () => {
  assert.deepEqual(
    importProblems([
      edge("main.ts", "src/cli/main.ts"),
      edge("src/cli/main.ts", "src/run.ts"),
      edge("src/run.ts", "src/supervisor/supervisor.ts", { dynamic: true }),
      edge("src/supervisor/supervisor.ts", "src/serve/app_source.ts"),
      edge("src/serve/app_source.ts", "src/static/static_files.ts"),
      edge("src/static/static_files.ts", "src/pages/html.ts"),
      edge("src/pages/html.ts", "src/errors.ts"),
    ], new Map()),
    [],
  );
  const upward = importProblems([edge("src/serve/app_source.ts", "src/cli/entry.ts")], new Map());
  assert.equal(upward.length, 1);
  assert.match(upward[0]!, /src\/serve\/app_source\.ts imports src\/cli\/entry\.ts/);
  const typeOnly = importProblems([
    edge("src/front/_client_session.ts", "src/front/front.ts", { typeOnly: true }),
    edge("src/front/front.ts", "src/front/_client_session.ts"),
  ], new Map());
  assert.deepEqual(typeOnly, [
    "modules import each other in a circle: src/front/_client_session.ts, src/front/front.ts",
  ]);
});

Deno.test("importProblems() refuses a node: module in the preload module's static graph only", () => {
  const edges = [
    edge(PRELOAD_MODULE, "src/serve/program.ts"),
    edge("src/serve/program.ts", "src/serve/capture_node_http.ts", { dynamic: true }),
  ];
  const external = new Map([["src/serve/capture_node_http.ts", ["node:http"]]]);
  assert.deepEqual(importProblems(edges, external), []);
  external.set("src/serve/program.ts", ["node:path"]);
  const problems = importProblems(edges, external);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /src\/serve\/program\.ts imports node:path/);
});

Deno.test("devsrv's own modules import only downward, in no circle, and the preload stays node-free", async () => {
  assert.deepEqual(await checkRepository(fileURLToPath(new URL("../../", import.meta.url))), []);
});
