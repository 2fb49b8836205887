import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { parseRange, serveStatic, type StaticOptions } from "../../src/static/static_files.ts";
import { renderListing } from "../../src/static/dir_listing.ts";
import { withInProcessServer } from "../_harness/devsrv.ts";

const TEXT = "0123456789abcdefghij"; // 20 bytes, each at its own offset

/** Runs `fn` with a fresh site directory, removed afterwards. */
async function withSite(
  files: Record<string, string | Uint8Array>,
  fn: (root: string) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "devsrv_static_" });
  try {
    for (const [name, content] of Object.entries(files)) {
      const path = join(root, name);
      if (name.endsWith("/")) {
        await Deno.mkdir(path, { recursive: true });
        continue;
      }
      await Deno.mkdir(dirname(path), { recursive: true });
      if (typeof content === "string") await Deno.writeTextFile(path, content);
      else await Deno.writeFile(path, content);
    }
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Serves `path` from `root` in-process. */
function get(
  root: string,
  path: string,
  init: RequestInit = {},
  options: Partial<StaticOptions> = {},
): Promise<Response> {
  const request = new Request(`http://localhost${path}`, init);
  return serveStatic(request, { root, ...options });
}

/** Reads a response's body as text (so no response is left unread). */
async function textOf(response: Response): Promise<string> {
  return await response.text();
}

Deno.test("serveStatic() serves index.html for a directory", async () => {
  await withSite({
    "index.html": "<h1>home</h1>",
    "docs/index.html": "<h1>docs</h1>",
  }, async (root) => {
    const home = await get(root, "/");
    assert.equal(home.status, 200);
    assert.equal(home.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(await textOf(home), "<h1>home</h1>");

    const docs = await get(root, "/docs/");
    assert.equal(docs.status, 200);
    assert.equal(await textOf(docs), "<h1>docs</h1>");

    const direct = await get(root, "/docs/index.html");
    assert.equal(await textOf(direct), "<h1>docs</h1>");
  });
});

Deno.test("serveStatic() lists a directory without index.html", async () => {
  await withSite({
    "b.txt": "b",
    "a.txt": "a",
    "file10.txt": "10",
    "file9.txt": "9",
    "zeta/": "",
    "alpha/": "",
    ".env": "SECRET=1",
    ".git/config": "[core]",
    "key.pem": "-----BEGIN PRIVATE KEY-----",
    "<img src=x onerror=alert(1)>.txt": "x",
    "back\\slash.txt": "x",
    'q"uote&amp.txt': "x",
    "caf\u00e9 #1?.txt": "x",
  }, async (root) => {
    const response = await get(root, "/");
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get("content-type"),
      "text/html; charset=utf-8",
    );
    assert.equal(response.headers.get("cache-control"), "no-cache");
    const html = await textOf(response);
    const names = [...html.matchAll(/<a href="([^"]*)">([^<]*)<\/a>/g)]
      .map((match) => `${match[1]} ${match[2]}`);
    assert.deepEqual(names, [
      "./alpha/ alpha/",
      "./zeta/ zeta/",
      "./%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt &lt;img src=x onerror=alert(1)&gt;.txt",
      "./a.txt a.txt",
      "./b.txt b.txt",
      "./caf%C3%A9%20%231%3F.txt caf\u00e9 #1?.txt",
      "./file9.txt file9.txt",
      "./file10.txt file10.txt",
      "./q%22uote%26amp.txt q&quot;uote&amp;amp.txt",
    ]);
    assert.ok(!html.includes("<img"));
    assert.ok(!html.includes("slash"));
    assert.ok(!html.includes(".env"));
    assert.ok(!html.includes(".git"));
    assert.ok(!html.includes("key.pem"));
    assert.ok(html.includes("<title>Index of /</title>"));
  });
});

Deno.test("serveStatic() lists a subdirectory with a parent link", async () => {
  await withSite({ "sub dir/<x>/page.txt": "p" }, async (root) => {
    const response = await get(root, "/sub%20dir/%3Cx%3E/");
    const html = await textOf(response);
    assert.equal(response.status, 200);
    assert.ok(html.includes(`<a href="../">../</a>`));
    assert.ok(html.includes("<title>Index of /sub dir/&lt;x&gt;/</title>"));
    assert.ok(html.includes(`<a href="./page.txt">page.txt</a>`));
  });
});

Deno.test("serveStatic() lists and serves dotfiles when dotfiles is true", async () => {
  await withSite({ ".env": "SECRET=1", "key.pem": "KEY", "a.txt": "a" }, async (root) => {
    const options = { dotfiles: true };
    const html = await textOf(await get(root, "/", {}, options));
    assert.ok(html.includes(`<a href="./.env">.env</a>`));
    assert.ok(html.includes(`<a href="./key.pem">key.pem</a>`));
    const env = await get(root, "/.env", {}, options);
    assert.equal(env.status, 200);
    assert.equal(await textOf(env), "SECRET=1");
    const key = await get(root, "/key.pem", {}, options);
    assert.equal(await textOf(key), "KEY");
  });
});

Deno.test("serveStatic() hides dotfiles by default", async () => {
  await withSite({ ".env": "SECRET=1", "key.pem": "KEY" }, async (root) => {
    for (const path of ["/.env", "/key.pem", "/KEY.PEM"]) {
      const response = await get(root, path);
      assert.equal(response.status, 404, path);
      assert.ok(!(await textOf(response)).includes("SECRET"));
    }
  });
});

Deno.test("serveStatic() sends content types with a charset for text", async () => {
  const expected: Record<string, string> = {
    "page.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.mjs": "text/javascript; charset=utf-8",
    "data.json": "application/json; charset=utf-8",
    "icon.svg": "image/svg+xml; charset=utf-8",
    "notes.txt": "text/plain; charset=utf-8",
    "README.md": "text/markdown; charset=utf-8",
    "main.ts": "text/typescript; charset=utf-8",
    "view.tsx": "text/tsx; charset=utf-8",
    "photo.png": "image/png",
    "photo.JPG": "image/jpeg",
    "module.wasm": "application/wasm",
    "font.woff2": "font/woff2",
    "archive.unknownext": "application/octet-stream",
    "LICENSE": "application/octet-stream",
  };
  const files = Object.fromEntries(
    Object.keys(expected).map((name) => [name, "x"]),
  );
  await withSite(files, async (root) => {
    for (const [name, type] of Object.entries(expected)) {
      const response = await get(root, `/${name}`);
      assert.equal(response.status, 200, name);
      assert.equal(response.headers.get("content-type"), type, name);
      assert.equal(response.headers.get("content-length"), "1", name);
      await response.body?.cancel();
    }
  });
});

Deno.test("serveStatic() sends validators and no-cache", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    const modified = new Date("2024-05-06T07:08:09Z");
    await Deno.utime(join(root, "a.txt"), modified, modified);
    const response = await get(root, "/a.txt");
    await textOf(response);
    const etag = response.headers.get("etag") ?? "";
    assert.match(etag, /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    assert.equal(
      response.headers.get("last-modified"),
      "Mon, 06 May 2024 07:08:09 GMT",
    );
    assert.equal(response.headers.get("cache-control"), "no-cache");
    assert.equal(response.headers.get("accept-ranges"), "bytes");

    await Deno.writeTextFile(join(root, "a.txt"), TEXT + "!");
    const changed = await get(root, "/a.txt");
    await textOf(changed);
    assert.notEqual(changed.headers.get("etag"), etag);
  });
});

