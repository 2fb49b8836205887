/**
 * End-to-end tests of file watching: real temp directories, real
 * `Deno.watchFs` and real stat polling. Every behaviour runs against both
 * watchers. That something did NOT cause a batch is shown with a sentinel:
 * make the change, then change a watched sentinel file, and check that the
 * batches up to the sentinel's hold only the sentinel.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type ChangeBatch,
  type FileChange,
  startWatching,
  type Watching,
  type WatchOptions,
} from "../../src/watch/watch.ts";
import { WatchedTree } from "../../src/watch/_watched_tree.ts";
import { EarlyWatch } from "../../src/watch/early_watch.ts";
import { missingOutsideCi, waitFor } from "../_harness/devsrv.ts";

type Kind = "watchfs" | "poll";
const KINDS: readonly Kind[] = ["watchfs", "poll"];

/** Short periods keep the suite fast; the deadline is generous for slow CI. */
const DEBOUNCE_MS = 20;
/**
 * Quiet period for the burst tests: they test that a burst becomes one
 * batch, not how short a gap the scheduler of a loaded CI machine keeps.
 */
const BURST_DEBOUNCE_MS = 150;
const POLL_INTERVAL_MS = 25;
const DEADLINE_MS = 10_000;

/** A temp tree being watched, and what the watch reported. */
interface Harness {
  dir: string;
  watching: Watching;
  batches: string[][];
  warnings: string[];
  /** Absolute path of a file under the temp dir. */
  path(...parts: string[]): string;
}

interface HarnessOptions {
  files?: Record<string, string>;
  options?: Partial<WatchOptions>;
  onBatch?: (batch: ChangeBatch) => void;
  /** Roots relative to the temp dir; the temp dir itself by default. */
  roots?: string[];
}

async function withWatch(
  kind: Kind,
  setup: HarnessOptions,
  test: (h: Harness) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_watch_test_" });
  try {
    writeTree(dir, { "sentinel.ts": "// 0\n", ...setup.files });
    const batches: string[][] = [];
    const warnings: string[] = [];
    const watching = await startWatching({
      roots: (setup.roots ?? ["."]).map((root) => join(dir, root)),
      ext: undefined,
      ignore: [],
      gitignore: true,
      debounceMs: DEBOUNCE_MS,
      poll: kind === "poll",
      intervalMs: POLL_INTERVAL_MS,
      onWarning: (message) => warnings.push(message),
      ...setup.options,
    }, (batch) => {
      setup.onBatch?.(batch);
      batches.push(batch.paths);
    });
    try {
      await test({
        dir,
        watching,
        batches,
        warnings,
        path: (...parts) => join(dir, ...parts),
      });
    } finally {
      watching.close();
      await watching.finished;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function writeTree(dir: string, files: Record<string, string>): void {
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    Deno.mkdirSync(join(path, ".."), { recursive: true });
    Deno.writeTextFileSync(path, content);
  }
}

/** Waits until every path has been reported; returns the index of the batch that completed them. */
async function waitForPaths(h: Harness, paths: string[], from = 0) {
  const missing = () => {
    const seen = new Set(h.batches.slice(from).flat());
    return paths.filter((path) => !seen.has(path));
  };
  await waitFor("reported paths", () => missing().length === 0, DEADLINE_MS)
    .catch((error) => {
      const some = missing().slice(0, 3).join(", ");
      throw new Error(`${error.message}: ${missing().length} missing (${some})`);
    });
  return h.batches.length - 1;
}

let sentinelCount = 0;

/**
 * Changes the sentinel and waits for it; returns the batches that came
 * from `from` up to and including the sentinel's.
 */
async function untilSentinel(h: Harness, from: number): Promise<string[][]> {
  const sentinel = h.path("sentinel.ts");
  Deno.writeTextFileSync(sentinel, `// ${++sentinelCount}\n`);
  const last = await waitForPaths(h, [sentinel], from);
  return h.batches.slice(from, last + 1);
}

/** Does something that must not cause a batch, then proves it did not. */
async function assertNothingFrom(h: Harness, act: () => void | Promise<void>) {
  const from = h.batches.length;
  await act();
  assert.deepEqual(await untilSentinel(h, from), [[h.path("sentinel.ts")]]);
}

/** Counts this process's inotify watches, from /proc/self/fdinfo. */
function countInotifyWatches(): number {
  let watches = 0;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
    } catch {
      continue; // the fd of the directory listing itself is gone by now
    }
    if (target !== "anon_inode:inotify") continue;
    const info = Deno.readTextFileSync(`/proc/self/fdinfo/${entry.name}`);
    watches += info.split("\n").filter((line) => line.startsWith("inotify wd:"))
      .length;
  }
  return watches;
}

