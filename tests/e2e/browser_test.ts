/**
 * Live reload in a real browser (Debian's chromium, headless, driven by
 * puppeteer-core; no browser is ever downloaded).
 *
 * Two kinds of tests:
 * - the client against an in-process server built from the real modules
 *   (injection, hub, client), where the test decides when to reload, swap
 *   CSS or drop the connection;
 * - the real program: `devsrv serve` started as a subprocess in a temp
 *   directory, a real file edited, and the open page watched until it
 *   shows the change by itself, against a deadline.
 *
 * Screenshots of the error pages and the badge go to `artifacts/screenshots/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "npm:puppeteer-core@25.16.0";
import { createLogger } from "../../src/log.ts";
import { LiveReloadHub } from "../../src/live_reload/hub.ts";
import { injectLiveReload } from "../../src/live_reload/injection.ts";
import { CLIENT_PATH, clientScriptUrl, EVENTS_PATH } from "../../src/live_reload/paths.ts";
import { clientResponse } from "../../src/live_reload/client.ts";
import {
  DevsrvProcess,
  missingOutsideCi,
  REPO_ROOT,
  waitFor,
  withTempDir,
} from "../_harness/devsrv.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Without Debian's chromium (outside CI) these tests are reported as ignored. */
const NO_CHROMIUM = missingOutsideCi(CHROMIUM);
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];
/** What "the page shows the change by itself within a second" allows. */
const RELOAD_DEADLINE_MS = 1_000;
/** For what takes a restart plus a failed import (the 503 page), or a back-off. */
const SLOW_DEADLINE_MS = 10_000;
/** For devsrv's first child to be ready (a busy machine starts Deno slowly). */
const STARTUP_DEADLINE_MS = 30_000;
const SCREENSHOTS = `${REPO_ROOT}artifacts/screenshots`;
const VIEWPORT = { width: 1000, height: 700 };

const log = createLogger({ role: "server" });
let screenshotsAnnounced = false;

/** Runs `body` with a fresh headless chromium, closed and removed afterwards. */
async function withBrowser(body: (browser: Browser) => Promise<void>): Promise<void> {
  const profile = await Deno.makeTempDir({ prefix: "devsrv_chromium_" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    defaultViewport: VIEWPORT,
  });
  try {
    await body(browser);
  } finally {
    await browser.close();
    await Deno.remove(profile, { recursive: true });
  }
}

/** A new tab that records Content-Security-Policy complaints. */
async function openTab(browser: Browser, url: string): Promise<{ page: Page; csp: string[] }> {
  const page = await browser.newPage();
  const csp: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) csp.push(message.text());
  });
  await page.goto(url, { waitUntil: "load" });
  return { page, csp };
}

/**
 * Evaluates a JavaScript expression in the page (a string: this file is
 * type-checked without the DOM library); `undefined` while it navigates.
 */
async function inPage<T>(page: Page, expression: string): Promise<T | undefined> {
  try {
    return await page.evaluate(expression) as T;
  } catch {
    return undefined;
  }
}

function heading(page: Page): Promise<string | undefined> {
  return inPage(page, `document.querySelector("h1")?.textContent ?? ""`);
}

function headingColor(page: Page): Promise<string | undefined> {
  return inPage(page, `getComputedStyle(document.querySelector("h1")).color`);
}

/** Sets a variable in the page, which survives a stylesheet swap but not a reload. */
function setState(page: Page): Promise<unknown> {
  return page.evaluate("window.__state = 42");
}

function state(page: Page): Promise<unknown> {
  return page.evaluate("window.__state");
}

function pageText(page: Page): Promise<string | undefined> {
  return inPage(page, `document.body?.innerText ?? ""`);
}

/** Waits until the page's `<h1>` reads `text`; returns how long it took. */
async function waitForHeading(
  page: Page,
  text: string,
  timeoutMs = RELOAD_DEADLINE_MS,
): Promise<number> {
  const started = performance.now();
  await waitFor(
    `<h1>${text}</h1> in ${page.url()}`,
    async () => await heading(page) === text,
    timeoutMs,
  );
  return performance.now() - started;
}