Deno.test("serveStatic() answers If-None-Match with 304 or 200", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    const first = await get(root, "/a.txt");
    await textOf(first);
    const etag = first.headers.get("etag")!;
    const strong = etag.slice(2);

    for (const ifNoneMatch of [etag, strong, `"x", ${etag}`, "*"]) {
      const response = await get(root, "/a.txt", {
        headers: { "if-none-match": ifNoneMatch },
      });
      assert.equal(response.status, 304, ifNoneMatch);
      assert.equal(response.body, null);
      assert.equal(response.headers.get("etag"), etag);
      assert.equal(response.headers.get("cache-control"), "no-cache");
    }
    const stale = await get(root, "/a.txt", {
      headers: { "if-none-match": 'W/"0-0"' },
    });
    assert.equal(stale.status, 200);
    assert.equal(await textOf(stale), TEXT);

    // If-None-Match wins over a matching If-Modified-Since.
    const both = await get(root, "/a.txt", {
      headers: {
        "if-none-match": 'W/"0-0"',
        "if-modified-since": new Date(Date.now() + 60_000).toUTCString(),
      },
    });
    assert.equal(both.status, 200);
    await textOf(both);
  });
});

Deno.test("serveStatic() answers If-Modified-Since with 304 or 200", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    const modified = new Date("2024-05-06T07:08:09Z");
    await Deno.utime(join(root, "a.txt"), modified, modified);
    const cases: [string, number][] = [
      ["Mon, 06 May 2024 07:08:09 GMT", 304],
      ["Mon, 06 May 2024 07:08:10 GMT", 304],
      ["Mon, 06 May 2024 07:08:08 GMT", 200],
      ["Sun, 05 May 2024 00:00:00 GMT", 200],
      ["not a date", 200],
    ];
    for (const [since, status] of cases) {
      const response = await get(root, "/a.txt", {
        headers: { "if-modified-since": since },
      });
      assert.equal(response.status, status, since);
      assert.equal(await textOf(response), status === 304 ? "" : TEXT);
    }
  });
});