/** Edits a file in `lib` and creates another: both must be reported (the folder is watched). */
async function assertLibWatched(h: Harness, content: string): Promise<void> {
  const from = h.batches.length;
  Deno.writeTextFileSync(h.path("lib", "a.ts"), content);
  Deno.writeTextFileSync(h.path("lib", `b${content}.ts`), content);
  await waitForPaths(h, [h.path("lib", "a.ts"), h.path("lib", `b${content}.ts`)], from);
}

for (const kind of KINDS) {
  const name = (behaviour: string) => `startWatching() [${kind}] ${behaviour}`;

  Deno.test(name("reports the kind and the counted files"), async () => {
    await withWatch(kind, {
      files: {
        "app.ts": "",
        "logo.png": "",
        "node_modules/pkg/index.js": "",
        "src/page.html": "",
      },
    }, (h) => {
      assert.deepEqual(h.watching.kind, kind);
      assert.deepEqual(h.watching.roots, [join(h.dir, ".")]);
      assert.deepEqual(h.watching.fileCount, 3); // sentinel.ts, app.ts, src/page.html
      assert.deepEqual(h.warnings, []);
    });
  });

  Deno.test(name("reports a modified file, even at the same size"), async () => {
    await withWatch(kind, { files: { "app.ts": "export const n = 1;\n" } }, async (h) => {
      Deno.writeTextFileSync(h.path("app.ts"), "export const n = 2;\n");
      await waitForPaths(h, [h.path("app.ts")]);
      assert.deepEqual(h.batches, [[h.path("app.ts")]]);
    });
  });

  Deno.test(name("reports a created file"), async () => {
    await withWatch(kind, {}, async (h) => {
      Deno.writeTextFileSync(h.path("new.ts"), "export {};\n");
      await waitForPaths(h, [h.path("new.ts")]);
      assert.deepEqual(h.batches.flat(), [h.path("new.ts")]);
      assert.deepEqual(h.watching.fileCount, 2);
    });
  });

  Deno.test(name("reports a deleted file"), async () => {
    await withWatch(kind, { files: { "app.ts": "x" } }, async (h) => {
      Deno.removeSync(h.path("app.ts"));
      await waitForPaths(h, [h.path("app.ts")]);
      assert.deepEqual(h.batches, [[h.path("app.ts")]]);
      assert.deepEqual(h.watching.fileCount, 1);
    });
  });

  Deno.test(name("reports both names of a renamed file"), async () => {
    await withWatch(kind, { files: { "a.ts": "a" } }, async (h) => {
      Deno.renameSync(h.path("a.ts"), h.path("b.ts"));
      await waitForPaths(h, [h.path("a.ts"), h.path("b.ts")]);
      assert.deepEqual([...new Set(h.batches.flat())].sort(), [
        h.path("a.ts"),
        h.path("b.ts"),
      ]);
    });
  });

  Deno.test(name("reports an atomic save as one change of the real file"), async () => {
    await withWatch(kind, { files: { "app.ts": "export const v = 1;\n" } }, async (h) => {
      for (const temp of ["app.ts.tmp", "app.ts___jb_tmp___", "app.ts~"]) {
        const from = h.batches.length;
        Deno.writeTextFileSync(h.path(temp), `export const v = "${temp}";\n`);
        Deno.renameSync(h.path(temp), h.path("app.ts"));
        await waitForPaths(h, [h.path("app.ts")], from);
        const batches = await untilSentinel(h, from);
        assert.deepEqual(
          [...new Set(batches.flat())].sort(),
          [h.path("app.ts"), h.path("sentinel.ts")],
          temp,
        );
      }
    });
  });

  Deno.test(name("watches a new directory and what is created in it"), async () => {
    await withWatch(kind, {}, async (h) => {
      Deno.mkdirSync(h.path("sub"));
      Deno.writeTextFileSync(h.path("sub", "x.ts"), "1");
      Deno.mkdirSync(h.path("a", "b", "c"), { recursive: true });
      Deno.writeTextFileSync(h.path("a", "b", "c", "deep.ts"), "1");
      await waitForPaths(h, [h.path("sub", "x.ts"), h.path("a/b/c/deep.ts")]);
      const from = h.batches.length;
      Deno.writeTextFileSync(h.path("sub", "x.ts"), "2");
      Deno.writeTextFileSync(h.path("a", "b", "c", "deep.ts"), "2");
      await waitForPaths(h, [h.path("sub", "x.ts"), h.path("a/b/c/deep.ts")], from);
    });
  });

  Deno.test(name("follows a renamed directory"), async () => {
    await withWatch(kind, { files: { "old/x.ts": "1" } }, async (h) => {
      Deno.renameSync(h.path("old"), h.path("new"));
      await waitForPaths(h, [h.path("old", "x.ts"), h.path("new", "x.ts")]);
      const from = h.batches.length;
      Deno.writeTextFileSync(h.path("new", "x.ts"), "2");
      await waitForPaths(h, [h.path("new", "x.ts")], from);
      assert.deepEqual(h.watching.fileCount, 2);
    });
  });

  Deno.test(name("watches a directory again after it is deleted and re-created"), async () => {
    await withWatch(kind, { files: { "lib/a.ts": "1" } }, async (h) => {
      Deno.removeSync(h.path("lib"), { recursive: true });
      await waitForPaths(h, [h.path("lib", "a.ts")]);
      const from = h.batches.length;
      Deno.mkdirSync(h.path("lib"));
      Deno.writeTextFileSync(h.path("lib", "a.ts"), "2");
      await waitForPaths(h, [h.path("lib", "a.ts")], from);
      await assertLibWatched(h, "3");
      assert.deepEqual(h.warnings, []);
    });
  });

  Deno.test(
    name("watches a directory again when it is deleted and re-created at once"),
    async () => {
      await withWatch(kind, { files: { "lib/a.ts": "1" } }, async (h) => {
        // Faster than any event is handled; the new folder may even get the old one's inode.
        Deno.removeSync(h.path("lib"), { recursive: true });
        Deno.mkdirSync(h.path("lib"));
        Deno.writeTextFileSync(h.path("lib", "a.ts"), "2");
        await waitForPaths(h, [h.path("lib", "a.ts")]);
        await assertLibWatched(h, "3");
      });
    },
  );

  Deno.test(name("watches a directory again after it is renamed away and back"), async () => {
    await withWatch(kind, { files: { "lib/a.ts": "1" } }, async (h) => {
      Deno.renameSync(h.path("lib"), h.path("lib.away"));
      await waitForPaths(h, [h.path("lib", "a.ts"), h.path("lib.away", "a.ts")]);
      const from = h.batches.length;
      Deno.renameSync(h.path("lib.away"), h.path("lib"));
      await waitForPaths(h, [h.path("lib", "a.ts"), h.path("lib.away", "a.ts")], from);
      await assertLibWatched(h, "2");
    });
  });

  Deno.test(name("watches a directory again after another is renamed over it"), async () => {
    await withWatch(kind, { files: { "lib/a.ts": "1", "lib.new/a.ts": "2" } }, async (h) => {
      Deno.renameSync(h.path("lib"), h.path("lib.old"));
      Deno.renameSync(h.path("lib.new"), h.path("lib"));
      await waitForPaths(h, [h.path("lib", "a.ts"), h.path("lib.old", "a.ts")]);
      await assertLibWatched(h, "3");
    });
  });

  Deno.test({
    name: name("watches a directory again after a git checkout removes and restores it"),
    ignore: missingOutsideCi("git"),
    fn: async () => {
      await withWatch(kind, { files: { "lib/a.ts": "1" } }, async (h) => {
        const git = (...args: string[]) => {
          const result = new Deno.Command("git", {
            args: ["-c", "user.name=devsrv", "-c", "user.email=devsrv@localhost", ...args],
            cwd: h.dir,
            stdout: "null",
            stderr: "piped",
          }).outputSync();
          assert.ok(result.success, new TextDecoder().decode(result.stderr));
        };
        git("init", "-q", "-b", "main");
        git("add", ".");
        git("commit", "-q", "--no-gpg-sign", "-m", "with lib");
        git("checkout", "-q", "-b", "without-lib");
        git("rm", "-q", "-r", "lib");
        git("commit", "-q", "--no-gpg-sign", "-m", "without lib");
        await waitForPaths(h, [h.path("lib", "a.ts")]);
        const from = h.batches.length;
        git("checkout", "-q", "main");
        await waitForPaths(h, [h.path("lib", "a.ts")], from);
        await assertLibWatched(h, "2");
      });
    },
  });

  Deno.test(name("watches files added outside its roots"), async () => {
    await withWatch(
      kind,
      { files: { "app/main.ts": "1", "shared/util.ts": "1" }, roots: ["app"] },
      async (h) => {
        assert.equal(h.watching.fileCount, 1);
        h.watching.addFiles([
          h.path("shared", "util.ts"),
          h.path("app", "main.ts"),
          h.path("gone.ts"),
        ]);
        assert.equal(h.watching.fileCount, 2);
        Deno.writeTextFileSync(h.path("shared", "util.ts"), "2");
        await waitForPaths(h, [h.path("shared", "util.ts")]);
        const from = h.batches.length;
        Deno.writeTextFileSync(h.path("app", "main.ts"), "2");
        await waitForPaths(h, [h.path("app", "main.ts")], from);
      },
    );
  });

  Deno.test(name("says what happened to each file, and when"), async () => {
    const changes: FileChange[] = [];
    await withWatch(kind, {
      files: { "app.ts": "1", "old.ts": "1" },
      onBatch: (batch) => changes.push(...batch.changes),
    }, async (h) => {
      const before = Date.now();
      Deno.writeTextFileSync(h.path("app.ts"), "2");
      Deno.writeTextFileSync(h.path("new.ts"), "1");
      Deno.removeSync(h.path("old.ts"));
      await waitForPaths(h, [h.path("app.ts"), h.path("new.ts"), h.path("old.ts")]);
      const after = Date.now();
      const byPath = new Map(changes.map((change) => [change.path, change]));
      assert.equal(byPath.get(h.path("app.ts"))?.kind, "modified");
      assert.equal(byPath.get(h.path("new.ts"))?.kind, "created");
      assert.equal(byPath.get(h.path("old.ts"))?.kind, "deleted");
      const mtime = Deno.statSync(h.path("app.ts")).mtime?.getTime();
      assert.equal(byPath.get(h.path("app.ts"))?.fromMs, mtime);
      const deleted = byPath.get(h.path("old.ts"))!;
      assert.ok(deleted.fromMs <= deleted.toMs && deleted.toMs <= after, JSON.stringify(deleted));
      assert.ok(deleted.toMs >= before - 5, JSON.stringify(deleted));
    });
  });

  Deno.test(name("turns a burst of 50 writes into at most 2 batches"), async () => {
    const contents: string[] = [];
    let app = "";
    await withWatch(kind, {
      files: { "app.ts": "export const n = -1;\n" },
      options: { debounceMs: BURST_DEBOUNCE_MS },
      onBatch: (batch) => {
        if (batch.paths.includes(app)) contents.push(Deno.readTextFileSync(app));
      },
    }, async (h) => {
      app = h.path("app.ts");
      for (let n = 0; n < 50; n++) {
        await Deno.writeTextFile(app, `export const n = ${n};\n`);
      }
      const batches = await untilSentinel(h, 0);
      const withApp = batches.filter((paths) => paths.includes(app));
      assert.ok(withApp.length >= 1 && withApp.length <= 2, JSON.stringify(batches));
      assert.deepEqual(contents.at(-1), "export const n = 49;\n");
    });
  });

  Deno.test(name("turns a checkout of 500 files into at most 2 batches"), async () => {
    await withWatch(kind, { options: { debounceMs: BURST_DEBOUNCE_MS } }, async (h) => {
      const paths = Array.from(
        { length: 500 },
        (_, i) => h.path(`mod${i % 10}`, `file${i}.ts`),
      );
      for (let i = 0; i < 10; i++) await Deno.mkdir(h.path(`mod${i}`));
      await Promise.all(
        paths.map((path, i) => Deno.writeTextFile(path, `export const i = ${i};\n`)),
      );
      await waitForPaths(h, paths);
      const batches = await untilSentinel(h, 0);
      assert.ok(batches.length <= 3, `${batches.length} batches`); // + the sentinel's
      assert.deepEqual(h.watching.fileCount, 501);
    });
  });

  Deno.test(name("loses nothing in a flood of 1500 files"), async () => {
    await withWatch(kind, {}, async (h) => {
      const paths: string[] = [];
      for (let i = 0; i < 1500; i++) {
        // synchronous: events pile up until Deno's queue overflows
        paths.push(h.path(`flood${i}.ts`));
        Deno.writeTextFileSync(paths[i]!, "1");
      }
      await waitForPaths(h, paths);
      assert.deepEqual(h.watching.fileCount, 1501);
    });
  });

  Deno.test(name("ignores a file that is only read"), async () => {
    await withWatch(kind, { files: { "app.ts": "x" } }, async (h) => {
      await assertNothingFrom(h, async () => {
        Deno.readTextFileSync(h.path("app.ts"));
        using file = await Deno.open(h.path("app.ts"));
        await file.read(new Uint8Array(1));
      });
    });
  });

  Deno.test(name("ignores a save that leaves the content unchanged"), async () => {
    await withWatch(kind, { files: { "app.ts": "same\n" } }, async (h) => {
      await assertNothingFrom(h, () => {
        Deno.writeTextFileSync(h.path("app.ts"), "same\n");
        Deno.utimeSync(h.path("app.ts"), new Date(), new Date(Date.now() + 5000));
      });
      await assertNothingFrom(h, () => { // an atomic save of the same content
        Deno.writeTextFileSync(h.path("app.ts.tmp"), "same\n");
        Deno.renameSync(h.path("app.ts.tmp"), h.path("app.ts"));
      });
    });
  });

  Deno.test(name("ignores a truncate then a rewrite of the same content"), async () => {
    await withWatch(kind, { files: { "app.ts": "same\n" } }, async (h) => {
      await assertNothingFrom(h, async () => {
        Deno.writeTextFileSync(h.path("app.ts"), "");
        // The scenario itself, not a wait for a condition: an editor that leaves
        // the file empty for a moment (within one quiet period) before writing.
        await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS / 2));
        Deno.writeTextFileSync(h.path("app.ts"), "same\n");
      });
    });
  });

  Deno.test(name("ignores ignored, gitignored and uncounted files"), async () => {
    await withWatch(kind, {
      files: {
        ".gitignore": "secret.ts\n/generated/\n*.json\n",
        "sub/.gitignore": "!keep.json\n",
        "node_modules/pkg/index.js": "1",
        "generated/types.ts": "1",
      },
      options: { ignore: ["*.gen.ts"] },
    }, async (h) => {
      await assertNothingFrom(h, () => {
        Deno.writeTextFileSync(h.path("routes.gen.ts"), "1"); // --ignore
        Deno.writeTextFileSync(h.path("secret.ts"), "1"); // .gitignore
        Deno.writeTextFileSync(h.path("generated", "types.ts"), "2");
        Deno.writeTextFileSync(h.path("sub", "data.json"), "1"); // nested
        Deno.writeTextFileSync(h.path("node_modules", "pkg", "index.js"), "2");
        Deno.mkdirSync(h.path("node_modules", "new"));
        Deno.writeTextFileSync(h.path("node_modules", "new", "a.js"), "1");
        Deno.writeTextFileSync(h.path("logo.png"), "1"); // extension
        Deno.writeTextFileSync(h.path(".app.ts.swp"), "1"); // editor
      });
      Deno.writeTextFileSync(h.path("sub", "keep.json"), "1"); // negation
      await waitForPaths(h, [h.path("sub", "keep.json")]);
    });
  });

  Deno.test(name("watches a single-file root"), async () => {
    await withWatch(kind, {
      files: { "conf/app.yaml": "a: 1\n", "conf/other.yaml": "b: 1\n" },
      roots: ["conf/app.yaml", "sentinel.ts"],
    }, async (h) => {
      assert.deepEqual(h.watching.fileCount, 2);
      await assertNothingFrom(h, () => {
        Deno.writeTextFileSync(h.path("conf", "other.yaml"), "b: 2\n");
        Deno.writeTextFileSync(h.path("unwatched.ts"), "1");
      });
      Deno.writeTextFileSync(h.path("conf", "app.yaml.tmp"), "a: 2\n");
      Deno.renameSync(h.path("conf", "app.yaml.tmp"), h.path("conf", "app.yaml"));
      await waitForPaths(h, [h.path("conf", "app.yaml")]);
      const from = h.batches.length;
      Deno.writeTextFileSync(h.path("conf", "app.yaml"), "a: 3\n");
      await waitForPaths(h, [h.path("conf", "app.yaml")], from);
    });
  });

  Deno.test(name("watches an explicit root inside an ignored folder"), async () => {
    await withWatch(kind, {
      files: { "dist/app.js": "1" },
      roots: [".", "dist"],
    }, async (h) => {
      assert.deepEqual(h.watching.fileCount, 2);
      Deno.writeTextFileSync(h.path("dist", "app.js"), "2");
      await waitForPaths(h, [h.path("dist", "app.js")]);
    });
  });

  Deno.test(name("reports paths under a symlinked root as spelled"), async () => {
    await withWatch(kind, { files: { "real/app.ts": "1" } }, async (h) => {
      Deno.symlinkSync(h.path("real"), h.path("link"));
      const batches: string[][] = [];
      const watching = await startWatching({
        roots: [`${h.path("link")}/./`], // normalized in what is handed out
        ext: undefined,
        ignore: [],
        gitignore: true,
        debounceMs: DEBOUNCE_MS,
        poll: kind === "poll",
        intervalMs: POLL_INTERVAL_MS,
      }, (batch) => batches.push(batch.paths));
      try {
        Deno.writeTextFileSync(h.path("real", "app.ts"), "2");
        await waitFor("a batch", () => batches.length > 0, DEADLINE_MS);
        assert.deepEqual(batches, [[h.path("link", "app.ts")]]);
      } finally {
        watching.close();
        await watching.finished;
      }
    });
  });

  Deno.test(name("counts every file in static-directory mode"), async () => {
    await withWatch(kind, {
      files: { "public/logo.png": "1", "public/.cache/x": "1" },
      options: { allFiles: true },
    }, async (h) => {
      assert.deepEqual(h.watching.fileCount, 2); // sentinel.ts, public/logo.png
      Deno.writeTextFileSync(h.path("public", "font.woff2"), "1");
      await waitForPaths(h, [h.path("public", "font.woff2")]);
    });
  });
}