async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const path = `${SCREENSHOTS}/${name}.png`;
  await page.screenshot({ path, fullPage: false });
  if (!screenshotsAnnounced) {
    log.info(`Screenshots in ${SCREENSHOTS}/`);
    screenshotsAnnounced = true;
  }
  return path;
}

function documentHtml(title: string, head = ""): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${head}</head>` +
    `<body><h1>${title}</h1></body></html>`;
}

// ---------------------------------------------------------------------------
// The client against an in-process server made of the real modules.

/** The parent's part (hub, client script) and a child's part (app, injection) in one server. */
class Harness {
  generation: number;
  html = documentHtml("one");
  css = "h1 { color: rgb(255, 0, 0); }";
  headers: Record<string, string> = {};
  readonly hub: LiveReloadHub;
  readonly server: Deno.HttpServer<Deno.NetAddr>;

  constructor(options: { port?: number; generation?: number } = {}) {
    this.generation = options.generation ?? 1;
    this.hub = new LiveReloadHub(() => this.generation);
    this.server = Deno.serve(
      { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
      (request) => this.#handle(request),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.addr.port}/`;
  }

  #handle(request: Request): Response | Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === CLIENT_PATH) return clientResponse();
    if (path === EVENTS_PATH) return this.hub.handle(request);
    if (path === "/style.css") {
      return new Response(this.css, {
        headers: { "content-type": "text/css", "cache-control": "no-cache" },
      });
    }
    const page = new Response(this.html, {
      headers: { "content-type": "text/html; charset=utf-8", ...this.headers },
    });
    return injectLiveReload(request, page, clientScriptUrl(this.generation));
  }

  /** A new "child": new content, and every page told to reload. */
  serveNew(html: string): void {
    this.html = html;
    this.hub.reload(++this.generation);
  }

  async close(): Promise<void> {
    this.hub.close();
    await this.server.shutdown();
  }
}

async function withHarness(
  body: (harness: Harness, browser: Browser) => Promise<void>,
): Promise<void> {
  const harness = new Harness();
  try {
    await withBrowser((browser) => body(harness, browser));
  } finally {
    await harness.close();
  }
}

Deno.test(
  { name: "client reloads the page and swaps CSS under a strict CSP", ignore: NO_CHROMIUM },
  async () => {
    await withHarness(async (harness, browser) => {
      harness.headers = { "content-security-policy": "default-src 'self'" };
      harness.html = documentHtml("one", '<link rel="stylesheet" href="/style.css">');
      const { page, csp } = await openTab(browser, harness.url);
      await waitFor("the client to connect", () => harness.hub.clients === 1);
      assert.equal(await headingColor(page), "rgb(255, 0, 0)");
      await setState(page);
      harness.css = "h1 { color: rgb(0, 0, 255); }";
      harness.hub.changed(["style.css"]);
      await waitFor(
        "the new stylesheet",
        async () => await headingColor(page) === "rgb(0, 0, 255)",
      );
      assert.equal(await state(page), 42);
      assert.equal(await page.evaluate(`document.querySelectorAll("link").length`), 1);
      harness.serveNew(documentHtml("two"));
      await waitForHeading(page, "two");
      assert.equal(await state(page), undefined);
      assert.deepEqual(csp, []);
    });
  },
);

Deno.test({
  name: "client puts up a badge while disconnected and reloads on reconnect",
  ignore: NO_CHROMIUM,
}, async () => {
  const first = new Harness();
  const port = first.server.addr.port;
  let second: Harness | undefined;
  try {
    await withBrowser(async (browser) => {
      first.headers = { "content-security-policy": "default-src 'self'" };
      const { page, csp } = await openTab(browser, first.url);
      await waitFor("the client to connect", () => first.hub.clients === 1);
      const badge = () => inPage<boolean>(page, `document.querySelector("devsrv-badge") !== null`);
      assert.equal(await badge(), false);
      await first.close();
      await waitFor("the badge", badge, SLOW_DEADLINE_MS);
      await screenshot(page, "disconnected-badge");
      second = new Harness({ port, generation: 2 });
      second.headers = first.headers;
      second.html = documentHtml("after restart");
      await waitForHeading(page, "after restart", SLOW_DEADLINE_MS);
      assert.equal(await badge(), false);
      assert.deepEqual(csp, []);
    });
  } finally {
    await first.close();
    await second?.close();
  }
});