Deno.test("serveStatic() answers byte ranges with 206", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    const cases: [string, string, string][] = [
      ["bytes=0-4", "01234", "bytes 0-4/20"],
      ["bytes=5-", "56789abcdefghij", "bytes 5-19/20"],
      ["bytes=-3", "hij", "bytes 17-19/20"],
      ["bytes=15-99", "fghij", "bytes 15-19/20"],
      ["bytes=-100", TEXT, "bytes 0-19/20"],
      ["bytes=19-19", "j", "bytes 19-19/20"],
      [" bytes = 2 - 3 ", "23", "bytes 2-3/20"],
    ];
    for (const [range, body, contentRange] of cases) {
      const response = await get(root, "/a.txt", { headers: { range } });
      assert.equal(response.status, 206, range);
      assert.equal(response.headers.get("content-range"), contentRange, range);
      assert.equal(
        response.headers.get("content-length"),
        String(body.length),
        range,
      );
      assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(await textOf(response), body, range);
    }
  });
});

Deno.test("serveStatic() answers unsatisfiable ranges with 416", async () => {
  await withSite({ "a.txt": TEXT, "empty.txt": "" }, async (root) => {
    for (
      const [path, range] of [
        ["/a.txt", "bytes=20-"],
        ["/a.txt", "bytes=25-30"],
        ["/a.txt", "bytes=-0"],
        ["/a.txt", "bytes=99999999999999999999999-"],
        ["/empty.txt", "bytes=0-"],
        ["/empty.txt", "bytes=-5"],
      ] as const
    ) {
      const response = await get(root, path, { headers: { range } });
      assert.equal(response.status, 416, `${path} ${range}`);
      const size = path === "/a.txt" ? 20 : 0;
      assert.equal(response.headers.get("content-range"), `bytes */${size}`);
      assert.ok(!(await textOf(response)).includes("0123"));
    }
  });
});

Deno.test("serveStatic() sends the whole file for ranges it does not do", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    for (
      const range of [
        "bytes=0-1,4-5",
        "bytes=5-2",
        "items=0-4",
        "bytes=-",
        "bytes=a-b",
        "bytes",
      ]
    ) {
      const response = await get(root, "/a.txt", { headers: { range } });
      assert.equal(response.status, 200, range);
      assert.equal(response.headers.get("content-range"), null);
      assert.equal(await textOf(response), TEXT, range);
    }
  });
});

Deno.test("serveStatic() honours If-Range", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    const modified = new Date("2024-05-06T07:08:09Z");
    await Deno.utime(join(root, "a.txt"), modified, modified);
    const first = await get(root, "/a.txt");
    await textOf(first);
    const etag = first.headers.get("etag")!;
    const cases: [string, number][] = [
      ["Mon, 06 May 2024 07:08:09 GMT", 206],
      ["Mon, 06 May 2024 07:08:10 GMT", 200],
      ["Sun, 05 May 2024 07:08:09 GMT", 200],
      // A weak ETag is never a strong match (RFC 9110, 13.1.5).
      [etag, 200],
      [etag.slice(2), 200],
      ["garbage", 200],
    ];
    for (const [ifRange, status] of cases) {
      const response = await get(root, "/a.txt", {
        headers: { range: "bytes=0-1", "if-range": ifRange },
      });
      assert.equal(response.status, status, ifRange);
      assert.equal(await textOf(response), status === 206 ? "01" : TEXT);
    }
  });
});

