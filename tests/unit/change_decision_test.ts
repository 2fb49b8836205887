/**
 * Unit tests of the decision on a batch of changes: restart, reload the
 * pages or nothing, and why, for every rule of `change_decision.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type AppKnowledge,
  type ChangeAction,
  decideChanges,
  decisionLine,
  describeReason,
} from "../../src/watch/change_decision.ts";
import type { ModuleGraph } from "../../src/watch/module_graph.ts";
import type { FileChange } from "../../src/watch/watch.ts";

const NOW = 1_800_000_000_000;

const GRAPH: ModuleGraph = {
  entry: "/app/main.ts",
  files: new Set(["/app/main.ts", "/app/lib/a.ts", "/app/lib/deep/b.ts", "/app/data.json"]),
  importers: new Map([
    ["/app/main.ts", null],
    ["/app/lib/a.ts", "/app/main.ts"],
    ["/app/lib/deep/b.ts", "/app/lib/a.ts"],
    ["/app/data.json", "/app/main.ts"],
  ]),
  npmPackages: [],
  nodeBuiltins: [],
  configFiles: ["/app/config/deno.dev.json"],
};

function app(overrides: Partial<AppKnowledge> = {}): AppKnowledge {
  return {
    entry: { kind: "module", path: "/app/main.ts" },
    graph: GRAPH,
    watchPaths: [],
    ext: undefined,
    startupFiles: [],
    ownOutput: [],
    activity: [],
    ...overrides,
  };
}

function change(
  path: string,
  kind: FileChange["kind"] = "modified",
  atMs = NOW,
): FileChange {
  return { path, kind, fromMs: atMs, toMs: atMs };
}

/** The action and the reason's words for one file. */
function verdict(
  file: FileChange,
  knowledge: AppKnowledge = app(),
): [ChangeAction, string] {
  const decision = decideChanges([file], knowledge);
  return [decision.action, describeReason(decision.lead.reason, "/app")];
}

/** A request the app answered from 10 ms before NOW to 5 ms before it. */
const REQUEST = { what: "the app was answering /notes", startMs: NOW - 10, endMs: NOW - 5 };

Deno.test("decideChanges() restarts for the entry and the files of its module graph", () => {
  assert.deepEqual(verdict(change("/app/main.ts")), ["restart", "the app's entry"]);
  assert.deepEqual(verdict(change("/app/lib/a.ts")), ["restart", "imported by main.ts"]);
  assert.deepEqual(verdict(change("/app/lib/deep/b.ts")), ["restart", "imported by lib/a.ts"]);
  assert.deepEqual(verdict(change("/app/data.json")), ["restart", "imported by main.ts"]);
  assert.deepEqual(verdict(change("/app/lib/a.ts", "deleted")), [
    "restart",
    "imported by main.ts",
  ]);
});

Deno.test("decideChanges() restarts for the entry before the graph is known", () => {
  assert.deepEqual(verdict(change("/app/main.ts"), app({ graph: undefined })), [
    "restart",
    "the app's entry",
  ]);
});

Deno.test("decideChanges() restarts for the files Deno reads at start", () => {
  for (
    const name of ["deno.json", "deno.jsonc", "package.json", ".env", ".env.local"]
  ) {
    assert.deepEqual(verdict(change(`/app/${name}`)), ["restart", "read by Deno at start"], name);
  }
  // Deno writes its lock itself as the app loads a package; deno.json or
  // package.json change with it when a person changes dependencies.
  assert.deepEqual(verdict(change("/app/deno.lock")), [
    "none",
    "Deno updates its lock file as the app loads packages",
  ]);
  const named = app({ startupFiles: ["/app/secrets/dev.env"] });
  assert.deepEqual(verdict(change("/app/secrets/dev.env"), named), [
    "restart",
    "read by Deno at start",
  ]);
  assert.deepEqual(verdict(change("/app/config/deno.dev.json")), [
    "restart",
    "read by Deno at start",
  ]);
});

Deno.test("decideChanges() restarts for --watch paths and --ext extensions", () => {
  const knowledge = app({ watchPaths: ["/app/content", "/srv/shared/site.yaml"], ext: [".sql"] });
  assert.deepEqual(verdict(change("/app/content/post.md"), knowledge), [
    "restart",
    "named by --watch",
  ]);
  assert.deepEqual(verdict(change("/srv/shared/site.yaml"), knowledge), [
    "restart",
    "named by --watch",
  ]);
  assert.deepEqual(verdict(change("/app/queries/users.sql"), knowledge), [
    "restart",
    "listed by --ext",
  ]);
  assert.deepEqual(verdict(change("/app/contentious.md"), knowledge)[0], "none");
});

