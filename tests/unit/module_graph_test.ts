/**
 * Tests of the module graph: the flags passed on to `deno info`, the
 * parsing of its JSON, and the real `deno info --json` on apps in temp
 * directories (imports at any depth, JSON and text imports, dynamic
 * imports, npm packages, `node:` built-ins, a `--config` import map, and
 * every way it fails).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  configFilesFor,
  infoArgs,
  loadModuleGraph,
  parseModuleGraph,
  resolutionFlags,
} from "../../src/watch/module_graph.ts";
import { withTempDir } from "../_harness/devsrv.ts";

Deno.test("resolutionFlags() keeps the flags that change resolution, before the script only", () => {
  assert.deepEqual(
    resolutionFlags([
      "run",
      "-A",
      "--config",
      "deno.dev.json",
      "--import-map=map.json",
      "--no-lock",
      "--lock=deno.lock",
      "--node-modules-dir=auto",
      "--unstable-raw-imports",
      "--unstable-kv",
      "--env-file=.env",
      "--no-config",
      "main.ts",
      "--config",
      "theirs.json",
    ]),
    [
      "--config=deno.dev.json",
      "--import-map=map.json",
      "--node-modules-dir=auto",
      "--unstable-raw-imports",
      "--unstable-kv",
      "--no-config",
    ],
  );
  assert.deepEqual(resolutionFlags(["run", "-c", "x.json", "--vendor", "main.ts"]), [
    "--config=x.json",
    "--vendor",
  ]);
  assert.deepEqual(resolutionFlags([]), []);
});

Deno.test("infoArgs() never lets deno info write the lock file", () => {
  assert.deepEqual(infoArgs("/app/main.ts", ["run", "-A", "--lock=deno.lock", "main.ts"]), [
    "info",
    "--json",
    "--no-lock",
    "/app/main.ts",
  ]);
});

Deno.test("parseModuleGraph() finds one importer per file on a shortest chain", () => {
  const parsed = parseModuleGraph({
    roots: ["file:///app/main.ts"],
    modules: [
      {
        kind: "esm",
        specifier: "file:///app/main.ts",
        dependencies: [
          { specifier: "./a.ts", code: { specifier: "file:///app/a.ts" } },
          { specifier: "./c.ts", code: { specifier: "file:///app/c.ts" } },
          { specifier: "node:http", code: { specifier: "node:http" } },
          { specifier: "npm:hono", code: { specifier: "npm:/hono@4.0.0" } },
        ],
      },
      {
        kind: "esm",
        specifier: "file:///app/a.ts",
        dependencies: [
          { specifier: "./b.ts", code: { specifier: "file:///app/b.ts" } },
          { specifier: "./c.ts", code: { specifier: "file:///app/c.ts" } },
          { specifier: "./types.d.ts", type: { specifier: "file:///app/types.d.ts" } },
        ],
      },
      { kind: "esm", specifier: "file:///app/b.ts" },
      { kind: "esm", specifier: "file:///app/c.ts" },
      { kind: "esm", specifier: "file:///app/types.d.ts" },
      { kind: "node", specifier: "node:http" },
      { kind: "npm", specifier: "npm:/hono@4.0.0", npmPackage: "hono@4.0.0" },
    ],
    npmPackages: { "hono@4.0.0": {}, "other@1.0.0": {} },
  }, "/app/main.ts");
  assert.equal(parsed.kind, "known");
  if (parsed.kind !== "known") return;
  const { graph } = parsed;
  assert.deepEqual([...graph.importers], [
    ["/app/main.ts", null],
    ["/app/a.ts", "/app/main.ts"],
    ["/app/c.ts", "/app/main.ts"],
    ["/app/b.ts", "/app/a.ts"],
    ["/app/types.d.ts", "/app/a.ts"],
  ]);
  assert.deepEqual([...graph.files].sort(), [
    "/app/a.ts",
    "/app/b.ts",
    "/app/c.ts",
    "/app/main.ts",
    "/app/types.d.ts",
  ]);
  assert.deepEqual(graph.nodeBuiltins, ["node:http"]);
  assert.deepEqual(graph.npmPackages, ["hono@4.0.0", "other@1.0.0"]);
});

Deno.test("parseModuleGraph() is unknown when Deno reports an error or the JSON is not its own", () => {
  const broken = parseModuleGraph({
    roots: ["file:///app/main.ts"],
    modules: [
      { kind: "esm", specifier: "file:///app/main.ts" },
      { specifier: "file:///app/gone.ts", error: 'Module not found "file:///app/gone.ts".' },
    ],
  }, "/app/main.ts");
  assert.deepEqual(broken, {
    kind: "unknown",
    reason: 'Module not found "file:///app/gone.ts".',
  });
  assert.equal(parseModuleGraph(null, "/app/main.ts").kind, "unknown");
  assert.equal(parseModuleGraph({ modules: [] }, "/app/main.ts").kind, "unknown");
});

const APP_FILES: Record<string, string> = {
  "main.ts": `import { a } from "./lib/a.ts";
import data from "./data.json" with { type: "json" };
import query from "./queries/users.sql" with { type: "text" };
import { createServer } from "node:http";
export default {
  async fetch() {
    const { later } = await import("./lib/later.ts");
    const name = "one";
    const route = await import(\`./routes/\${name}.ts\`);
    return new Response(a + data.x + query + later + route.default + typeof createServer);
  },
};
`,
  "lib/a.ts": 'export { b as a } from "./deep/b.ts";\n',
  "lib/deep/b.ts": 'import c from "./c.ts";\nexport const b = "b" + c;\n',
  "lib/deep/c.ts": 'export default "c";\n',
  "lib/later.ts": "export const later = 1;\n",
  "routes/one.ts": "export default 1;\n",
  "routes/two.ts": "export default 2;\n",
  "data.json": '{"x":1}\n',
  "queries/users.sql": "select 1;\n",
  "db.json": '{"not":"imported"}\n',
  "deno.json": "{}\n",
};

Deno.test("loadModuleGraph() lists every local file the entry imports", async () => {
  await withTempDir(APP_FILES, async (dir) => {
    const result = await loadModuleGraph("main.ts", { cwd: dir });
    assert.equal(result.kind, "known", result.kind === "unknown" ? result.reason : "");
    if (result.kind !== "known") return;
    const graph = result.graph;
    const local = (path: string) => `${dir}/${path}`;
    assert.equal(graph.entry, local("main.ts"));
    assert.deepEqual(
      [...graph.files].sort(),
      [
        "data.json",
        "lib/a.ts",
        "lib/deep/b.ts",
        "lib/deep/c.ts",
        "lib/later.ts",
        "main.ts",
        "queries/users.sql",
        "routes/one.ts",
        "routes/two.ts",
      ].map(local),
    );
    assert.equal(graph.importers.get(local("lib/deep/c.ts")), local("lib/deep/b.ts"));
    assert.equal(graph.importers.get(local("lib/deep/b.ts")), local("lib/a.ts"));
    assert.equal(graph.importers.get(local("data.json")), local("main.ts"));
    assert.deepEqual(graph.nodeBuiltins, ["node:http"]);
    assert.deepEqual(graph.configFiles, [local("deno.json")]);
    assert.ok(result.ms >= 0);
  });
});

Deno.test("loadModuleGraph() works at the lowest CPU priority too", async () => {
  await withTempDir(
    { "main.ts": 'import "./lib.ts";\n', "lib.ts": "export {};\n" },
    async (dir) => {
      const result = await loadModuleGraph("main.ts", { cwd: dir, priority: "low" });
      assert.equal(result.kind, "known", result.kind === "unknown" ? result.reason : "");
      if (result.kind === "known") assert.equal(result.graph.files.size, 2);
    },
  );
});

Deno.test("loadModuleGraph() lists the npm packages", async () => {
  await withTempDir({
    "main.ts": 'import mime from "npm:mime@4.1.2/lite";\nconsole.log(mime);\n',
  }, async (dir) => {
    const result = await loadModuleGraph(`${dir}/main.ts`, { cwd: dir });
    assert.equal(result.kind, "known", result.kind === "unknown" ? result.reason : "");
    if (result.kind !== "known") return;
    assert.deepEqual(result.graph.npmPackages, ["mime@4.1.2"]);
    assert.deepEqual([...result.graph.files], [`${dir}/main.ts`]);
  });
});

Deno.test("loadModuleGraph() resolves with the --config the app runs with", async () => {
  await withTempDir({
    "main.ts": 'import { x } from "#lib/x.ts";\nconsole.log(x);\n',
    "src/x.ts": "export const x = 1;\n",
    "deno.dev.json": '{ "imports": { "#lib/": "./src/" } }\n',
  }, async (dir) => {
    const without = await loadModuleGraph("main.ts", { cwd: dir });
    assert.equal(without.kind, "unknown");
    const result = await loadModuleGraph("main.ts", {
      cwd: dir,
      denoArgs: ["run", "-A", "--config", "deno.dev.json", "main.ts"],
    });
    assert.equal(result.kind, "known", result.kind === "unknown" ? result.reason : "");
    if (result.kind !== "known") return;
    assert.deepEqual([...result.graph.files].sort(), [`${dir}/main.ts`, `${dir}/src/x.ts`]);
    assert.deepEqual(result.graph.configFiles, [`${dir}/deno.dev.json`]);
  });
});

Deno.test("loadModuleGraph() is unknown for a syntax error or a missing module, and says where", async () => {
  await withTempDir({
    "main.ts": 'import "./broken.ts";\n',
    "broken.ts": "export const x = (;\n",
    "other.ts": 'import "./missing.ts";\n',
  }, async (dir) => {
    const broken = await loadModuleGraph("main.ts", { cwd: dir });
    assert.equal(broken.kind, "unknown");
    if (broken.kind === "unknown") assert.match(broken.reason, /broken\.ts.*Expression expected/);
    const missing = await loadModuleGraph("other.ts", { cwd: dir });
    assert.equal(missing.kind, "unknown");
    if (missing.kind === "unknown") assert.match(missing.reason, /Module not found .*missing\.ts/);
  });
});

Deno.test("loadModuleGraph() is unknown when deno cannot run or takes too long", async () => {
  await withTempDir({ "main.ts": "export {};\n" }, async (dir) => {
    const absent = await loadModuleGraph("main.ts", { cwd: dir, denoPath: `${dir}/no-deno` });
    assert.equal(absent.kind, "unknown");
    if (absent.kind === "unknown") assert.match(absent.reason, /^cannot run .*no-deno/);
    const slow = await loadModuleGraph("main.ts", { cwd: dir, timeoutMs: 1 });
    assert.deepEqual(slow.kind === "unknown" && slow.reason, "deno info took more than 1 ms");
    const controller = new AbortController();
    controller.abort();
    const stopped = await loadModuleGraph("main.ts", { cwd: dir, signal: controller.signal });
    assert.equal(stopped.kind, "unknown");
  });
});

Deno.test("configFilesFor() finds the configuration, lock and import map Deno reads", async () => {
  await withTempDir({
    "deno.jsonc": '{\n  // the import map\n  "importMap": "./maps/import_map.json"\n}\n',
    "deno.lock": "{}\n",
    "maps/import_map.json": '{ "imports": {} }\n',
    "app/package.json": "{}\n",
    "app/main.ts": "export {};\n",
  }, (dir) => {
    assert.deepEqual(configFilesFor(`${dir}/app/main.ts`, [], dir), [
      `${dir}/app/package.json`,
      `${dir}/deno.jsonc`,
      `${dir}/deno.lock`,
      `${dir}/maps/import_map.json`,
    ]);
    assert.deepEqual(
      configFilesFor(`${dir}/app/main.ts`, ["run", "--no-config", "main.ts"], dir),
      [],
    );
    return Promise.resolve();
  });
});
