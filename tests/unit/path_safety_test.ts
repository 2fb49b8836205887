import assert from "node:assert/strict";
import {
  MAX_PATH_LENGTH,
  parseRequestPath,
  type PathPolicy,
  rawPathAndQuery,
  refusalForName,
  servableSegmentsBelow,
} from "../../src/static/path_safety.ts";

/** Asserts the segments a path is accepted as. */
function assertAccepted(
  pathname: string,
  segments: string[],
  policy: PathPolicy = {},
) {
  const result = parseRequestPath(pathname, policy);
  assert.ok(result.ok, `"${pathname}" was refused: ${JSON.stringify(result)}`);
  assert.deepEqual(result.segments, segments, `segments of "${pathname}"`);
}

/** Asserts the status a path is refused with. */
function assertRefused(
  pathname: string,
  status: number,
  policy: PathPolicy = {},
) {
  const result = parseRequestPath(pathname, policy);
  assert.ok(!result.ok, `"${pathname}" was accepted: ${JSON.stringify(result)}`);
  assert.equal(result.status, status, `status of "${pathname}"`);
  assert.ok(result.reason.length > 0);
}

Deno.test("parseRequestPath() accepts plain paths", () => {
  assertAccepted("/", []);
  assertAccepted("/index.html", ["index.html"]);
  assertAccepted("/a/b/c.txt", ["a", "b", "c.txt"]);
  assertAccepted("/a+b~c_d-e,f;g=h@i!j", ["a+b~c_d-e,f;g=h@i!j"]);
  assertAccepted("/..foo", ["..foo"], { dotfiles: true });
  assertAccepted("/a.b.c", ["a.b.c"]);
});

Deno.test("parseRequestPath() decodes each segment once", () => {
  assertAccepted("/caf%C3%A9.html", ["café.html"]);
  assertAccepted("/caf%c3%a9.html", ["café.html"]);
  assertAccepted("/café.html", ["café.html"]);
  assertAccepted("/a%20b.txt", ["a b.txt"]);
  assertAccepted("/%7Euser", ["~user"]);
  assertAccepted("/100%25.txt", ["100%.txt"]);
  assertAccepted("/%252e%252e/x", ["%2e%2e", "x"]);
  assertAccepted("/%252f", ["%2f"]);
  assertAccepted("/%F0%9F%98%80", ["😀"]);
  assertAccepted("/%E2%80%A5", ["\u2025"]);
});

Deno.test("parseRequestPath() collapses empty and dot segments", () => {
  assertAccepted("//a///b", ["a", "b"]);
  assertAccepted("/" + "/".repeat(500) + "a", ["a"]);
  assertAccepted("/a/./b", ["a", "b"]);
  assertAccepted("/a/%2e/b", ["a", "b"]);
  assertAccepted("/./", []);
  assertAccepted("/a/../b", ["b"]);
  assertAccepted("/a/b/../../c", ["c"]);
  assertAccepted("/a/%2e%2e/b", ["b"]);
  assertAccepted("/a/%2E%2e/b", ["b"]);
  assertAccepted("/a/.%2e/b", ["b"]);
  assertAccepted("/a/%2e./b", ["b"]);
  assertAccepted("/a/..", []);
});

Deno.test("parseRequestPath() reports a trailing slash", () => {
  const directory = parseRequestPath("/docs/");
  assert.ok(directory.ok && directory.trailingSlash);
  const file = parseRequestPath("/docs");
  assert.ok(file.ok && !file.trailingSlash);
  const root = parseRequestPath("/");
  assert.ok(root.ok && root.trailingSlash);
});

Deno.test("parseRequestPath() refuses a way out of the root with 404", () => {
  for (
    const pathname of [
      "/..",
      "/../",
      "/../secret",
      "/../../../../etc/passwd",
      "/%2e%2e/secret",
      "/%2E%2E/secret",
      "/%2e./secret",
      "/.%2e/secret",
      "/.%2E/",
      "/a/../../secret",
      "/a/%2e%2e/%2e%2e/secret",
      "/./../secret",
      "//../secret",
      "/a/b/../../../secret",
    ]
  ) {
    assertRefused(pathname, 404);
    assertRefused(pathname, 404, { dotfiles: true });
  }
});

