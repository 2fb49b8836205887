/**
 * Unit tests of live reload: the injection into HTML responses, the
 * parent's server-sent events hub, the client script (run against small
 * fakes of the browser objects it touches) and `--open`'s command choice.
 *
 * @module
 */

import assert from "node:assert/strict";
import { injectLiveReload, scriptNonce } from "../../src/live_reload/injection.ts";
import { CLIENT_PATH, clientScriptUrl, EVENTS_PATH } from "../../src/live_reload/paths.ts";
import { CLIENT_JS, clientResponse } from "../../src/live_reload/client.ts";
import { formatEvent, LiveReloadHub } from "../../src/live_reload/hub.ts";
import { browserCommands, tryOpenBrowser } from "../../src/open_browser.ts";
import { waitFor, withTempDir } from "../_harness/devsrv.ts";

const SCRIPT = "/__devsrv/client.js?g=7";
const TAG = `<script src="${SCRIPT}" defer></script>`;
/** A browser loading a page: what gets the client. */
const PAGE_HEADERS = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
const GET = () => new Request("http://localhost/", { headers: PAGE_HEADERS });
const encoder = new TextEncoder();

function html(body: BodyInit | null, headers: HeadersInit = {}, status = 200): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", ...headers },
  });
}

/** A body that arrives in the given pieces. */
function chunked(pieces: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const queue = pieces.map((piece) => typeof piece === "string" ? encoder.encode(piece) : piece);
  return new ReadableStream({
    pull(controller) {
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

/** Like {@linkcode chunked}, but each piece arrives a timer later, as from the network. */
function trickled(pieces: string[]): ReadableStream<Uint8Array> {
  const queue = pieces.map((piece) => encoder.encode(piece));
  return new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const next = queue.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

async function gzip(
  text: string,
  format: CompressionFormat = "gzip",
): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Response(text).body!.pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function injectedText(response: Response, request = GET()): Promise<string> {
  return await (await injectLiveReload(request, response, SCRIPT)).text();
}

Deno.test("clientScriptUrl() names the generation", () => {
  assert.equal(clientScriptUrl(3), "/__devsrv/client.js?g=3");
  assert.ok(clientScriptUrl(3).startsWith(CLIENT_PATH));
});

Deno.test("injectLiveReload() puts the script before the last </body>", async () => {
  const page = `<!doctype html><body><pre>"</body>" in text</pre></body>\n</html>\n`;
  const text = await injectedText(html(page));
  assert.equal(
    text,
    `<!doctype html><body><pre>"</body>" in text</pre>${TAG}</body>\n</html>\n`,
  );
});

Deno.test("injectLiveReload() matches </BODY> in any case", async () => {
  const text = await injectedText(html("<HTML><BODY>x</BODY ></HTML>"));
  assert.equal(text, `<HTML><BODY>x${TAG}</BODY ></HTML>`);
});

Deno.test("injectLiveReload() appends the script to a document without </body>", async () => {
  assert.equal(await injectedText(html("<!DOCTYPE html><p>hi")), `<!DOCTYPE html><p>hi${TAG}`);
  assert.equal(await injectedText(html("<head><title>t</title>")), `<head><title>t</title>${TAG}`);
});

Deno.test("injectLiveReload() leaves HTML fragments alone", async () => {
  for (const fragment of ["<div>hi</div>", "<header>top</header>", "plain text", ""]) {
    assert.equal(await injectedText(html(fragment)), fragment);
  }
});

Deno.test("injectLiveReload() returns non-HTML responses unchanged", async () => {
  for (const type of ["application/json", "text/plain", "text/htmlx", "image/svg+xml"]) {
    const response = new Response("<html><body></body></html>", {
      headers: { "content-type": type },
    });
    assert.equal(await injectLiveReload(GET(), response, SCRIPT), response);
    await response.body?.cancel();
  }
  const untyped = new Response("<html></html>");
  untyped.headers.delete("content-type");
  assert.equal(await injectLiveReload(GET(), untyped, SCRIPT), untyped);
  await untyped.body?.cancel();
});

Deno.test("injectLiveReload() leaves HEAD, 204, 304 and 206 responses alone", async () => {
  const page = "<!doctype html><body></body>";
  const head = html(page);
  const headRequest = new Request("http://localhost/", { method: "HEAD", headers: PAGE_HEADERS });
  assert.equal(await injectLiveReload(headRequest, head, SCRIPT), head);
  await head.body?.cancel();
  for (const status of [204, 304]) {
    const empty = html(null, {}, status);
    assert.equal(await injectLiveReload(GET(), empty, SCRIPT), empty);
  }
  const partial = html(page, { "content-range": "bytes 0-27/100" }, 206);
  assert.equal(await injectLiveReload(GET(), partial, SCRIPT), partial);
  await partial.body?.cancel();
});

Deno.test("injectLiveReload() updates Content-Length of a buffered body", async () => {
  const page = "<!doctype html><body>é</body>";
  const length = encoder.encode(page).length;
  const result = await injectLiveReload(
    GET(),
    html(page, { "content-length": String(length) }),
    SCRIPT,
  );
  const body = new Uint8Array(await result.arrayBuffer());
  assert.equal(result.headers.get("content-length"), String(body.length));
  assert.equal(body.length, length + TAG.length);
});

Deno.test("injectLiveReload() keeps status and other headers, drops validators", async () => {
  const response = html("<!doctype html><body></body>", {
    "x-app": "1",
    "set-cookie": "a=b",
    "etag": '"v1"',
    "last-modified": "Mon, 01 Jan 2024 00:00:00 GMT",
    "cache-control": "no-cache",
  }, 404);
  const result = await injectLiveReload(GET(), response, SCRIPT);
  assert.equal(result.status, 404);
  assert.equal(result.headers.get("x-app"), "1");
  assert.equal(result.headers.get("set-cookie"), "a=b");
  assert.equal(result.headers.get("cache-control"), "no-cache");
  assert.equal(result.headers.get("etag"), null);
  assert.equal(result.headers.get("last-modified"), null);
  await result.body?.cancel();
});

Deno.test("injectLiveReload() keeps a buffered fragment's headers", async () => {
  const response = html("<li>one</li>", { "content-length": "12", etag: '"f"' });
  const result = await injectLiveReload(GET(), response, SCRIPT);
  assert.equal(result.headers.get("etag"), '"f"');
  assert.equal(result.headers.get("content-length"), "12");
  assert.equal(await result.text(), "<li>one</li>");
});

Deno.test("injectLiveReload() finds </body> split across streamed chunks", async () => {
  const response = html(trickled(["<!doctype html><body>hi</bo", "dy></html>"]));
  const result = await injectLiveReload(GET(), response, SCRIPT);
  assert.equal(result.headers.get("content-length"), null);
  assert.equal(await result.text(), `<!doctype html><body>hi${TAG}</body></html>`);
});

Deno.test("injectLiveReload() gives a body held in memory a Content-Length", async () => {
  const page = "<!doctype html><body>hi</body>";
  for (const body of [page, chunked(["<!doctype html><body>hi</bo", "dy>"])]) {
    const result = await injectLiveReload(GET(), html(body), SCRIPT);
    const text = `<!doctype html><body>hi${TAG}</body>`;
    assert.equal(result.headers.get("content-length"), String(encoder.encode(text).length));
    assert.equal(await result.text(), text);
  }
});

Deno.test("injectLiveReload() streams a large body and removes Content-Length", async () => {
  const filler = "x".repeat(2 * 1024 * 1024);
  const page = `<!doctype html><body>${filler}</body>`;
  const response = html(chunked([page.slice(0, 100), page.slice(100)]), {
    "content-length": String(page.length),
  });
  const result = await injectLiveReload(GET(), response, SCRIPT);
  assert.ok(result instanceof Response, "a large body is not buffered");
  assert.equal(result.headers.get("content-length"), null);
  assert.equal(await result.text(), `<!doctype html><body>${filler}${TAG}</body>`);
});

Deno.test("injectLiveReload() gives the same bytes for every chunking of a page", async () => {
  const page = `<!DOCTYPE html>\n<html><head></head><body><p>é ü</p></body>\n</html>\n`;
  const bytes = encoder.encode(page);
  const expected = await injectedText(html(page, { "content-length": String(bytes.length) }));
  for (let a = 0; a <= bytes.length; a++) {
    for (let b = a; b <= bytes.length; b += 5) {
      const pieces = [bytes.subarray(0, a), bytes.subarray(a, b), bytes.subarray(b)];
      assert.equal(await injectedText(html(chunked(pieces))), expected, `split at ${a}, ${b}`);
    }
  }
});

Deno.test("injectLiveReload() streams a fragment through unchanged", async () => {
  const pieces = ["<ul>", "<li>one</li>", "</ul>"];
  assert.equal(await injectedText(html(chunked(pieces))), pieces.join(""));
});

Deno.test("injectLiveReload() appends to a streamed document that never closes <body>", async () => {
  assert.equal(
    await injectedText(html(chunked(["<html><body>", "a", "b"]))),
    `<html><body>ab${TAG}`,
  );
});

Deno.test("injectLiveReload() decompresses gzip and deflate bodies", async () => {
  const page = "<!doctype html><body>zipped</body>";
  for (const format of ["gzip", "deflate"] as const) {
    const compressed = await gzip(page, format);
    const buffered = await injectLiveReload(
      GET(),
      html(compressed, { "content-encoding": format, "content-length": String(compressed.length) }),
      SCRIPT,
    );
    assert.equal(buffered.headers.get("content-encoding"), null);
    const text = await buffered.text();
    assert.equal(text, `<!doctype html><body>zipped${TAG}</body>`);
    assert.equal(buffered.headers.get("content-length"), String(encoder.encode(text).length));
    const streamed = await injectLiveReload(
      GET(),
      html(chunked([compressed]), { "content-encoding": format }),
      SCRIPT,
    );
    assert.equal(streamed.headers.get("content-encoding"), null);
    assert.equal(await streamed.text(), text);
  }
});

Deno.test("injectLiveReload() leaves br and zstd bodies untouched", async () => {
  for (const encoding of ["br", "zstd", "gzip, br"]) {
    const response = html(new Uint8Array([1, 2, 3]), { "content-encoding": encoding });
    assert.equal(await injectLiveReload(GET(), response, SCRIPT), response);
    await response.body?.cancel();
  }
});

Deno.test("injectLiveReload() sends a gzip body that does not decode as it came", async () => {
  const garbage = encoder.encode("<html>not gzip</html>");
  const response = html(garbage, { "content-encoding": "gzip", "content-length": "21" });
  const result = await injectLiveReload(GET(), response, SCRIPT);
  assert.equal(result.headers.get("content-encoding"), "gzip");
  assert.deepEqual(new Uint8Array(await result.arrayBuffer()), garbage);
});

Deno.test("injectLiveReload() puts the CSP nonce on the tag", async () => {
  const csp = "default-src 'self'; script-src 'nonce-abc123' 'strict-dynamic'";
  const text = await injectedText(html("<html><body></body></html>", {
    "content-security-policy": csp,
  }));
  assert.equal(
    text,
    `<html><body><script src="${SCRIPT}" nonce="abc123" defer></script></body></html>`,
  );
});

Deno.test("scriptNonce() reads the directive that governs <script src>", () => {
  const nonce = (csp: string) =>
    scriptNonce(new Headers(csp ? { "content-security-policy": csp } : {}));
  assert.equal(nonce(""), undefined);
  assert.equal(nonce("script-src 'self'"), undefined);
  assert.equal(nonce("default-src 'nonce-d'"), "d");
  assert.equal(nonce("default-src 'nonce-d'; script-src 'self'"), undefined);
  assert.equal(nonce("script-src 'nonce-s'; script-src-elem 'nonce-e'"), "e");
  assert.equal(nonce("img-src *, script-src 'nonce-second'"), "second");
});

Deno.test("injectLiveReload() never injects twice", async () => {
  const page = `<!doctype html><body><script src="${clientScriptUrl(1)}" defer></script></body>`;
  assert.equal(await injectedText(html(page)), page);
  const length = String(encoder.encode(page).length);
  assert.equal(await injectedText(html(page, { "content-length": length })), page);
  const split = page.indexOf("client.js");
  assert.equal(await injectedText(html(chunked([page.slice(0, split), page.slice(split)]))), page);
  const twice = await injectLiveReload(GET(), html("<html><body></body></html>"), SCRIPT);
  assert.equal(await injectedText(twice), `<html><body>${TAG}</body></html>`);
});

Deno.test("injectLiveReload() cancels the app's body when the client goes away", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(encoder.encode("<!doctype html><body>" + "x".repeat(1000)));
    },
    cancel() {
      cancelled = true;
    },
  });
  const result = await injectLiveReload(GET(), html(body), SCRIPT);
  const reader = result.body!.getReader();
  await reader.read();
  await reader.cancel();
  await waitFor("the original body to be cancelled", () => cancelled);
});

Deno.test("clientResponse() serves the script, never cached", async () => {
  const response = clientResponse();
  assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(await response.text(), CLIENT_JS);
});

Deno.test("CLIENT_JS is a small self-contained IIFE", () => {
  const bytes = encoder.encode(CLIENT_JS).length;
  assert.ok(bytes < 3 * 1024, `client is ${bytes} bytes`);
  assert.match(CLIENT_JS.trim(), /^\(\(\) => \{[\s\S]*\}\)\(\);$/);
  assert.ok(CLIENT_JS.includes(JSON.stringify(EVENTS_PATH)));
  for (
    const forbidden of ["eval(", "new Function", "innerHTML", 'setAttribute("style"', "window."]
  ) {
    assert.ok(!CLIENT_JS.includes(forbidden), forbidden);
  }
});

// ---------------------------------------------------------------------------
// The client, run against fakes of the few browser objects it uses.

class FakeNode {
  children: FakeNode[] = [];
  parent: FakeNode | undefined;
  style: Record<string, string> = {};
  attributes: Record<string, string> = {};
  textContent = "";
  shadow: FakeNode | undefined;
  constructor(readonly name: string) {}
  append(...nodes: FakeNode[]) {
    for (const node of nodes) {
      node.parent = this;
      this.children.push(node);
    }
  }
  remove() {
    if (!this.parent) return;
    this.parent.children.splice(this.parent.children.indexOf(this), 1);
    this.parent = undefined;
  }
  setAttribute(name: string, value: string) {
    this.attributes[name] = value;
  }
  attachShadow() {
    this.shadow = new FakeNode("#shadow");
    return this.shadow;
  }
}

class FakeLink extends FakeNode {
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public href: string) {
    super("link");
  }
  cloneNode() {
    return new FakeLink(this.href);
  }
  after(node: FakeNode) {
    const siblings = this.parent!.children;
    siblings.splice(siblings.indexOf(this) + 1, 0, node);
    node.parent = this.parent;
  }
}