Deno.test({
  name: "startWatching() [watchfs] places no OS watch inside ignored directories",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const files = { "app.ts": "", "src/a/x.ts": "", "src/b/y.ts": "" };
    let small = 0;
    await withWatch("watchfs", { files }, (h) => {
      small = countInotifyWatches();
      assert.deepEqual(small, 4, "the root, src, src/a and src/b");
      assert.deepEqual(h.watching.fileCount, 4);
    });
    const withModules: Record<string, string> = { ...files };
    for (let i = 0; i < 200; i++) {
      withModules[`node_modules/pkg${i}/index.js`] = "";
    }
    await withWatch("watchfs", { files: withModules }, () => {
      assert.deepEqual(countInotifyWatches(), small);
    });
  },
});

Deno.test("startWatching() falls back to polling when Deno.watchFs throws", async () => {
  await withWatch("watchfs", {
    options: {
      watchFs: () => {
        throw new Error("OS file watch limit reached");
      },
    },
  }, async (h) => {
    assert.deepEqual(h.watching.kind, "poll");
    assert.deepEqual(h.warnings.length, 1);
    assert.ok(h.warnings[0]!.includes("OS file watch limit reached"), h.warnings[0]);
    assert.ok(h.warnings[0]!.includes("--poll"), h.warnings[0]);
    Deno.writeTextFileSync(h.path("app.ts"), "1");
    await waitForPaths(h, [h.path("app.ts")]);
  });
});

