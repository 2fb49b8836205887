/**
 * `.gitignore` rules: pure matching, tested directly against Git's
 * documented semantics.
 *
 * @module
 */

import assert from "node:assert/strict";
import { compileRule, GitignoreRules } from "../../src/watch/gitignore_rules.ts";

function check(rules: string[], expectations: Record<string, boolean>): void {
  const matcher = new GitignoreRules().add(rules);
  for (const [path, ignored] of Object.entries(expectations)) {
    assert.equal(matcher.ignores(path), ignored, `${JSON.stringify(rules)} on "${path}"`);
  }
}

Deno.test("GitignoreRules matches a name at any depth unless anchored", () => {
  check(["*.log"], { "a.log": true, "x/y/a.log": true, "a.log.ts": false, "log": false });
  check(["/todo.txt"], { "todo.txt": true, "docs/todo.txt": false });
  check(["doc/frotz"], { "doc/frotz": true, "a/doc/frotz": false });
});

Deno.test("GitignoreRules applies directory-only rules to directories and their contents", () => {
  check(["build/"], {
    "build/": true,
    "build/app.js": true,
    "src/build/x.ts": true,
    "build": false, // a file named build
    "builder/x": false,
  });
});

Deno.test("GitignoreRules lets the last rule win, and never re-includes inside an ignored directory", () => {
  check(["*.json", "!keep.json"], { "a.json": true, "keep.json": false, "x/keep.json": false });
  check(["logs/", "!logs/keep.log"], { "logs/keep.log": true });
  check(["logs/*", "!logs/keep.log"], { "logs/keep.log": false, "logs/other.log": true });
});

Deno.test("GitignoreRules understands ** in every position", () => {
  check(["**/foo"], { "foo": true, "a/b/foo": true, "foox": false });
  check(["abc/**"], { "abc/x": true, "abc/x/y": true, "abc": false });
  check(["a/**/b"], { "a/b": true, "a/x/b": true, "a/x/y/b": true, "a/xb": false });
  check(["**"], { "anything": true, "deep/path": true });
});

Deno.test("GitignoreRules handles ?, brackets, escapes and spaces", () => {
  check(["file?.ts"], { "file1.ts": true, "file12.ts": false, "file/.ts": false });
  check(["[ab].ts"], { "a.ts": true, "b.ts": true, "c.ts": false });
  check(["[!ab].ts"], { "c.ts": true, "a.ts": false });
  check(["[0-9]*.txt"], { "1x.txt": true, "x1.txt": false });
  check(["\\#notes", "\\!bang"], { "#notes": true, "!bang": true });
  check(["trailing.ts   "], { "trailing.ts": true });
  check(["[unclosed"], { "[unclosed": true });
  check(["a.b"], { "a.b": true, "axb": false });
});

Deno.test("compileRule() skips blank lines and comments", () => {
  assert.equal(compileRule(""), undefined);
  assert.equal(compileRule("   "), undefined);
  assert.equal(compileRule("# comment"), undefined);
  assert.equal(compileRule("!"), undefined);
  assert.ok(compileRule("x\r"));
});

Deno.test("GitignoreRules can ignore case", () => {
  const rules = new GitignoreRules({ ignoreCase: true }).add(["*.LOG"]);
  assert.equal(rules.ignores("a.log"), true);
  assert.equal(new GitignoreRules().add(["*.LOG"]).ignores("a.log"), false);
});