Deno.test("serveStatic() answers HEAD with headers and no body", async () => {
  await withSite({ "a.txt": TEXT, "sub/x.txt": "x" }, async (root) => {
    const head = await get(root, "/a.txt", { method: "HEAD" });
    const full = await get(root, "/a.txt");
    await textOf(full);
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    for (const name of ["content-type", "content-length", "etag", "last-modified"]) {
      assert.equal(head.headers.get(name), full.headers.get(name), name);
    }
    const ranged = await get(root, "/a.txt", {
      method: "HEAD",
      headers: { range: "bytes=0-1" },
    });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.body, null);
    const listing = await get(root, "/sub/", { method: "HEAD" });
    assert.equal(listing.status, 200);
    assert.equal(listing.body, null);
    assert.ok(Number(listing.headers.get("content-length")) > 0);
    const missing = await get(root, "/missing", { method: "HEAD" });
    assert.equal(missing.status, 404);
    assert.equal(missing.body, null);
  });
});

Deno.test("serveStatic() keeps Content-Length for HEAD over a real socket", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    await withInProcessServer((request) => serveStatic(request, { root }), async (port) => {
      const response = await fetch(`http://127.0.0.1:${port}/a.txt`, { method: "HEAD" });
      await response.body?.cancel();
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-length"), "20");
    });
  });
});

Deno.test("serveStatic() answers other methods with 405", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const response = await get(root, "/a.txt", { method });
      assert.equal(response.status, 405, method);
      assert.equal(response.headers.get("allow"), "GET, HEAD");
      await textOf(response);
    }
    assert.equal(await Deno.readTextFile(join(root, "a.txt")), TEXT);
  });
});

Deno.test("serveStatic() redirects a directory to its trailing slash", async () => {
  await withSite({
    "docs/index.html": "docs",
    "a b/c/": "",
    "evil.com/dir/": "",
  }, async (root) => {
    const cases: [string, string][] = [
      ["/docs", "/docs/"],
      ["/docs?x=1&y=%20", "/docs/?x=1&y=%20"],
      ["/a%20b/c", "/a%20b/c/"],
      ["//evil.com/dir", "/evil.com/dir/"],
      ["///evil.com//dir", "/evil.com/dir/"],
    ];
    for (const [path, location] of cases) {
      const response = await get(root, path);
      assert.equal(response.status, 301, path);
      assert.equal(response.headers.get("location"), location, path);
      await textOf(response);
    }
  });
});

Deno.test("serveStatic() answers 404 for missing and misshaped paths", async () => {
  await withSite({ "a.txt": TEXT }, async (root) => {
    for (const path of ["/missing.txt", "/a.txt/", "/a.txt/x", "/no/such/dir/"]) {
      const response = await get(root, path);
      assert.equal(response.status, 404, path);
      assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
      await textOf(response);
    }
    const gone = await serveStatic(new Request("http://localhost/a.txt"), {
      root: join(root, "missing-root"),
    });
    assert.equal(gone.status, 404);
    await textOf(gone);
  });
});

