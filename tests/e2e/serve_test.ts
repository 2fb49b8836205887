/**
 * `devsrv serve` as one process (`--no-reload`) and through the reloader:
 * the handler conventions, entry discovery, the access log, the development
 * error page and graceful shutdown, through the real program.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  DevsrvProcess,
  fetchText,
  freePort,
  waitFor,
  withServer,
  withTempDir,
} from "../_harness/devsrv.ts";

Deno.test("devsrv serve accepts every handler convention", async () => {
  const forms: Record<string, string> = {
    "default_object.ts":
      "export default { fetch: (req) => new Response('object ' + req.method) };\n",
    "default_function.ts": "export default (req) => new Response('function ' + req.method);\n",
    "named_fetch.ts":
      "export function fetch(req) { return new Response('fetch ' + req.method); }\n",
    "named_handler.ts": "export const handler = (req) => new Response('handler ' + req.method);\n",
    "this_bound.ts":
      "export default { greeting: 'bound', fetch() { return new Response(this.greeting); } };\n",
    "with_info.ts":
      "export default { fetch: (req, info) => new Response(info.remoteAddr.hostname) };\n",
  };
  const expected: Record<string, string> = {
    "default_object.ts": "object GET",
    "default_function.ts": "function GET",
    "named_fetch.ts": "fetch GET",
    "named_handler.ts": "handler GET",
    "this_bound.ts": "bound",
    "with_info.ts": "127.0.0.1",
  };
  await withTempDir(forms, async (dir) => {
    for (const [entry, body] of Object.entries(expected)) {
      const server = new DevsrvProcess(["serve", entry, "--no-reload", "-p", "0"], { cwd: dir });
      try {
        assert.equal((await fetchText(await server.url())).body, body, entry);
      } finally {
        assert.equal((await server.stop()).code, 0);
      }
    }
  });
});

Deno.test("devsrv serve finds a conventional entry when none is given", async () => {
  const cases: [Record<string, string>, string, RegExp][] = [
    [
      { "server.ts": "export default { fetch: () => new Response('server.ts') };\n" },
      "server.ts",
      /serving server\.ts/,
    ],
    [{ "index.html": "<p>site</p>" }, "<p>site</p>", /serving \.\//],
    [{ "public/index.html": "<p>public</p>" }, "<p>public</p>", /serving public\//],
  ];
  for (const [files, body, banner] of cases) {
    await withServer(files, ["--no-reload"], async (server, url) => {
      assert.equal((await fetchText(url)).body, body);
      await server.waitForOutput(banner);
    });
  }
});

Deno.test("devsrv serve prints one access line per request, and --quiet none", async () => {
  const app = { "app.ts": "export default { fetch: () => new Response('ok') };\n" };
  for (const mode of [["--no-reload"], []]) {
    await withServer(app, ["app.ts", ...mode], async (server, url) => {
      await fetchText(`${url}/hello?x=1`);
      await server.waitForOutput(/127\.0\.0\.1 GET \/hello\?x=1 200 \d+\.\d ms/);
    });
    await withServer(app, ["app.ts", "--quiet", ...mode], async (server, url) => {
      await fetchText(`${url}/hello`);
      await fetchText(`${url}/hello`);
      assert.doesNotMatch(server.output, /GET \/hello/);
    });
  }
});

const THROWING_APP = `export default {
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/throw") {
      throw new Error("<b>broken</b> & escaped");
    }
    if (path === "/nothing") return { not: "a response" };
    return new Response("fine");
  },
};
`;

Deno.test("a handler that throws gets the development error page and the server keeps serving", async () => {
  for (const mode of [["--no-reload"], []]) {
    await withServer({ "app.ts": THROWING_APP }, ["app.ts", ...mode], async (server, url) => {
      const html = await fetchText(`${url}/throw`, { headers: { accept: "text/html" } });
      assert.equal(html.status, 500);
      assert.match(html.headers.get("content-type") ?? "", /text\/html/);
      assert.match(html.body, /&lt;b&gt;broken&lt;\/b&gt; &amp; escaped/);
      assert.doesNotMatch(html.body, /<b>broken<\/b>/);
      assert.match(html.body, /app\.ts:5:13/);
      assert.match(html.body, /<span class="hl">5 \| {7}throw new Error\(&quot;&lt;b&gt;broken/);
      assert.match(html.body, /frames? from devsrv and Deno internals/);
      const text = await fetchText(`${url}/throw`);
      assert.match(text.headers.get("content-type") ?? "", /text\/plain/);
      assert.match(
        text.body,
        /^500 Internal Server Error\n\nError: <b>broken<\/b> & escaped\n {4}at .*app\.ts:5:13/,
      );
      await server.waitForOutput(/Error in GET \/throw:\nError: <b>broken<\/b> & escaped/);
      const nothing = await fetchText(`${url}/nothing`);
      assert.equal(nothing.status, 500);
      assert.match(nothing.body, /returned an object \(Object\) instead of a Response/);
      assert.equal((await fetchText(url)).body, "fine");
    });
  }
});

Deno.test("SIGTERM lets an in-flight request finish, then exits 0", async () => {
  const app = `export default { async fetch(req) {
  if (new URL(req.url).pathname === "/slow") console.log("slow request arrived");
  await new Promise((resolve) => setTimeout(resolve, 300));
  return new Response("finished");
} };
`;
  for (const mode of [["--no-reload"], []]) {
    await withTempDir({ "app.ts": app }, async (dir) => {
      const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", ...mode], { cwd: dir });
      const url = await server.url();
      await waitFor(
        "the app",
        async () => (await fetchText(url).catch(() => undefined))?.body === "finished",
      );
      const inFlight = fetchText(`${url}/slow`);
      await server.waitForOutput(/slow request arrived/);
      server.kill("SIGTERM");
      const response = await inFlight;
      assert.equal(response.body, "finished");
      assert.equal((await server.finished()).code, 0);
    });
  }
});

Deno.test("devsrv serve DIR serves static files with the right headers", async () => {
  await withServer(
    { "site/index.html": "<!doctype html><body>home</body>", "site/style.css": "p{}" },
    ["site"],
    async (_server, url) => {
      const page = await fetchText(url);
      assert.equal(page.status, 200);
      assert.match(page.body, /home/);
      const css = await fetchText(`${url}/style.css`);
      assert.match(css.headers.get("content-type") ?? "", /text\/css/);
      assert.ok(css.headers.get("etag"));
      const again = await fetch(`${url}/style.css`, {
        headers: { "if-none-match": css.headers.get("etag")! },
      });
      assert.equal(again.status, 304);
      await again.body?.cancel();
    },
  );
});

Deno.test("devsrv serve says where it runs once, even when the app serves before the tree is watched", async () => {
  // 3,000 files: the first child serves while the parent still lists them.
  const port = freePort();
  const files: Record<string, string> = {
    "main.ts": `Deno.serve({ port: ${port} }, () => new Response("hi"));\n`,
  };
  for (let i = 0; i < 3000; i++) files[`data/f${i}.txt`] = "x\n";
  await withTempDir(files, async (dir) => {
    const server = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
    try {
      await server.waitForOutput(/watching \. /);
      const url = await server.url();
      assert.equal((await fetchText(url)).body, "hi");
      assert.equal(server.output.match(/Running on /g)?.length, 1, server.output);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});

Deno.test("devsrv serve --open opens $BROWSER at the served URL once ready", async () => {
  for (const mode of [[], ["--no-reload"]]) {
    await withTempDir({
      "app.ts": "export default { fetch: () => new Response('opened') };\n",
      "browser.sh": '#!/bin/sh\necho "$1" > "$(dirname "$0")/opened.txt"\n',
    }, async (dir) => {
      await Deno.chmod(`${dir}/browser.sh`, 0o755);
      const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--open", ...mode], {
        cwd: dir,
        env: { BROWSER: `${dir}/browser.sh` },
      });
      try {
        const url = await server.url();
        const opened = await waitFor("the browser to be opened", async () => {
          try {
            return (await Deno.readTextFile(`${dir}/opened.txt`)).trim();
          } catch {
            return undefined;
          }
        });
        assert.equal(opened, url);
        assert.equal((await fetchText(opened)).body, "opened");
      } finally {
        assert.equal((await server.stop()).code, 0);
      }
    });
  }
});

Deno.test("devsrv serve --open opens the page that says why when the first start fails", async () => {
  await withTempDir({
    "app.ts": "export default { fetch: () => new Response('fixed') ;\n",
    "browser.sh": '#!/bin/sh\necho "$1" > "$(dirname "$0")/opened.txt"\n',
  }, async (dir) => {
    await Deno.chmod(`${dir}/browser.sh`, 0o755);
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0", "--open"], {
      cwd: dir,
      env: { BROWSER: `${dir}/browser.sh` },
    });
    try {
      const url = await server.url();
      const opened = await waitFor("the browser to be opened", async () => {
        const text = await Deno.readTextFile(`${dir}/opened.txt`).catch(() => undefined);
        return text?.trim();
      });
      assert.equal(opened, url);
      assert.equal((await fetchText(opened)).status, 503);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});

Deno.test("devsrv serve --open opens the program's own address too, once its fix serves there", async () => {
  const port = freePort();
  await withTempDir({
    "main.ts": 'throw new Error("not yet");\n',
    "browser.sh": '#!/bin/sh\necho "$1" >> "$(dirname "$0")/opened.txt"\n',
  }, async (dir) => {
    await Deno.chmod(`${dir}/browser.sh`, 0o755);
    const server = new DevsrvProcess(["serve", "main.ts", "--open"], {
      cwd: dir,
      env: { BROWSER: `${dir}/browser.sh` },
    });
    const opened = async () =>
      (await Deno.readTextFile(`${dir}/opened.txt`).catch(() => "")).trim().split("\n")
        .filter((line) => line !== "");
    try {
      await server.waitForOutput(/Waiting for a change to restart/);
      await Deno.writeTextFile(
        `${dir}/main.ts`,
        `Deno.serve({ port: ${port} }, () => new Response("fixed"));\n`,
      );
      const urls = await waitFor(
        "the program's own address to be opened",
        async () => {
          const urls = await opened();
          return urls.at(-1) === `http://127.0.0.1:${port}` ? urls : undefined;
        },
      );
      // The error page's address first, where port 8000 was free to show it.
      assert.ok(urls.length <= 2, urls.join("\n"));
      assert.equal((await fetchText(urls.at(-1)!)).body, "fixed");
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  });
});