Deno.test("decideChanges() restarts for a source file created or removed, not for one edited outside the graph", () => {
  assert.deepEqual(verdict(change("/app/routes/new.ts", "created")), [
    "restart",
    "new source file",
  ]);
  assert.deepEqual(verdict(change("/app/routes/old.tsx", "deleted")), [
    "restart",
    "source file removed",
  ]);
  assert.deepEqual(verdict(change("/app/public/client.js")), [
    "reload",
    "a source file the app does not import",
  ]);
});

Deno.test("decideChanges() reloads the pages for markup, styles, templates and images outside the graph", () => {
  for (
    const path of [
      "/app/views/index.html",
      "/app/static/site.css",
      "/app/views/layout.eta",
      "/app/views/page.njk",
      "/app/static/logo.svg",
      "/app/static/photo.webp",
    ]
  ) {
    assert.deepEqual(verdict(change(path))[0], "reload", path);
  }
});

Deno.test("decideChanges() does nothing for data the app does not import", () => {
  for (
    const path of [
      "/app/db.json",
      "/app/notes/today.md",
      "/app/notes.txt",
      "/app/settings.yaml",
      "/app/server.log",
      "/app/app.sqlite",
      "/app/uploads/report.pdf",
    ]
  ) {
    assert.deepEqual(verdict(change(path)), ["none", "not imported by the app"], path);
  }
});

Deno.test("decideChanges() takes a change made while the app answered a request as its own write", () => {
  const busy = app({ activity: [REQUEST] });
  for (
    const file of [
      change("/app/cache/index.html"),
      change("/app/routes/generated.ts"),
      change("/app/db.json"),
      change("/app/content/post.md"),
    ]
  ) {
    assert.deepEqual(verdict(file, busy), [
      "none",
      "written while the app was answering /notes, or just after",
    ], file.path);
  }
  const watched = app({ activity: [REQUEST], watchPaths: ["/app/content"] });
  assert.deepEqual(verdict(change("/app/content/post.md"), watched)[0], "none");
});

Deno.test("decideChanges() restarts for a graph or start-up file even while the app is at work", () => {
  const busy = app({ activity: [REQUEST] });
  assert.deepEqual(verdict(change("/app/lib/a.ts"), busy)[0], "restart");
  assert.deepEqual(verdict(change("/app/deno.json"), busy)[0], "restart");
});

Deno.test("decideChanges() dates a change by its window: a write well after the request is a person's", () => {
  const busy = app({ activity: [REQUEST] });
  assert.equal(
    verdict(change("/app/views/index.html", "modified", NOW + 5_000), busy)[0],
    "reload",
  );
  assert.equal(
    verdict(change("/app/views/index.html", "modified", NOW - 60_000), busy)[0],
    "reload",
  );
  const open = app({ activity: [{ ...REQUEST, endMs: null }] });
  assert.equal(verdict(change("/app/views/index.html", "modified", NOW + 5_000), open)[0], "none");
});

Deno.test("decideChanges() does nothing for devsrv's own output, whatever its name", () => {
  const knowledge = app({ ownOutput: ["/app/devsrv.html", "/app/devsrv.log"] });
  assert.deepEqual(verdict(change("/app/devsrv.html"), knowledge), ["none", "devsrv's own output"]);
  assert.deepEqual(verdict(change("/app/devsrv.log"), knowledge), ["none", "devsrv's own output"]);
});

Deno.test("decideChanges() falls back to the extension rule while the graph is unknown", () => {
  const unknown = app({
    graph: undefined,
    graphUnknownReason: "deno info took more than 10000 ms",
  });
  assert.deepEqual(verdict(change("/app/lib/a.ts"), unknown), [
    "restart",
    "module graph unknown: deno info took more than 10000 ms",
  ]);
  assert.deepEqual(verdict(change("/app/notes.md"), unknown)[0], "restart");
  assert.deepEqual(verdict(change("/app/settings.yaml"), unknown)[0], "restart");
  assert.deepEqual(verdict(change("/app/photo.png"), unknown)[0], "reload");
  assert.deepEqual(verdict(change("/app/app.sqlite"), unknown)[0], "none");
  const unknownBusy = app({ graph: undefined, activity: [REQUEST] });
  assert.deepEqual(verdict(change("/app/lib/gen.ts"), unknownBusy)[0], "none");
});

