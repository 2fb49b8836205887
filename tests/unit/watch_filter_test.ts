/**
 * Unit tests of the watch filter: default ignores, extensions, static
 * mode, `--ignore` globs and `.gitignore` files (nested, negated).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  DEFAULT_EXTENSIONS,
  DEFAULT_IGNORES,
  hasCountedExtension,
  normalizeExtensions,
  rebaseGitignore,
  WatchFilter,
  type WatchFilterOptions,
} from "../../src/watch/watch_filter.ts";

function filter(options: Partial<WatchFilterOptions> = {}): WatchFilter {
  return new WatchFilter({
    ext: undefined,
    ignore: [],
    ignoreCase: false,
    ...options,
  });
}

Deno.test("WatchFilter ignores the default directories at any depth", () => {
  const f = filter();
  for (
    const dir of [
      ".git",
      "node_modules",
      "packages/web/node_modules",
      "dist",
      "build",
      "out",
      "coverage",
      ".cache",
      ".deno",
      ".next",
      ".nuxt",
      ".turbo",
      ".vite",
      "target",
      "__pycache__",
      ".hg",
      ".svn",
    ]
  ) {
    assert.ok(f.isIgnoredDir(dir), dir);
  }
  for (const dir of ["", "src", "routes/[id]", "distribution", "builder"]) {
    assert.ok(!f.isIgnoredDir(dir), dir);
  }
  assert.equal(f.classifyFile("node_modules/react/index.js"), "ignored");
  assert.equal(f.classifyFile("src/build.ts"), "counted");
});

Deno.test("WatchFilter ignores OS litter and editor temp files", () => {
  const f = filter({ allFiles: true });
  for (
    const file of [
      ".DS_Store",
      "assets/Thumbs.db",
      "desktop.ini",
      ".app.ts.swp",
      ".app.ts.swo",
      ".app.ts.swx",
      "4913",
      "src/4913",
      "app.ts~",
      ".#app.ts",
      "#app.ts#",
      "app.ts.tmp",
      "app.ts.bak",
      "app.ts.orig",
      "app.ts___jb_tmp___",
      ".goutputstream-XYZ123",
    ]
  ) {
    assert.equal(f.classifyFile(file), "ignored", file);
  }
  assert.equal(f.classifyFile("app.ts"), "counted");
});

Deno.test("WatchFilter counts the default extensions and .env files", () => {
  const f = filter();
  for (
    const file of [
      "main.ts",
      "routes/index.tsx",
      "lib/x.mjs",
      "deno.json",
      "deno.jsonc",
      "static/styles.css",
      "views/page.eta",
      "content/post.md",
      "config.yaml",
      ".env",
      ".env.local",
      "sub/.env.production",
      "APP.TS",
      "types.d.ts",
    ]
  ) {
    assert.equal(f.classifyFile(file), "counted", file);
  }
  for (
    const file of ["logo.png", "deno.lock", "Makefile", ".gitignore", "environment"]
  ) {
    assert.equal(f.classifyFile(file), "not-counted", file);
  }
  assert.ok(DEFAULT_EXTENSIONS.includes("ts"));
  assert.ok(DEFAULT_IGNORES.includes("node_modules/"));
});

Deno.test("WatchFilter counts only the extensions it is given", () => {
  const f = filter({ ext: ["py", ".rb", "*.d.ts", ""] });
  assert.equal(f.classifyFile("app.py"), "counted");
  assert.equal(f.classifyFile("app.rb"), "counted");
  assert.equal(f.classifyFile("types.d.ts"), "counted");
  assert.equal(f.classifyFile("app.ts"), "not-counted");
  assert.equal(f.classifyFile(".env"), "not-counted");
});

Deno.test("WatchFilter counts every file in static-directory mode", () => {
  const f = filter({ allFiles: true });
  assert.equal(f.classifyFile("logo.png"), "counted");
  assert.equal(f.classifyFile("fonts/inter.woff2"), "counted");
  assert.equal(f.classifyFile("node_modules/x.png"), "ignored");
  assert.equal(f.classifyFile("app.ts~"), "ignored");
});

Deno.test("WatchFilter applies --ignore globs relative to the root", () => {
  const f = filter({ ignore: ["*.gen.ts", "/fixtures/", "docs/**/*.md"] });
  assert.equal(f.classifyFile("routes.gen.ts"), "ignored");
  assert.equal(f.classifyFile("src/routes.gen.ts"), "ignored");
  assert.ok(f.isIgnoredDir("fixtures"));
  assert.ok(!f.isIgnoredDir("tests/fixtures")); // anchored to the root
  assert.equal(f.classifyFile("docs/a/b.md"), "ignored");
  assert.equal(f.classifyFile("README.md"), "counted");
});

Deno.test("WatchFilter lets --ignore re-include a default ignore", () => {
  const f = filter({ ignore: ["!build/"] });
  assert.ok(!f.isIgnoredDir("build"));
  assert.equal(f.classifyFile("build/app.js"), "counted");
  assert.ok(f.isIgnoredDir("dist"));
});