Deno.test("startWatching() falls back to polling when a new directory cannot be watched", async () => {
  let calls = 0;
  await withWatch("watchfs", {
    options: {
      watchFs: (paths, options) => {
        if (++calls > 1) throw new Error("OS file watch limit reached");
        return Deno.watchFs(paths, options);
      },
    },
  }, async (h) => {
    assert.deepEqual(h.watching.kind, "watchfs");
    Deno.mkdirSync(h.path("sub"));
    Deno.writeTextFileSync(h.path("sub", "x.ts"), "1");
    await waitForPaths(h, [h.path("sub", "x.ts")]);
    assert.deepEqual(h.watching.kind, "poll");
    assert.deepEqual(h.warnings.length, 1);
    const from = h.batches.length;
    Deno.writeTextFileSync(h.path("sub", "x.ts"), "2");
    await waitForPaths(h, [h.path("sub", "x.ts")], from);
  });
});

Deno.test("startWatching() takes in a file created between its folder's listing and its watch", async () => {
  let created = false;
  await withWatch("watchfs", {
    files: { "src/a.ts": "" },
    options: {
      // Runs once the folders are listed, just before they are watched.
      watchFs: (paths, options) => {
        if (!created) Deno.writeTextFileSync(join(paths[0]!, "src", "late.ts"), "1");
        created = true;
        return Deno.watchFs(paths, options);
      },
    },
  }, async (h) => {
    assert.ok(created);
    await waitForPaths(h, [h.path("src", "late.ts")]);
    assert.deepEqual(h.watching.fileCount, 3, "sentinel.ts, src/a.ts, src/late.ts");
  });
});