Deno.test("parseRequestPath() refuses encoded separators with 400", () => {
  for (
    const pathname of [
      "/..%2fsecret",
      "/..%2Fsecret",
      "/%2E%2E%2Fsecret",
      "/%2e%2e%2f%2e%2e%2fsecret",
      "/a%2fb",
      "/a/..%5c..%5csecret",
      "/..%5Csecret",
      "/%5c",
      "/%2f",
      "/sub%2f.env",
    ]
  ) {
    assertRefused(pathname, 400);
  }
});

Deno.test("parseRequestPath() refuses backslashes with 400", () => {
  for (
    const pathname of ["/..\\secret", "/a\\b", "\\", "/\\evil.com", "/a/\\"]
  ) {
    assertRefused(pathname, 400);
  }
});

Deno.test("parseRequestPath() refuses NUL and control characters with 400", () => {
  for (
    const pathname of [
      "/%00",
      "/index.html%00.txt",
      "/index.html%00",
      "/a\0b",
      "/\0",
      "/%0d%0aSet-Cookie:x",
      "/%0A",
      "/%09",
      "/%7f",
      "/%1b[31m",
    ]
  ) {
    assertRefused(pathname, 400);
  }
});

Deno.test("parseRequestPath() refuses broken percent-encoding with 400", () => {
  for (
    const pathname of [
      "/%",
      "/%zz",
      "/%2",
      "/%g0",
      "/a%",
      "/a%2",
      "/%%32%65",
      "/%c0%ae",
      "/%c0%ae%c0%ae/secret",
      "/%e0%80%ae",
      "/%ff",
      "/%C3",
      "/%e2%82",
      "/%ed%a0%80",
    ]
  ) {
    assertRefused(pathname, 400);
  }
});

Deno.test("parseRequestPath() refuses paths that are not absolute with 400", () => {
  assertRefused("", 400);
  assertRefused("index.html", 400);
  assertRefused("*", 400);
  assertRefused("http://x/", 400);
});

Deno.test("parseRequestPath() refuses very long paths with 414", () => {
  const depth = Math.floor((MAX_PATH_LENGTH - 1) / 2);
  assertAccepted("/" + "a/".repeat(depth), Array(depth).fill("a"));
  assertRefused("/" + "a/".repeat(MAX_PATH_LENGTH), 414);
  assertRefused("/" + "x".repeat(MAX_PATH_LENGTH), 414);
});

Deno.test("parseRequestPath() refuses names too long for a file system", () => {
  assertAccepted("/" + "a".repeat(255), ["a".repeat(255)]);
  assertRefused("/" + "a".repeat(256), 404);
  // 128 two-byte characters are 256 bytes of UTF-8
  assertRefused("/" + "é".repeat(128), 404);
  assertRefused("/" + "%C3%A9".repeat(128), 404);
});

Deno.test("parseRequestPath() refuses dotfiles and dot-folders with 404", () => {
  for (
    const pathname of [
      "/.env",
      "/.env.local",
      "/.git/config",
      "/.git/",
      "/.git",
      "/.npmrc",
      "/sub/.env",
      "/sub/.hidden/page.html",
      "/.%65nv",
      "/%2eenv",
      "/%2Egit/config",
      "/..foo",
      "/.well-known/x",
    ]
  ) {
    assertRefused(pathname, 404);
  }
});

Deno.test("parseRequestPath() serves dotfiles when dotfiles is true", () => {
  const policy = { dotfiles: true };
  assertAccepted("/.env", [".env"], policy);
  assertAccepted("/.git/config", [".git", "config"], policy);
  assertAccepted("/.%65nv", [".env"], policy);
  assertAccepted("/sub/.well-known/x", ["sub", ".well-known", "x"], policy);
});

Deno.test("parseRequestPath() refuses key material with 404", () => {
  for (
    const pathname of [
      "/key.pem",
      "/KEY.PEM",
      "/Key.Pem",
      "/server.key",
      "/cert.crt",
      "/x.p12",
      "/x.pfx",
      "/X.PFX",
      "/certs/site.pem",
      "/site.pem/inside.txt",
      "/key%2Epem",
    ]
  ) {
    assertRefused(pathname, 404);
  }
  assertAccepted("/key.pem", ["key.pem"], { dotfiles: true });
  assertAccepted("/pem.txt", ["pem.txt"]);
  assertAccepted("/keys/readme.md", ["keys", "readme.md"]);
});

