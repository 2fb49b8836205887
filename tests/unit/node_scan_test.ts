/**
 * Tests of the quick scan of a program's own modules that decides, before
 * its first start, whether the child captures `node:http`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { scanForNode } from "../../src/watch/node_scan.ts";

function reader(files: Record<string, string>): (path: string) => string | undefined {
  return (path) => files[path];
}

Deno.test("scanForNode() follows local modules and finds none", () => {
  const read = reader({
    "/app/main.ts":
      'import { greet } from "./lib/greet.ts";\nimport data from "./data.json" with { type: "json" };\nexport default { fetch: () => new Response(greet()) };',
    "/app/lib/greet.ts":
      'export { name } from "../name.js";\nexport const greet = () => "hi";\nconst later = () => import("./lazy.mts");',
    "/app/name.js": 'import "./side.mjs";\nexport const name = "x";',
    "/app/side.mjs": "",
    "/app/lib/lazy.mts": 'import main from "/app/main.ts";\nimport("./more.ts");',
    "/app/lib/more.ts": "export {};",
  });
  assert.equal(scanForNode("/app/main.ts", read), "none");
});

Deno.test("scanForNode() finds node: built-ins and npm packages in any local module", () => {
  assert.equal(
    scanForNode(
      "/a.ts",
      reader({ "/a.ts": 'import "./b.ts";', "/b.ts": 'import http from "node:http";' }),
    ),
    "node",
  );
  assert.equal(
    scanForNode("/a.ts", reader({ "/a.ts": "import express from 'npm:express@4';" })),
    "node",
  );
  assert.equal(
    scanForNode("/a.ts", reader({ "/a.ts": 'const m = await import("node:fs");' })),
    "node",
  );
});

Deno.test("scanForNode() cannot tell what it does not follow", () => {
  const unknown = (files: Record<string, string>, entry = "/a.ts") =>
    assert.equal(scanForNode(entry, reader(files)), "unknown");
  unknown({ "/a.ts": 'import { Hono } from "hono";' }); // an import map's
  unknown({ "/a.ts": 'import { serve } from "jsr:@std/http";' });
  unknown({ "/a.ts": 'import x from "https://example.com/x.ts";' });
  unknown({ "/a.ts": 'import App from "./app.tsx";', "/app.tsx": "" }); // JSX may import a runtime
  unknown({ "/a.cjs": "" }, "/a.cjs");
  unknown({ "/a.ts": 'const { createServer } = require("http");' });
  unknown({ "/a.ts": "const name = './x.ts'; await import(name);" });
  unknown({ "/a.ts": 'import "./missing.ts";' });
  unknown({ "/a.ts": 'import x from "./noext";' });
  unknown({ "/a.ts": 'const lazy = () => import("./b.ts");', "/b.ts": 'import "preact";' });
});

Deno.test("scanForNode() leaves large apps to deno info", () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 100; i++) files[`/m${i}.ts`] = `import "./m${i + 1}.ts";`;
  files["/m100.ts"] = "";
  assert.equal(scanForNode("/m0.ts", reader(files)), "unknown");
});