/**
 * Watches `dir` as the reloader's first scan does, the program having
 * begun loading at `sinceMs`, until the first batch, which it returns.
 */
async function firstBatchAfterStart(
  dir: string,
  sinceMs: number,
  earlyWatch: EarlyWatch | undefined,
): Promise<ChangeBatch> {
  const batches: ChangeBatch[] = [];
  const watching = await startWatching({
    roots: [dir],
    ext: undefined,
    ignore: [],
    gitignore: true,
    debounceMs: DEBOUNCE_MS,
    poll: false,
    intervalMs: POLL_INTERVAL_MS,
    changedSince: sinceMs,
    ...(earlyWatch ? { earlyWatch } : {}),
  }, (batch) => batches.push(batch));
  try {
    return await waitFor("a batch", () => batches[0], DEADLINE_MS);
  } finally {
    watching.close();
    await watching.finished;
  }
}

Deno.test("startWatching() takes a file its early watch saw change as changed, whatever its mtime", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devsrv_watch_test_" }));
  try {
    writeTree(dir, { "app.ts": "// v1\n", "sentinel.ts": "// 0\n", "spare/app.ts": "// v2\n" });
    const longAgo = new Date(Date.now() - 60_000);
    for (const name of ["app.ts", "sentinel.ts", "spare/app.ts"]) {
      Deno.utimeSync(join(dir, name), longAgo, longAgo);
    }
    const sinceMs = Date.now();
    const early = EarlyWatch.place([dir]);
    // A safe write: the temporary file, written long ago, renamed over the file.
    Deno.renameSync(join(dir, "spare", "app.ts"), join(dir, "app.ts"));
    await waitFor("the early watch's event", () => early.named.has(join(dir, "app.ts")));
    const batch = await firstBatchAfterStart(dir, sinceMs, early);
    assert.deepEqual(batch.paths, [join(dir, "app.ts")]);
    assert.deepEqual(batch.changes[0]!.kind, "modified");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("WatchedTree.takeAsChanged() leaves a file created within the batch created", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devsrv_watch_test_" }));
  try {
    writeTree(dir, { "routes/home.ts": "" });
    const tree = WatchedTree.open({ roots: [dir], ext: undefined, ignore: [], gitignore: true });
    await tree.scan();
    const about = join(dir, "routes", "about.ts");
    Deno.writeTextFileSync(about, "");
    // The watch reports the new file, then an early event names it too.
    assert.deepEqual((await tree.checkPaths([about])).changed, [about]);
    assert.deepEqual(tree.takeAsChanged([about]), [about]);
    // A new route: created, not modified (the change decision treats them apart).
    assert.deepEqual(tree.settle([about]).map((change) => change.kind), ["created"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startWatching() takes a file changed since the program began loading by its mtime", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devsrv_watch_test_" }));
  try {
    writeTree(dir, { "old.ts": "", "sentinel.ts": "// 0\n" });
    const longAgo = new Date(Date.now() - 60_000);
    Deno.utimeSync(join(dir, "old.ts"), longAgo, longAgo);
    Deno.utimeSync(join(dir, "sentinel.ts"), longAgo, longAgo);
    const sinceMs = Date.now();
    writeTree(dir, { "app.ts": "// v2\n" });
    const batch = await firstBatchAfterStart(dir, sinceMs, undefined);
    assert.deepEqual(batch.paths, [join(dir, "app.ts")]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startWatching() rejects a root that does not exist", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_watch_test_" });
  try {
    let error: unknown;
    try {
      await startWatching({
        roots: [join(dir, "missing")],
        ext: undefined,
        ignore: [],
        gitignore: true,
        debounceMs: DEBOUNCE_MS,
        poll: false,
        intervalMs: POLL_INTERVAL_MS,
      }, () => {});
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof Deno.errors.NotFound, String(error));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