Deno.test("serveStatic() answers 403 where reading is not allowed", async () => {
  // Tests run as any user (often root, which ignores file modes), so the
  // refusal comes from Deno's own --deny-read in a child process.
  await withSite({ "private/x.txt": "x", "a.txt": "a" }, async (root) => {
    const probe = join(root, "probe.ts");
    const module = new URL("../../src/static/static_files.ts", import.meta.url);
    await Deno.writeTextFile(
      probe,
      `import { serveStatic } from ${JSON.stringify(module.href)};
for (const path of ["/private/x.txt", "/private/", "/a.txt", "/"]) {
  const request = new Request("http://localhost" + path);
  const response = await serveStatic(request, { root: ${JSON.stringify(root)} });
  const body = await response.text();
  console.log(path, response.status, body.includes("private"));
}`,
    );
    const config = new URL("../../deno.json", import.meta.url);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--config=${config.pathname}`,
        "--allow-read",
        `--deny-read=${join(root, "private")}`,
        probe,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.ok(output.success, stderr);
    assert.deepEqual(new TextDecoder().decode(output.stdout).trim().split("\n"), [
      "/private/x.txt 403 false",
      "/private/ 403 false",
      "/a.txt 200 false",
      "/ 200 false",
    ]);
  });
});

Deno.test("serveStatic() streams a big file in chunks", async () => {
  const size = 24 * 1024 * 1024 + 7;
  const content = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) content[i] = (i / 4096) % 251;
  content[size - 1] = 42;
  await withSite({ "big.bin": content }, async (root) => {
    // In-process: the body is a stream of small chunks, not one buffer.
    const response = await get(root, "/big.bin");
    assert.equal(response.headers.get("content-length"), String(size));
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length <= 64 * 1024);
    await reader.cancel(); // closes the file; --trace-leaks would catch it

    // Over a real socket: every byte arrives, in order.
    await withInProcessServer((request) => serveStatic(request, { root }), async (port) => {
      const base = `http://127.0.0.1:${port}`;
      const whole = await fetch(`${base}/big.bin`);
      const received = new Uint8Array(await whole.arrayBuffer());
      assert.equal(received.length, size);
      assert.ok(received.every((byte, i) => byte === content[i]));

      const start = 10 * 1024 * 1024 + 3;
      const ranged = await fetch(`${base}/big.bin`, {
        headers: { range: `bytes=${start}-` },
      });
      const tail = new Uint8Array(await ranged.arrayBuffer());
      assert.equal(ranged.status, 206);
      assert.equal(tail.length, size - start);
      assert.ok(tail.every((byte, i) => byte === content[start + i]));
    });
  });
});

Deno.test("serveStatic() sends the announced length when a file changes", async () => {
  await withSite({ "grows.txt": TEXT, "shrinks.txt": TEXT }, async (root) => {
    const grows = await get(root, "/grows.txt");
    await Deno.writeTextFile(join(root, "grows.txt"), "more", { append: true });
    assert.equal(await textOf(grows), TEXT);

    // Fewer bytes than Content-Length promised: the body errors, which
    // aborts the response, and the file is still closed.
    const shrinks = await get(root, "/shrinks.txt");
    await Deno.truncate(join(root, "shrinks.txt"), 5);
    await assert.rejects(textOf(shrinks), /ended 15 bytes early/);
  });
});

Deno.test("serveStatic() serves an empty file", async () => {
  await withSite({ "empty.txt": "" }, async (root) => {
    const response = await get(root, "/empty.txt");
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), "0");
    assert.equal(await textOf(response), "");
  });
});

Deno.test("parseRange() reads one byte range", () => {
  assert.deepEqual(parseRange("bytes=0-0", 1), { start: 0, end: 0 });
  assert.deepEqual(parseRange("BYTES=1-", 3), { start: 1, end: 2 });
  assert.deepEqual(parseRange("bytes=-1", 3), { start: 2, end: 2 });
  assert.deepEqual(parseRange("bytes=0-9007199254740993", 3), {
    start: 0,
    end: 2,
  });
  assert.equal(parseRange("bytes=3-", 3), "unsatisfiable");
  assert.equal(parseRange("bytes=-0", 3), "unsatisfiable");
  assert.equal(parseRange("bytes=0-", 0), "unsatisfiable");
  assert.equal(parseRange("bytes=2-1", 3), undefined);
  assert.equal(parseRange("bytes=0-1, 2-3", 9), undefined);
  assert.equal(parseRange("bytes=1.5-2", 9), undefined);
  assert.equal(parseRange("bytes=+1-2", 9), undefined);
  assert.equal(parseRange("", 9), undefined);
});

Deno.test("renderListing() escapes every name", () => {
  const html = renderListing(["<img src=x onerror=alert(1)>"], [{
    name: `"><svg onload=alert(1)>'`,
    isDirectory: true,
    size: null,
    modified: new Date("2024-01-02T03:04:05Z"),
  }, {
    name: "javascript:alert(1)",
    isDirectory: false,
    size: 2048,
    modified: null,
  }]);
  assert.ok(!html.includes("<img"));
  assert.ok(!html.includes("<svg"));
  assert.ok(html.includes(`href="./%22%3E%3Csvg%20onload%3Dalert(1)%3E'/"`));
  assert.ok(html.includes("&quot;&gt;&lt;svg onload=alert(1)&gt;&#39;/"));
  assert.ok(html.includes(`href="./javascript%3Aalert(1)"`));
  assert.ok(html.includes("2.0 KiB"));
  assert.ok(html.includes("2024-01-02 03:04 UTC"));
});