class FakeEventSource {
  static instances: FakeEventSource[] = [];
  listeners = new Map<string, ((event: { data: string }) => void)[]>();
  onerror: (() => void) | null = null;
  closed = false;
  constructor(readonly url: URL) {
    FakeEventSource.instances.push(this);
  }
  addEventListener(type: string, listener: (event: { data: string }) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  emit(type: string, data: unknown) {
    for (const listener of this.listeners.get(type) ?? []) listener({ data: JSON.stringify(data) });
  }
  close() {
    this.closed = true;
  }
}

/** Runs CLIENT_JS in a fake page served by generation `g`. */
function fakePage(g: string | null, hrefs: string[] = []) {
  FakeEventSource.instances = [];
  const origin = "http://127.0.0.1:8000";
  const head = new FakeNode("head");
  const body = new FakeNode("body");
  const links = hrefs.map((href) => new FakeLink(new URL(href, origin).href));
  head.append(...links);
  const reloads: number[] = [];
  const timers: { run: () => void; ms: number }[] = [];
  const storage = new Map<string, string>();
  const windowListeners = new Map<string, (event: { persisted: boolean }) => void>();
  const document = {
    currentScript: { src: `${origin}${CLIENT_PATH}${g === null ? "" : `?g=${g}`}` },
    createElement: (name: string) => new FakeNode(name),
    querySelectorAll: () => head.children.filter((node) => node instanceof FakeLink),
    body,
    documentElement: new FakeNode("html"),
  };
  const location = { href: `${origin}/`, origin, reload: () => reloads.push(1) };
  const sessionStorage = {
    getItem: (key: string) => storage.get(key) ?? null,
    setItem: (key: string, value: string) => storage.set(key, value),
  };
  const run = new Function(
    "document",
    "location",
    "EventSource",
    "sessionStorage",
    "addEventListener",
    "setTimeout",
    CLIENT_JS,
  );
  run(
    document,
    location,
    FakeEventSource,
    sessionStorage,
    (type: string, listener: (event: { persisted: boolean }) => void) =>
      windowListeners.set(type, listener),
    (fn: () => void, ms: number) => timers.push({ run: fn, ms }),
  );
  return {
    head,
    body,
    links,
    reloads,
    timers,
    storage,
    windowListeners,
    get source() {
      return FakeEventSource.instances.at(-1)!;
    },
    get badge() {
      return body.children.find((node) => node.name === "devsrv-badge");
    },
  };
}

Deno.test("client connects to the events path and reloads on a newer generation", () => {
  const page = fakePage("3");
  assert.equal(page.source.url.href, `http://127.0.0.1:8000${EVENTS_PATH}`);
  page.source.emit("hello", { generation: 3 });
  assert.equal(page.reloads.length, 0);
  page.source.emit("hello", { generation: 4 });
  assert.equal(page.reloads.length, 1);
  assert.ok(page.source.closed);
});

Deno.test("client without a generation does not compare it", () => {
  const page = fakePage(null);
  page.source.emit("hello", { generation: 9 });
  assert.equal(page.reloads.length, 0);
  page.source.emit("reload", { generation: 9 });
  assert.equal(page.reloads.length, 1);
});

Deno.test("client reloads once, however many events come", () => {
  const page = fakePage("1");
  page.source.emit("reload", { generation: 2 });
  page.source.emit("reload", { generation: 3 });
  page.source.emit("hello", { generation: 4 });
  page.source.onerror?.();
  assert.equal(page.reloads.length, 1);
  assert.equal(page.timers.length, 0, "no reconnect once reloading");
});

Deno.test("client does not loop when a reloaded page is still stale", () => {
  const page = fakePage("1");
  page.source.emit("hello", { generation: 2 });
  assert.equal(page.reloads.length, 1);
  // The "reloaded" page came back with the same old generation (a cached copy).
  const again = fakePage("1");
  for (const [key, value] of page.storage) again.storage.set(key, value);
  again.source.emit("hello", { generation: 2 });
  assert.equal(again.reloads.length, 0);
});

Deno.test("client swaps the matching stylesheet and keeps the page", () => {
  const page = fakePage("1", ["/css/site.css?v=1", "/other.css", "https://cdn.example/x.css"]);
  const [site, other] = page.links;
  page.source.emit("css", { paths: ["/css/site.css"] });
  assert.equal(page.reloads.length, 0);
  const fresh = page.head.children[1] as FakeLink;
  assert.notEqual(fresh, site);
  const url = new URL(fresh.href);
  assert.equal(url.pathname, "/css/site.css");
  assert.equal(url.searchParams.get("v"), "1");
  assert.ok(url.searchParams.has("devsrv"));
  assert.ok(site!.parent, "the old sheet stays until the new one loaded");
  fresh.onload?.();
  assert.equal(site!.parent, undefined);
  assert.equal(page.head.children.length, 3);
  assert.ok(other!.parent);
});

Deno.test("client replaces a sheet still loading without leaving copies", () => {
  const page = fakePage("1", ["/a.css"]);
  page.source.emit("css", { paths: ["/a.css"] });
  page.source.emit("css", { paths: ["/a.css"] });
  for (const link of [...page.head.children] as FakeLink[]) link.onload?.();
  assert.equal(page.head.children.length, 1);
});

Deno.test("client refreshes all same-origin sheets when no link matches", () => {
  const page = fakePage("1", ["/main.css", "https://cdn.example/x.css"]);
  page.source.emit("css", { paths: ["/partials/imported.css"] });
  const hrefs = page.head.children.map((link) => new URL((link as FakeLink).href));
  assert.equal(hrefs.filter((url) => url.searchParams.has("devsrv")).length, 1);
  assert.equal(hrefs.filter((url) => url.pathname === "/main.css").length, 2);
});

Deno.test("client backs off, shows the badge, and hides it on reconnect", () => {
  const page = fakePage("1");
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    page.source.onerror?.();
    const timer = page.timers.shift()!;
    delays.push(timer.ms);
    assert.ok(page.badge, "badge while disconnected");
    timer.run();
  }
  assert.deepEqual(delays, [250, 500, 1000, 2000, 4000, 5000, 5000]);
  const badge = page.badge!;
  assert.equal(badge.shadow?.children[0]?.textContent, "devsrv: disconnected");
  assert.equal(badge.shadow?.children[0]?.style.position, "fixed");
  page.source.emit("hello", { generation: 1 });
  assert.equal(page.badge, undefined);
  assert.equal(page.reloads.length, 0);
  page.source.onerror?.();
  assert.equal(page.timers[0]?.ms, 250, "back-off starts over after a reconnect");
});