Deno.test(
  { name: "client runs with a CSP nonce and adds no globals", ignore: NO_CHROMIUM },
  async () => {
    await withHarness(async (harness, browser) => {
      harness.headers = { "content-security-policy": "script-src 'nonce-t3st' 'strict-dynamic'" };
      const { page, csp } = await openTab(browser, harness.url);
      await waitFor("the client to connect", () => harness.hub.clients === 1);
      const globals = "Object.getOwnPropertyNames(window)";
      const withClient = await page.evaluate(globals) as string[];
      harness.html = "<p>a fragment, so no client</p>";
      const { page: plain } = await openTab(browser, `${harness.url}plain`);
      const without = new Set(await plain.evaluate(globals) as string[]);
      assert.deepEqual(withClient.filter((name) => !without.has(name)), []);
      harness.serveNew(documentHtml("reloaded"));
      await waitForHeading(page, "reloaded");
      assert.deepEqual(csp, []);
    });
  },
);

// ---------------------------------------------------------------------------
// The real program.

/** An app module serving one HTML page whose `<h1>` is `title`. */
function htmlApp(title: string, headers: Record<string, string> = {}): string {
  const allHeaders = { "content-type": "text/html; charset=utf-8", ...headers };
  return [
    "export default {",
    "  fetch() {",
    `    return new Response(${JSON.stringify(documentHtml(title))}, {`,
    `      headers: ${JSON.stringify(allHeaders)},`,
    "    });",
    "  },",
    "};",
    "",
  ].join("\n");
}

/** An app module whose third line is a syntax error. */
const BROKEN_APP = [
  "export default {",
  "  fetch() {",
  "    return new Response(<h1>oops</h1>;",
  "  },",
  "};",
  "",
].join("\n");

/** An app module whose handler throws on line 3. */
const THROWING_APP = [
  "export default {",
  "  fetch() {",
  '    throw new Error("the handler broke");',
  "  },",
  "};",
  "",
].join("\n");

/** Runs `devsrv serve ENTRY --port 0` in a temp dir with the files, and a browser. */
async function withDevsrv(
  files: Record<string, string>,
  entry: string,
  body: (
    context: { dir: string; url: string; devsrv: DevsrvProcess; browser: Browser },
  ) => Promise<void>,
): Promise<void> {
  await withTempDir(files, async (dir) => {
    const devsrv = new DevsrvProcess(["serve", entry, "--port", "0"], { cwd: dir });
    try {
      const started = { timeoutMs: STARTUP_DEADLINE_MS };
      const url = (await devsrv.waitForOutput(/Running on (http:\/\/\S+)/, started))[1]!;
      await devsrv.waitForOutput(/ready in/, started);
      await withBrowser((browser) => body({ dir, url, devsrv, browser }));
    } catch (error) {
      throw new Error(`${error}\n--- devsrv output ---\n${devsrv.output}`);
    } finally {
      await devsrv.stop();
    }
  });
}

Deno.test({
  name: "devsrv: an edited app shows in the open page within a second",
  ignore: NO_CHROMIUM,
}, async () => {
  await withDevsrv({ "app.ts": htmlApp("one") }, "app.ts", async ({ dir, url, browser }) => {
    const { page, csp } = await openTab(browser, url);
    assert.equal(await heading(page), "one");
    await Deno.writeTextFile(`${dir}/app.ts`, htmlApp("two"));
    const ms = await waitForHeading(page, "two");
    assert.ok(ms < RELOAD_DEADLINE_MS, `took ${Math.round(ms)} ms`);
    await Deno.writeTextFile(`${dir}/app.ts`, htmlApp("three"));
    await waitForHeading(page, "three");
    assert.deepEqual(csp, []);
  });
});