Deno.test("parseRequestPath() refuses names Windows rewrites, always", () => {
  for (
    const pathname of [
      "/index.html.",
      "/index.html..",
      "/index.html%2e",
      "/index.html::$DATA",
      "/index.html%3A%3A%24DATA",
      "/index.html:stream",
      "/index.html%20",
      "/index.html ",
      "/sub./page.txt",
      "/CON",
      "/con.txt",
      "/NUL",
      "/aux.html",
      "/com1",
      "/LPT9.log",
      "/c:",
      "/C%3A/Windows",
    ]
  ) {
    assertRefused(pathname, 404);
    assertRefused(pathname, 404, { dotfiles: true });
  }
  assertAccepted("/console.log", ["console.log"]);
  assertAccepted("/icon.png", ["icon.png"]);
});

Deno.test("rawPathAndQuery() keeps the path as it arrived", () => {
  const cases: [string, string, string][] = [
    ["http://127.0.0.1:8000/", "/", ""],
    ["http://127.0.0.1:8000", "/", ""],
    ["http://h/a/../b", "/a/../b", ""],
    ["http://h/%2e%2e/x?y=1", "/%2e%2e/x", "?y=1"],
    ["http://h/a?b=c#d", "/a", "?b=c"],
    ["http://h/a#b?c", "/a", ""],
    ["http://h//evil.com/dir", "//evil.com/dir", ""],
    ["http://h/..\\secret", "/..\\secret", ""],
    ["https://[::1]:8443/x", "/x", ""],
    // A hostile Host header ends up in request.url; what follows its first
    // "/" is still only ever treated as a path.
    ["http://evil/../x/file", "/../x/file", ""],
    ["http://a?b/c", "/c", ""],
    ["not a url", "/", ""],
  ];
  for (const [url, path, query] of cases) {
    assert.deepEqual(rawPathAndQuery(url), { path, query }, url);
  }
});

Deno.test("refusalForName() decides by name alone", () => {
  assert.equal(refusalForName("index.html"), undefined);
  assert.equal(refusalForName(".env")?.status, 404);
  assert.equal(refusalForName(".env", { dotfiles: true }), undefined);
  assert.equal(refusalForName("id.pfx")?.status, 404);
  assert.equal(refusalForName("a.txt.")?.status, 404);
  assert.equal(refusalForName("a.txt.", { dotfiles: true })?.status, 404);
  assert.equal(refusalForName("a".repeat(300))?.status, 404);
  // Names on disk that no request can spell are not listed either.
  assert.equal(refusalForName("a\\b", { dotfiles: true })?.status, 404);
  assert.equal(refusalForName("a\nb", { dotfiles: true })?.status, 404);
});

Deno.test("servableSegmentsBelow() compares whole segments", () => {
  assert.deepEqual(servableSegmentsBelow("/srv/site", "/srv/site"), []);
  assert.deepEqual(servableSegmentsBelow("/srv/site/", "/srv/site"), []);
  assert.deepEqual(servableSegmentsBelow("/srv/site", "/srv/site/a/b.txt"), [
    "a",
    "b.txt",
  ]);
  assert.equal(servableSegmentsBelow("/srv/site", "/srv/site-secret/x"), undefined);
  assert.equal(servableSegmentsBelow("/srv/site", "/srv/sites"), undefined);
  assert.equal(servableSegmentsBelow("/srv/site", "/srv"), undefined);
  assert.equal(servableSegmentsBelow("/srv/site", "/etc/passwd"), undefined);
  assert.equal(servableSegmentsBelow("/srv/site", "/"), undefined);
  assert.deepEqual(servableSegmentsBelow("/", "/etc/passwd"), [
    "etc",
    "passwd",
  ]);
});

Deno.test("servableSegmentsBelow() applies the policy to the real path", () => {
  assert.equal(servableSegmentsBelow("/srv/site", "/srv/site/.env"), undefined);
  assert.equal(
    servableSegmentsBelow("/srv/site", "/srv/site/.git/config"),
    undefined,
  );
  assert.equal(servableSegmentsBelow("/srv/site", "/srv/site/k.pem"), undefined);
  assert.deepEqual(
    servableSegmentsBelow("/srv/site", "/srv/site/.env", { dotfiles: true }),
    [".env"],
  );
  // A file whose name merely starts with ".." is inside, though still hidden.
  assert.deepEqual(
    servableSegmentsBelow("/srv/site", "/srv/site/..x", { dotfiles: true }),
    ["..x"],
  );
  // The root may itself sit in a dot-folder; only names below it count.
  assert.deepEqual(servableSegmentsBelow("/home/u/.site", "/home/u/.site/a"), [
    "a",
  ]);
});