Deno.test("client reconnecting to a new generation reloads", () => {
  const page = fakePage("1");
  page.source.onerror?.();
  page.timers.shift()!.run();
  page.source.emit("hello", { generation: 2 });
  assert.equal(page.reloads.length, 1);
});

Deno.test("client closes on pagehide and reconnects when restored", () => {
  const page = fakePage("1");
  const first = page.source;
  page.windowListeners.get("pagehide")!({ persisted: true });
  assert.ok(first.closed);
  first.onerror?.();
  assert.equal(page.timers.length, 0);
  assert.equal(page.badge, undefined);
  page.windowListeners.get("pageshow")!({ persisted: true });
  assert.notEqual(page.source, first);
});

// ---------------------------------------------------------------------------
// The hub.

async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pattern: RegExp,
  seen = { text: "" },
): Promise<string> {
  const decoder = new TextDecoder();
  while (!pattern.test(seen.text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${pattern}: ${seen.text}`);
    seen.text += decoder.decode(value, { stream: true });
  }
  return seen.text;
}

Deno.test("LiveReloadHub.handle() opens an event stream that says hello", async () => {
  let generation = 4;
  const hub = new LiveReloadHub(() => generation);
  const response = hub.handle(new Request(`http://localhost${EVENTS_PATH}`));
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  const reader = response.body!.getReader();
  const text = await readUntil(reader, /event: hello\n/);
  assert.match(text, /^retry: \d+\n\n/);
  assert.ok(text.endsWith(formatEvent("hello", { generation: 4 })));
  generation = 5;
  hub.reload(5);
  assert.ok(
    (await readUntil(reader, /reload/)).endsWith(`event: reload\ndata: {"generation":5}\n\n`),
  );
  await reader.cancel();
  hub.close();
});

Deno.test("LiveReloadHub.changed() sends css for stylesheets, reload otherwise", async () => {
  const hub = new LiveReloadHub(() => 2);
  const reader = hub.handle(new Request(`http://localhost${EVENTS_PATH}`)).body!.getReader();
  const seen = { text: "" };
  await readUntil(reader, /hello/, seen);
  hub.changed([]);
  hub.changed(["css/site.css", "/b.CSS"]);
  await readUntil(reader, /event: css/, seen);
  assert.ok(seen.text.endsWith(formatEvent("css", { paths: ["/css/site.css", "/b.CSS"] })));
  hub.changed(["site.css", "index.html"]);
  await readUntil(reader, /event: reload/, seen);
  assert.ok(seen.text.endsWith(formatEvent("reload", { generation: 2 })));
  await reader.cancel();
  hub.close();
});

Deno.test("LiveReloadHub.changed() makes file paths relative to the static root", async () => {
  const root = await Deno.makeTempDir({ prefix: "devsrv_hub_" });
  try {
    const hub = new LiveReloadHub(() => 1, { staticRoot: root });
    const reader = hub.handle(new Request(`http://localhost${EVENTS_PATH}`)).body!.getReader();
    const seen = { text: "" };
    hub.changed([`${root}/styles/a b.css`]);
    await readUntil(reader, /event: css/, seen);
    assert.ok(seen.text.endsWith(formatEvent("css", { paths: ["/styles/a b.css"] })));
    await reader.cancel();
    hub.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("LiveReloadHub sends heartbeats while pages are connected", async () => {
  const hub = new LiveReloadHub(() => 1, { heartbeatMs: 10 });
  const reader = hub.handle(new Request(`http://localhost${EVENTS_PATH}`)).body!.getReader();
  await readUntil(reader, /: heartbeat\n\n/);
  await reader.cancel();
  assert.equal(hub.clients, 0, "the interval stops with the last page");
  hub.close();
});

Deno.test("LiveReloadHub forgets pages that went away", async () => {
  const hub = new LiveReloadHub(() => 1);
  const cancelled = hub.handle(new Request(`http://localhost${EVENTS_PATH}`));
  const kept = hub.handle(new Request(`http://localhost${EVENTS_PATH}`));
  assert.equal(hub.clients, 2);
  await cancelled.body!.cancel();
  assert.equal(hub.clients, 1);
  hub.reload(2);
  const reader = kept.body!.getReader();
  await readUntil(reader, /reload/);
  await reader.cancel();
  assert.equal(hub.clients, 0);
  hub.close();
});

Deno.test("LiveReloadHub.close() ends every stream and refuses new ones", async () => {
  const hub = new LiveReloadHub(() => 1);
  const reader = hub.handle(new Request(`http://localhost${EVENTS_PATH}`)).body!.getReader();
  await readUntil(reader, /hello/);
  hub.close();
  assert.equal(hub.clients, 0);
  assert.equal((await reader.read()).done, true);
  const late = hub.handle(new Request(`http://localhost${EVENTS_PATH}`));
  assert.equal(late.status, 503);
  await late.body?.cancel();
  const post = hub.handle(new Request(`http://localhost${EVENTS_PATH}`, { method: "POST" }));
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("LiveReloadHub notices a real client disconnecting", async () => {
  const hub = new LiveReloadHub(() => 1);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => hub.handle(request),
  );
  try {
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${server.addr.port}${EVENTS_PATH}`, {
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    await readUntil(reader, /hello/);
    assert.equal(hub.clients, 1);
    controller.abort();
    await reader.cancel().catch(() => {});
    await waitFor("the hub to forget the page", () => hub.clients === 0);
  } finally {
    hub.close();
    await server.shutdown();
  }
});

// ---------------------------------------------------------------------------
// --open

Deno.test("browserCommands() honours $BROWSER, else the system opener", () => {
  const url = "http://127.0.0.1:8000/?a=1&b=2";
  assert.deepEqual(browserCommands(url, { browser: "firefox -new-tab:chromium", os: "linux" }), [
    ["firefox", "-new-tab", url],
    ["chromium", url],
  ]);
  assert.deepEqual(browserCommands(url, { browser: "my-browser --url=%s --pct=%%", os: "linux" }), [
    ["my-browser", `--url=${url}`, "--pct=%"],
  ]);
  assert.deepEqual(browserCommands(url, { browser: "", os: "linux" }), [["xdg-open", url]]);
  assert.deepEqual(browserCommands(url, { os: "darwin" }), [["open", url]]);
  assert.deepEqual(browserCommands(url, { os: "windows" }), [
    ["cmd", "/c", "start", "", "http://127.0.0.1:8000/?a=1^&b=2"],
  ]);
  assert.deepEqual(browserCommands(url, { browser: "a b;c", os: "windows" }), [["a", "b", url], [
    "c",
    url,
  ]]);
});

Deno.test("tryOpenBrowser() runs $BROWSER and reports what failed", async () => {
  await withTempDir({}, async (dir) => {
    const opened = `${dir}/opened.txt`;
    const script = `${dir}/fake-browser`;
    await Deno.writeTextFile(script, `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
    await Deno.chmod(script, 0o755);
    const previous = Deno.env.get("BROWSER");
    try {
      Deno.env.set("BROWSER", `${dir}/missing-browser:false:${script}`);
      assert.equal(await tryOpenBrowser("http://127.0.0.1:1/"), undefined);
      assert.equal(await Deno.readTextFile(opened), "http://127.0.0.1:1/");
      Deno.env.set("BROWSER", `${dir}/missing-browser:false`);
      const failure = await tryOpenBrowser("http://127.0.0.1:1/");
      assert.match(failure ?? "", /^Could not open a browser for "http:\/\/127\.0\.0\.1:1\/"/);
      assert.match(failure ?? "", /missing-browser" was not found; "false" exited with code 1/);
    } finally {
      if (previous === undefined) Deno.env.delete("BROWSER");
      else Deno.env.set("BROWSER", previous);
    }
  });
});

Deno.test("injectLiveReload() injects only into page loads, not into fetch() or curl", async () => {
  const page = () =>
    new Response("<!doctype html><body>hi</body>", { headers: { "content-type": "text/html" } });
  const cases: [HeadersInit, boolean][] = [
    [PAGE_HEADERS, true],
    [{ "sec-fetch-dest": "document", accept: "*/*" }, true],
    [{ "sec-fetch-dest": "iframe" }, true],
    [{ "sec-fetch-dest": "empty", accept: "text/html" }, false], // fetch() from a page
    [{ accept: "*/*" }, false], // curl
    [{}, false],
  ];
  for (const [headers, injected] of cases) {
    const request = new Request("http://localhost/", { headers });
    const body = await (await injectLiveReload(request, page(), "/s.js")).text();
    assert.equal(body.includes("/s.js"), injected, JSON.stringify(headers));
  }
});

Deno.test("injectLiveReload() does not read the request of a non-HTML response (an upgraded request cannot be read)", async () => {
  const request = new Request("http://localhost/", { headers: PAGE_HEADERS });
  const upgraded = new Proxy(request, {
    get(target, property) {
      if (property === "headers") throw new TypeError("Request closed");
      return Reflect.get(target, property);
    },
  });
  const response = new Response(null, { status: 200, headers: { "content-type": "text/plain" } });
  assert.equal(await injectLiveReload(upgraded, response, SCRIPT), response);
});