Deno.test({ name: "devsrv: two open tabs both reload", ignore: NO_CHROMIUM }, async () => {
  await withDevsrv({ "app.ts": htmlApp("one") }, "app.ts", async ({ dir, url, browser }) => {
    const { page: first } = await openTab(browser, url);
    const { page: second } = await openTab(browser, url);
    await Deno.writeTextFile(`${dir}/app.ts`, htmlApp("two"));
    await Promise.all([waitForHeading(first, "two"), waitForHeading(second, "two")]);
  });
});

Deno.test({
  name: "devsrv: a page under Content-Security-Policy script-src 'self' reloads",
  ignore: NO_CHROMIUM,
}, async () => {
  const csp = { "content-security-policy": "script-src 'self'" };
  await withDevsrv({ "app.ts": htmlApp("one", csp) }, "app.ts", async ({ dir, url, browser }) => {
    const { page, csp: complaints } = await openTab(browser, url);
    await Deno.writeTextFile(`${dir}/app.ts`, htmlApp("two", csp));
    await waitForHeading(page, "two");
    assert.deepEqual(complaints, []);
  });
});

Deno.test({
  name: "devsrv: a broken app shows the 503 page, and the page recovers once fixed",
  ignore: NO_CHROMIUM,
}, async () => {
  await withDevsrv({ "app.ts": htmlApp("one") }, "app.ts", async ({ dir, url, browser }) => {
    const { page } = await openTab(browser, url);
    await Deno.writeTextFile(`${dir}/app.ts`, BROKEN_APP);
    await waitFor(
      "the 503 page",
      async () => (await pageText(page))?.includes("503"),
      SLOW_DEADLINE_MS,
    );
    assert.match((await pageText(page))!, /app\.ts:3:\d+/);
    await screenshot(page, "503-app-failed-to-load");
    await Deno.writeTextFile(`${dir}/app.ts`, htmlApp("fixed"));
    await waitForHeading(page, "fixed", SLOW_DEADLINE_MS);
  });
});

Deno.test({
  name: "devsrv: a handler that throws shows the 500 page, which recovers once fixed",
  ignore: NO_CHROMIUM,
}, async () => {
  await withDevsrv({ "app.ts": THROWING_APP }, "app.ts", async ({ dir, url, browser }) => {
    const { page } = await openTab(browser, url);
    const text = (await pageText(page)) ?? "";
    assert.match(text, /500 Internal Server Error/);
    assert.match(text, /the handler broke/);
    assert.match(text, /app\.ts:3:\d+/);
    await screenshot(page, "500-handler-threw");
    await Deno.writeTextFile(`${dir}/app.ts`, htmlApp("fixed"));
    await waitForHeading(page, "fixed", SLOW_DEADLINE_MS);
  });
});

Deno.test({
  name: "devsrv: an edited stylesheet applies without a reload in static mode",
  ignore: NO_CHROMIUM,
}, async () => {
  const files = {
    "site/index.html": documentHtml("static", '<link rel="stylesheet" href="/css/site.css">'),
    "site/css/site.css": "h1 { color: rgb(255, 0, 0); }\n",
  };
  await withDevsrv(files, "site", async ({ dir, url, browser }) => {
    const { page } = await openTab(browser, url);
    assert.equal(await headingColor(page), "rgb(255, 0, 0)");
    await setState(page);
    await Deno.writeTextFile(`${dir}/site/css/site.css`, "h1 { color: rgb(0, 0, 255); }\n");
    await waitFor(
      "the new stylesheet",
      async () => await headingColor(page) === "rgb(0, 0, 255)",
      RELOAD_DEADLINE_MS,
    );
    assert.equal(await state(page), 42);
    await Deno.writeTextFile(
      `${dir}/site/index.html`,
      documentHtml("edited", '<link rel="stylesheet" href="/css/site.css">'),
    );
    await waitForHeading(page, "edited");
    assert.equal(await state(page), undefined);
  });
});