Deno.test("decideChanges() restarts for a new source file even while the app is at work, unless the app said it wrote it", () => {
  const busy = app({ activity: [REQUEST] });
  assert.deepEqual(verdict(change("/app/routes/new.ts", "created"), busy), [
    "restart",
    "new source file",
  ]);
  const reported = app({ activity: [REQUEST], appWrites: new Map([["/app/routes/new.ts", NOW]]) });
  assert.deepEqual(verdict(change("/app/routes/new.ts", "created"), reported), [
    "none",
    "written by the app",
  ]);
});

Deno.test("decideChanges() restarts for any file while the app is failing, but not for its own writes", () => {
  const failing = app({ appFailing: true });
  for (const path of ["/app/lib/not_yet_imported.ts", "/app/missing-config.json", "/app/x.html"]) {
    assert.deepEqual(verdict(change(path, "created"), failing), [
      "restart",
      "the app is failing: a fix may be in any file",
    ], path);
  }
  const starting = app({ appFailing: true, activity: [REQUEST] });
  assert.deepEqual(verdict(change("/app/crash.log"), starting)[0], "none");
  const own = app({ appFailing: true, ownOutput: ["/app/devsrv.log"] });
  assert.deepEqual(verdict(change("/app/devsrv.log"), own)[0], "none");
});

Deno.test("decideChanges() reloads the pages for every file of a static directory", () => {
  const site = app({ entry: { kind: "static", root: "/app/site" }, graph: undefined });
  assert.deepEqual(verdict(change("/app/site/index.html"), site), ["reload", "served file"]);
  assert.deepEqual(verdict(change("/app/site/data.json"), site), ["reload", "served file"]);
  assert.deepEqual(verdict(change("/app/db.json"), site), ["none", "not imported by the app"]);
  const onlyHtml = app({ entry: { kind: "static", root: "/app/site" }, ext: ["html"] });
  assert.deepEqual(verdict(change("/app/site/data.json"), onlyHtml), [
    "none",
    "not listed by --ext",
  ]);
  const watched = app({ entry: { kind: "static", root: "/app/site" }, watchPaths: ["/app/src"] });
  assert.deepEqual(verdict(change("/app/src/build.ts"), watched), ["reload", "named by --watch"]);
});

Deno.test("decideChanges() takes the strongest action of a batch and names the file that decided", () => {
  const decision = decideChanges([
    change("/app/db.json"),
    change("/app/views/index.html"),
    change("/app/lib/deep/b.ts"),
    change("/app/lib/a.ts"),
  ], app());
  assert.equal(decision.action, "restart");
  assert.equal(decision.lead.path, "/app/lib/deep/b.ts");
  assert.deepEqual(decision.files.map((file) => file.action), [
    "none",
    "reload",
    "restart",
    "restart",
  ]);
  assert.equal(
    decisionLine(decision, "/app"),
    "lib/deep/b.ts changed (imported by lib/a.ts) and 1 more · restarting",
  );
});

Deno.test("decideChanges() rejects an empty batch", () => {
  assert.throws(() => decideChanges([], app()), RangeError);
});

Deno.test("decisionLine() says what changed, why, and what happens", () => {
  const line = (files: FileChange[], knowledge = app()) =>
    decisionLine(decideChanges(files, knowledge), "/app");
  assert.equal(
    line([change("/app/lib/a.ts")]),
    "lib/a.ts changed (imported by main.ts) · restarting",
  );
  assert.equal(
    line([change("/app/routes/x.ts", "created")]),
    "routes/x.ts created (new source file) · restarting",
  );
  assert.equal(
    line([change("/app/views/index.html")]),
    "views/index.html changed · reloading pages",
  );
  assert.equal(
    line([change("/app/static/a.css"), change("/app/static/b.css")]),
    "static/a.css changed and 1 more · updating stylesheets",
  );
  assert.equal(
    line([change("/app/notes.md")]),
    "notes.md changed (not imported by the app) · no restart",
  );
  assert.equal(
    line([change("/srv/elsewhere/x.html")]),
    "/srv/elsewhere/x.html changed · reloading pages",
  );
});

Deno.test("decideChanges() takes a file the app reported writing as its own, and a module saved during a restart as a person's", () => {
  const written = app({ appWrites: new Map([["/app/public/report.html", NOW - 300]]) });
  assert.deepEqual(verdict(change("/app/public/report.html"), written), [
    "none",
    "written by the app",
  ]);
  const stale = app({ graphStale: true });
  assert.deepEqual(verdict(change("/app/routes/new.ts"), stale), [
    "restart",
    "a source file, while the module graph is worked out again after a restart",
  ]);
});
