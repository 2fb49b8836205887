/**
 * Hostile requests against a real server whose handler is serveStatic().
 * Requests go out as raw bytes over TCP, because fetch() would normalise
 * the very paths under test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { serveStatic, type StaticOptions } from "../../src/static/static_files.ts";
import { withInProcessServer } from "../_harness/devsrv.ts";

/** In files outside the root: must never appear in any response. */
const OUTSIDE_MARKER = "OUTSIDE-SECRET-7f3a9c1e";
/** In dotfiles and key material inside the root: hidden by default. */
const HIDDEN_MARKER = "HIDDEN-SECRET-b52d04e8";

/** Longest a single raw request may take before the test gives up. */
const REQUEST_DEADLINE_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Fixture {
  /** Holds the root and, beside it, the secrets. */
  base: string;
  /** The served directory. */
  root: string;
}

/**
 * Builds:
 *
 *     base/secret                  OUTSIDE_MARKER
 *     base/outside/secret          OUTSIDE_MARKER
 *     base/site-secret/secret      OUTSIDE_MARKER (shares the root's prefix)
 *     base/site/                   the root
 *       index.html, sub/page.txt, evil.com/dir/, a/
 *       .env, .env.local, .npmrc, .git/config, sub/.env, key.pem, KEY.PEM,
 *       cert.crt, x.p12, x.pfx     HIDDEN_MARKER
 *       link-out-file -> ../secret, link-out-dir -> ../outside,
 *       sibling -> ../site-secret, link-in -> sub/page.txt,
 *       link-in-dir -> sub, link-to-env -> .env, loop -> loop
 */
async function makeFixture(): Promise<Fixture> {
  const base = await Deno.realPath(
    await Deno.makeTempDir({ prefix: "devsrv_security_" }),
  );
  const root = join(base, "site");
  for (const dir of ["outside", "site-secret", "site/sub", "site/.git"]) {
    await Deno.mkdir(join(base, dir), { recursive: true });
  }
  for (const dir of ["site/evil.com/dir", "site/a"]) {
    await Deno.mkdir(join(base, dir), { recursive: true });
  }
  for (const file of ["secret", "outside/secret", "site-secret/secret"]) {
    await Deno.writeTextFile(join(base, file), OUTSIDE_MARKER);
  }
  const hidden = [
    ".env",
    ".env.local",
    ".npmrc",
    ".git/config",
    "sub/.env",
    "key.pem",
    "KEY.PEM",
    "cert.crt",
    "x.p12",
    "x.pfx",
  ];
  for (const file of hidden) {
    await Deno.writeTextFile(join(root, file), HIDDEN_MARKER);
  }
  await Deno.writeTextFile(join(root, "index.html"), "<h1>home</h1>");
  await Deno.writeTextFile(join(root, "sub/page.txt"), "page");
  await Deno.symlink(join(base, "secret"), join(root, "link-out-file"));
  await Deno.symlink(join(base, "outside"), join(root, "link-out-dir"));
  await Deno.symlink("../site-secret", join(root, "sibling"));
  await Deno.symlink("sub/page.txt", join(root, "link-in"));
  await Deno.symlink("sub", join(root, "link-in-dir"));
  await Deno.symlink(".env", join(root, "link-to-env"));
  await Deno.symlink("loop", join(root, "loop"));
  return { base, root };
}

/** Runs `fn` against a real server on a free port, then stops it. */
async function withStaticFixture(
  options: Partial<StaticOptions>,
  fn: (port: number, fixture: Fixture) => Promise<void>,
): Promise<void> {
  const fixture = await makeFixture();
  try {
    await withInProcessServer(
      (request) => serveStatic(request, { root: fixture.root, ...options }),
      (port) => fn(port, fixture),
    );
  } finally {
    await Deno.remove(fixture.base, { recursive: true });
  }
}

interface RawResponse {
  status: number;
  headers: Headers;
  /** The whole response as text, head and body. */
  text: string;
}

/** Builds a request with the target exactly as given. */
function rawRequest(
  target: string,
  { method = "GET", host = "127.0.0.1" } = {},
): string {
  return `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\n` +
    "Connection: close\r\n\r\n";
}