Deno.test("WatchFilter honours the root .gitignore", () => {
  const f = filter();
  f.addGitignore("", "# secrets\n\n*.local.ts\n/tmp/\nlogs\r\n");
  assert.equal(f.classifyFile("config.local.ts"), "ignored");
  assert.equal(f.classifyFile("src/config.local.ts"), "ignored");
  assert.ok(f.isIgnoredDir("tmp"));
  assert.ok(!f.isIgnoredDir("src/tmp"));
  assert.ok(f.isIgnoredDir("logs"), "CRLF line endings");
  assert.equal(f.classifyFile("logs/today.txt"), "ignored");
  assert.equal(f.classifyFile("# secrets"), "not-counted");
});

Deno.test("WatchFilter applies a nested .gitignore only below its folder", () => {
  const f = filter();
  f.addGitignore("packages/api", "*.json\n/local.ts\ncache/\n");
  assert.equal(f.classifyFile("packages/api/data.json"), "ignored");
  assert.equal(f.classifyFile("packages/api/deep/data.json"), "ignored");
  assert.equal(f.classifyFile("packages/web/data.json"), "counted");
  assert.equal(f.classifyFile("data.json"), "counted");
  assert.equal(f.classifyFile("packages/api/local.ts"), "ignored");
  assert.equal(f.classifyFile("packages/api/sub/local.ts"), "counted");
  assert.ok(f.isIgnoredDir("packages/api/x/cache"));
  assert.ok(!f.isIgnoredDir("packages/web/cache"));
});

Deno.test("WatchFilter lets a deeper .gitignore override a shallower one", () => {
  const f = filter();
  f.addGitignore("", "*.json\nfoo*\n");
  f.addGitignore("sub", "!keep.json\n!foobar\n");
  assert.equal(f.classifyFile("keep.json"), "ignored");
  assert.equal(f.classifyFile("sub/keep.json"), "counted");
  assert.equal(f.classifyFile("sub/other.json"), "ignored");
  assert.ok(!f.isIgnoredDir("sub/foobar"));
  assert.equal(f.classifyFile("sub/foobar/x.ts"), "counted");
  assert.equal(f.classifyFile("foobar/x.ts"), "ignored");
});

Deno.test("WatchFilter does not re-include a file below an ignored folder", () => {
  const f = filter();
  f.addGitignore("", "vendor/\n!vendor/keep.ts\n");
  assert.equal(f.classifyFile("vendor/keep.ts"), "ignored");
});

Deno.test("WatchFilter handles negation within one .gitignore", () => {
  const f = filter();
  f.addGitignore("", "*.ts\n!main.ts\n");
  assert.equal(f.classifyFile("lib.ts"), "ignored");
  assert.equal(f.classifyFile("main.ts"), "counted");
  assert.equal(f.classifyFile("src/main.ts"), "counted");
});

Deno.test("WatchFilter matches folders whose names contain glob characters", () => {
  const f = filter();
  f.addGitignore("routes/[id]", "draft.tsx\n");
  assert.equal(f.classifyFile("routes/[id]/draft.tsx"), "ignored");
  assert.equal(f.classifyFile("routes/i/draft.tsx"), "counted");
  assert.equal(f.classifyFile("routes/d/draft.tsx"), "counted");
});

Deno.test("WatchFilter matches case-sensitively unless told otherwise", () => {
  const sensitive = filter({ ignore: ["Secret.ts"] });
  assert.equal(sensitive.classifyFile("secret.ts"), "counted");
  const insensitive = filter({ ignore: ["Secret.ts"], ignoreCase: true });
  assert.equal(insensitive.classifyFile("secret.ts"), "ignored");
});

Deno.test("rebaseGitignore() anchors patterns to the file's folder", () => {
  assert.deepEqual(
    rebaseGitignore("a/b", "x\n/y\nz/\nw/v\n!u\n**/t\n# c\n\n"),
    [
      "a/b/**/x",
      "a/b/y",
      "a/b/**/z/",
      "a/b/w/v",
      "!a/b/**/u",
      "a/b/**/t",
    ],
  );
  assert.deepEqual(rebaseGitignore("", "x\n/y\n"), ["x", "/y"]);
  assert.deepEqual(rebaseGitignore("#tag", "x"), ["\\#tag/**/x"]);
});

Deno.test("normalizeExtensions() and hasCountedExtension() take what users write", () => {
  assert.deepEqual(normalizeExtensions(["TS", ".js", "*.d.ts", " md ", ""]), [
    "ts",
    "js",
    "d.ts",
    "md",
  ]);
  assert.ok(hasCountedExtension("a.TS", ["ts"]));
  assert.ok(hasCountedExtension(".env", ["env"]));
  assert.ok(hasCountedExtension(".env.test", ["env"]));
  assert.ok(!hasCountedExtension("env", ["env"]));
  assert.ok(!hasCountedExtension("a.tsx", ["ts"]));
});

Deno.test("WatchFilter ranks .gitignore files by depth, not by the order they are read", () => {
  const f = filter();
  f.addGitignore("sub", "!keep.json\n");
  f.addGitignore("", "*.json\n");
  assert.equal(f.classifyFile("sub/keep.json"), "counted");
  f.addGitignore("", "*.json\n"); // read again: replaces, does not pile up
  assert.equal(f.classifyFile("sub/keep.json"), "counted");
  f.addGitignore("sub", "");
  assert.equal(f.classifyFile("sub/keep.json"), "ignored");
});
