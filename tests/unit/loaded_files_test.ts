/**
 * The bytes of the recently changed files as a child was told to start.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LoadedFiles, MAX_FILE_BYTES, MAX_FILES } from "../../src/supervisor/loaded_files.ts";
import { withTempDir } from "../_harness/devsrv.ts";

Deno.test("LoadedFiles: unchanged only while every file holds the bytes it held", async () => {
  await withTempDir({ "a.ts": "a1", "b.ts": "b1" }, async (dir) => {
    const [a, b] = [`${dir}/a.ts`, `${dir}/b.ts`];
    const loaded = LoadedFiles.read([a, b]);
    assert.equal(loaded.unchanged([a]), true);
    assert.equal(loaded.unchanged([a, b]), true);
    await Deno.writeTextFile(b, "b2");
    assert.equal(loaded.unchanged([a, b]), false, "one of them changed");
    await Deno.writeTextFile(b, "b1");
    assert.equal(loaded.unchanged([a, b]), true, "the same bytes again");
    assert.equal(loaded.unchanged([`${dir}/c.ts`]), false, "not in the snapshot");
    assert.equal(loaded.unchanged([]), false, "nothing to compare");
    await Deno.remove(a);
    assert.equal(loaded.unchanged([a]), false, "gone");
  });
});

Deno.test("LoadedFiles: a file missing at the snapshot, a folder or a large file is never unchanged", async () => {
  await withTempDir({ "small.ts": "x" }, async (dir) => {
    const large = `${dir}/large.js`;
    await Deno.writeFile(large, new Uint8Array(MAX_FILE_BYTES + 1));
    const loaded = LoadedFiles.read([`${dir}/missing.ts`, dir, large]);
    assert.equal(loaded.unchanged([`${dir}/missing.ts`]), false);
    assert.equal(loaded.unchanged([dir]), false);
    assert.equal(loaded.unchanged([large]), false);
  });
});

Deno.test("LoadedFiles: keeps at most MAX_FILES files, the first ones given", async () => {
  const files = Object.fromEntries(
    Array.from({ length: MAX_FILES + 2 }, (_, i) => [`m${i}.ts`, `m${i}`]),
  );
  await withTempDir(files, (dir) => {
    const paths = Object.keys(files).map((name) => `${dir}/${name}`);
    const loaded = LoadedFiles.read(paths);
    assert.equal(loaded.unchanged(paths.slice(0, MAX_FILES)), true);
    assert.equal(loaded.unchanged([paths[MAX_FILES]!]), false);
    return Promise.resolve();
  });
});