/** Sends raw bytes and reads the response until the server closes. */
async function sendRaw(port: number, request: string): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let open = true;
  const closeOnce = () => {
    if (open) conn.close();
    open = false;
  };
  // A hung server fails the test at the read instead of hanging it.
  const deadline = setTimeout(closeOnce, REQUEST_DEADLINE_MS);
  try {
    await conn.write(encoder.encode(request));
    const text = await readToEnd(conn);
    return parseResponse(text, request);
  } finally {
    clearTimeout(deadline);
    closeOnce();
  }
}

async function readToEnd(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  while (true) {
    const read = await conn.read(buffer);
    if (read === null) break;
    chunks.push(buffer.slice(0, read));
  }
  const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return decoder.decode(all);
}

function parseResponse(text: string, request: string): RawResponse {
  const headEnd = text.indexOf("\r\n\r\n");
  const head = headEnd === -1 ? text : text.slice(0, headEnd);
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)?.[1]);
  assert.ok(status > 0, `No response to ${JSON.stringify(request)}: "${text}"`);
  const headers = new Headers();
  for (const line of headerLines) {
    const colon = line.indexOf(":");
    headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return { status, headers, text };
}

/** Asserts the status of a GET for `target`, and that nothing leaked. */
async function expectStatus(
  port: number,
  target: string,
  status: number,
  options: { method?: string; host?: string } = {},
): Promise<RawResponse> {
  const response = await sendRaw(port, rawRequest(target, options));
  assert.equal(response.status, status, `status for ${JSON.stringify(target)}`);
  assert.ok(!response.text.includes(OUTSIDE_MARKER), `leak for "${target}"`);
  return response;
}

Deno.test("serveStatic() refuses traversal in every spelling", async () => {
  await withStaticFixture({}, async (port) => {
    const cases: [string, number][] = [
      ["/../secret", 404],
      ["/../../../../../../etc/passwd", 404],
      ["/..%2fsecret", 400],
      ["/%2e%2e/secret", 404],
      ["/%2E%2E%2Fsecret", 400],
      ["/.%2e/", 404],
      ["/%2e./secret", 404],
      ["/a/../../secret", 404],
      ["/a/..%5c..%5csecret", 400],
      ["/..\\secret", 400],
      ["/a\\..\\..\\secret", 400],
      ["/%c0%ae%c0%ae/secret", 400],
      ["/%252e%252e/secret", 404],
      ["/sub/../index.html", 200],
      ["/sub/%2e%2e/index.html", 200],
    ];
    for (const [target, status] of cases) {
      await expectStatus(port, target, status);
    }
  });
});

Deno.test("serveStatic() refuses NUL and broken encodings with 400", async () => {
  await withStaticFixture({}, async (port) => {
    for (
      const target of [
        "/%00",
        "/index.html%00.txt",
        "/index.html%00",
        "/%zz",
        "/%",
        "/index.html%",
        "/%0d%0aX-Injected:%201",
        "/%ff",
      ]
    ) {
      await expectStatus(port, target, 400);
    }
  });
});

Deno.test("serveStatic() reads absolute-form targets raw", async () => {
  await withStaticFixture({}, async (port) => {
    await expectStatus(port, "http://x/../secret", 404);
    await expectStatus(port, "http://x/%2e%2e/secret", 404);
    await expectStatus(port, "http://x/sub/page.txt", 200);
    // A hostile Host header lands in request.url; it is read as path only.
    await expectStatus(port, "/secret", 404, { host: "evil/../.." });
    await expectStatus(port, "/secret", 404, { host: "evil\\..\\.." });
    await expectStatus(port, "/sub/page.txt", 200, { host: "a b" });
  });
});

Deno.test("serveStatic() follows symlinks only inside the root", async () => {
  await withStaticFixture({}, async (port) => {
    await expectStatus(port, "/link-out-file", 404);
    await expectStatus(port, "/link-out-dir", 404);
    await expectStatus(port, "/link-out-dir/", 404);
    await expectStatus(port, "/link-out-dir/secret", 404);
    await expectStatus(port, "/sibling/", 404);
    await expectStatus(port, "/sibling/secret", 404);
    await expectStatus(port, "/loop", 404);
    const hidden = await expectStatus(port, "/link-to-env", 404);
    assert.ok(!hidden.text.includes(HIDDEN_MARKER));

    const inside = await expectStatus(port, "/link-in", 200);
    assert.ok(inside.text.endsWith("\r\n\r\npage"));
    const insideDir = await expectStatus(port, "/link-in-dir/page.txt", 200);
    assert.ok(insideDir.text.endsWith("\r\n\r\npage"));

    // A dot-segment that stays inside the root is fine.
    const home = await expectStatus(port, "/a/../", 200);
    assert.ok(home.text.endsWith("<h1>home</h1>"));
  });
});

Deno.test("serveStatic() lists only links that stay inside", async () => {
  await withStaticFixture({}, async (port, fixture) => {
    await Deno.remove(join(fixture.root, "index.html"));
    const listing = await expectStatus(port, "/", 200);
    for (const name of ["link-in", "link-in-dir/", "sub/", "a/"]) {
      assert.ok(listing.text.includes(`>${name}</a>`), name);
    }
    for (
      const name of [
        "link-out-file",
        "link-out-dir",
        "sibling",
        "loop",
        "link-to-env",
        ".env",
        ".git",
        "key.pem",
      ]
    ) {
      assert.ok(!listing.text.includes(name), name);
    }
  });
});

Deno.test("serveStatic() hides dotfiles and key material", async () => {
  await withStaticFixture({}, async (port) => {
    for (
      const target of [
        "/.env",
        "/.env.local",
        "/.npmrc",
        "/.git/config",
        "/.git/",
        "/.git",
        "/.%65nv",
        "/%2eenv",
        "/sub/.env",
        "/sub/%2Eenv",
        "/key.pem",
        "/KEY.PEM",
        "/key.PEM",
        "/cert.crt",
        "/x.p12",
        "/x.pfx",
      ]
    ) {
      for (const method of ["GET", "HEAD"]) {
        const response = await expectStatus(port, target, 404, { method });
        assert.ok(!response.text.includes(HIDDEN_MARKER), target);
      }
    }
    const listing = await expectStatus(port, "/sub/", 200);
    assert.ok(listing.text.includes("page.txt"));
    assert.ok(!listing.text.includes(".env"));
  });
});

Deno.test("serveStatic() serves dotfiles when dotfiles is true", async () => {
  await withStaticFixture({ dotfiles: true }, async (port) => {
    for (const target of ["/.env", "/.git/config", "/key.pem", "/x.pfx"]) {
      const response = await expectStatus(port, target, 200);
      assert.ok(response.text.endsWith(HIDDEN_MARKER), target);
    }
    // Only the policy changes: escapes and Windows tricks stay refused.
    await expectStatus(port, "/%2e%2e/secret", 404);
    await expectStatus(port, "/link-out-file", 404);
    await expectStatus(port, "/.env.", 404);
  });
});

Deno.test("serveStatic() refuses names that Windows rewrites", async () => {
  await withStaticFixture({}, async (port) => {
    for (
      const target of [
        "/index.html.",
        "/index.html..",
        "/index.html%2e",
        "/index.html::$DATA",
        "/index.html%3A%3A%24DATA",
        "/index.html%20",
        "/index.html%20%20",
        "/sub./page.txt",
        "/CON",
        "/nul.txt",
      ]
    ) {
      await expectStatus(port, target, 404);
    }
  });
});

Deno.test("serveStatic() never redirects to another host", async () => {
  await withStaticFixture({}, async (port) => {
    const cases: [string, string][] = [
      ["//evil.com/dir", "/evil.com/dir/"],
      ["///evil.com/dir", "/evil.com/dir/"],
      ["/evil.com/dir", "/evil.com/dir/"],
      ["//evil.com/dir?next=//x", "/evil.com/dir/?next=//x"],
      ["/%2fevil.com/dir", ""],
      ["/%5cevil.com/dir", ""],
    ];
    for (const [target, location] of cases) {
      const response = await sendRaw(port, rawRequest(target));
      const actual = response.headers.get("location");
      if (location === "") {
        assert.equal(response.status, 400, target);
        assert.equal(actual, null, target);
        continue;
      }
      assert.equal(response.status, 301, target);
      assert.equal(actual, location, target);
      assert.ok(!/^[/\\]{2}/.test(actual ?? ""), target);
    }
  });
});

Deno.test("serveStatic() copes with very long paths and many slashes", async () => {
  await withStaticFixture({}, async (port) => {
    await expectStatus(port, "/" + "a".repeat(5000), 414);
    await expectStatus(port, "/" + "a/".repeat(2500), 414);
    await expectStatus(port, "/" + "a".repeat(300), 404);
    await expectStatus(port, "/" + "%2e%2e/".repeat(500), 404);
    await expectStatus(port, "/" + "x/".repeat(2000), 404);
    await expectStatus(port, "/" + "/".repeat(3000), 200);
    await expectStatus(port, "/////index.html", 200);
    await expectStatus(port, "/sub////page.txt", 200);
    await expectStatus(port, "//sub//", 200);
  });
});

Deno.test("serveStatic() answers 404 for special files", {
  ignore: Deno.build.os === "windows",
}, async () => {
  await withStaticFixture({}, async (port, fixture) => {
    const fifo = join(fixture.root, "pipe");
    const { success } = await new Deno.Command("mkfifo", { args: [fifo] })
      .output();
    assert.ok(success, "mkfifo failed");
    // Opening a FIFO for reading would hang until a writer came along.
    await expectStatus(port, "/pipe", 404);
  });
});

/** A small fast PRNG, so a failing run can be replayed from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_SEGMENTS = [
  "..",
  ".",
  "%2e%2e",
  "%2E.",
  ".%2e",
  "%2e",
  "..%2f",
  "..%5c",
  "%2f",
  "%5c",
  "\\",
  "..\\..",
  "%00",
  "%252e%252e",
  "%25%32%65",
  "%c0%ae",
  "%c0%ae%c0%ae",
  "%e0%80%ae",
  "%ef%bc%8e%ef%bc%8e",
  "\u2025",
  "..;",
  "%",
  "%zz",
  "",
  "secret",
  "outside",
  "site-secret",
  "site",
  "sibling",
  "link-out-file",
  "link-out-dir",
  "link-in-dir",
  "link-to-env",
  ".env",
  ".env.local",
  ".git",
  "config",
  "%2eenv",
  ".%65nv",
  "key.pem",
  "KEY.PEM",
  "x.pfx",
  "index.html",
  "index.html.",
  "index.html::$DATA",
  "sub",
  "page.txt",
  "évil",
  "%C3%A9",
  "%20",
];

const SEPARATORS = ["/", "/", "/", "//", "%2f", "\\", "%5c"];

/** Builds one hostile request target from the segment grammar. */
function hostileTarget(random: () => number): string {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const count = 1 + Math.floor(random() * 8);
  let path = "/";
  for (let i = 0; i < count; i++) {
    path += (i === 0 ? "" : pick(SEPARATORS)) + pick(HOSTILE_SEGMENTS);
  }
  if (random() < 0.2) path += "/";
  if (random() < 0.1) path = "http://x" + path;
  if (random() < 0.1) path += "?q=" + pick(HOSTILE_SEGMENTS);
  return path;
}

Deno.test("serveStatic() never leaks or fails on random hostile paths", async () => {
  const seed = Number(Deno.env.get("DEVSRV_FUZZ_SEED") ?? Date.now() % 2 ** 31);
  const random = mulberry32(seed);
  const targets = Array.from({ length: 3000 }, () => hostileTarget(random));
  const workers = 8;
  await withStaticFixture({}, async (port) => {
    const statuses = new Map<number, number>();
    let next = 0;
    const work = async () => {
      while (next < targets.length) {
        const target = targets[next++]!;
        const method = next % 5 === 0 ? "HEAD" : "GET";
        const context = `seed ${seed} (DEVSRV_FUZZ_SEED=${seed}), ` +
          `${method} ${JSON.stringify(target)}`;
        let response: RawResponse;
        try {
          response = await sendRaw(port, rawRequest(target, { method }));
        } catch (error) {
          throw new Error(`No response: ${context}`, { cause: error });
        }
        assert.notEqual(response.status, 500, context);
        assert.ok([200, 301, 400, 404, 414].includes(response.status), context);
        assert.ok(!response.text.includes(OUTSIDE_MARKER), `Leak: ${context}`);
        assert.ok(!response.text.includes(HIDDEN_MARKER), `Leak: ${context}`);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: workers }, work));
    // The grammar must reach both refusals and real files to mean anything.
    for (const status of [200, 400, 404]) {
      assert.ok((statuses.get(status) ?? 0) > 0, `seed ${seed}: no ${status}`);
    }
  });
});
