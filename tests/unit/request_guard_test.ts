/**
 * Unit tests for the request guard: every Host, Origin, Sec-Fetch and
 * Referer case, with the attacks from the dev-server advisories of 2025 and
 * 2026 (Vite, webpack-dev-server, Next.js) spelled out as requests.
 *
 * Requests are built with explicit headers: `new Request(url)` alone sends
 * no Host (like HTTP/1.0), and its URL is normalised, while `Deno.serve`
 * hands the handler the raw Host value and a URL built from it.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  allowedHostProblem,
  guardDevsrvEndpoint,
  type GuardOptions,
  guardRequest,
  mayShowDetails,
} from "../../src/security/request_guard.ts";
import { isLoopbackAddress, isLoopbackHost } from "../../src/security/authority.ts";

const NO_EXTRA_HOSTS: GuardOptions = { allowedHosts: [] };

function assertIncludes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
}

/** The URL `Deno.serve` would build for an origin-form request with this Host. */
function urlFor(host: string, path: string, scheme: string): string {
  const url = `${scheme}://${host}${path}`;
  try {
    return new Request(url).url;
  } catch {
    // Deno keeps such URLs as they are; `new Request` refuses them, so
    // the URL names localhost and only the raw Host is left to judge.
    return `${scheme}://localhost${path}`;
  }
}

interface RequestParts {
  path?: string;
  url?: string;
  scheme?: "http" | "https";
  headers?: Record<string, string>;
}

/** A request as `Deno.serve` hands it over: `host` is the raw header, or `null` for none. */
function request(host: string | null, parts: RequestParts = {}): Request {
  const path = parts.path ?? "/";
  const scheme = parts.scheme ?? "http";
  const headers = new Headers(parts.headers);
  if (host !== null) headers.set("host", host);
  const url = parts.url ?? urlFor(host ?? "localhost:8000", path, scheme);
  return new Request(url, { headers });
}

function devsrvRequest(
  headers: Record<string, string>,
  host = "localhost:8000",
  path = "/__devsrv/events",
): Request {
  return request(host, { path, headers });
}

async function assertBlocked(
  response: Response | null,
  status: number,
  what: string,
): Promise<string> {
  assert(response !== null, `${what} should be blocked`);
  assert.equal(response.status, status, what);
  assert.equal(response.headers.get("access-control-allow-origin"), null);
  assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  const body = await response.text();
  assert.match(body, /^[^\n]+\n$/, `${what}: one line`);
  return body;
}

// ---- guardRequest: the Host allow-list --------------------------------------

const GOOD_HOSTS = [
  "localhost",
  "localhost:8000",
  "LOCALHOST:8000",
  "localhost.",
  "localhost.:8000",
  "app.localhost",
  "App.LocalHost:3000",
  "a.b.localhost.",
  "a_b.localhost",
  "localhost:1",
  "localhost:65535",
  "127.0.0.1",
  "127.0.0.1:8000",
  "127.8.9.10:8000",
  "0.0.0.0:8000",
  "192.168.1.5:8000",
  "10.0.0.1",
  "[::1]",
  "[::1]:8000",
  "[0:0:0:0:0:0:0:1]:8000",
  "[::ffff:127.0.0.1]:8000",
  "[2001:db8::1]",
  "[FE80::1]:1",
];

for (const host of GOOD_HOSTS) {
  Deno.test(`guardRequest() passes Host "${host}"`, () => {
    assert.equal(guardRequest(request(host), NO_EXTRA_HOSTS), null);
  });
}

/** Hosts a rebinding page, a typo or an attacker sends; all get 403. */
const BAD_HOSTS = [
  "evil.example",
  "evil.example:8000",
  "EVIL.example.",
  // userinfo: as a URL these parse to the host after the "@"
  "evil.example@localhost",
  "evil.example@localhost:8000",
  "localhost@evil.example",
  "@localhost",
  "localhost:8000@evil.example",
  // spaces, commas (two Host values folded), trailing junk
  "localhost evil",
  "local\thost",
  "localhost,evil.example",
  "localhost, localhost",
  "localhost/",
  "localhost/evil",
  "localhost\\evil.example",
  "localhost#@evil.example",
  "localhost?x",
  "localhost;evil",
  "localhost%2eevil.example",
  "local%68ost",
  "\u00e9.localhost",
  "",
  // ports
  "localhost:",
  "localhost:0",
  "localhost:65536",
  "localhost:99999",
  "localhost:80a",
  "localhost:-1",
  "localhost:+80",
  "localhost:8000:8000",
  "localhost::8000",
  // names that only look local; rebinding services resolve them to 127.0.0.1
  "evillocalhost",
  "localhost.evil.example",
  "localhost.localdomain",
  "127.0.0.1.nip.io",
  "7f000001.c0a80001.rbndr.us",
  "0x7f.0.0.1",
  "127.1",
  "127.0.0.01",
  "2130706433",
  "256.0.0.1",
  ".",
  ".localhost",
  "..localhost",
  "a..localhost",
  "localhost..",
  "-.localhost",
  `${"a".repeat(64)}.localhost`,
  `${"a.".repeat(130)}localhost`,
  // IPv6 forms that are not one bracketed address
  "::1",
  "[::1",
  "::1]",
  "[::1]x",
  "[::1]:",
  "[::1]:0",
  "[::1]:65536",
  "[::1%25lo]",
  "[fe80::1%eth0]",
  "[1:2:3:4:5:6:7:8:9]",
  "[1:2:3:4:5:6:7]",
  "[1::2::3]",
  "[::g]",
  "[12345::1]",
  "[::1]@evil.example",
  "[evil.example]",
  "[]",
];

for (const host of BAD_HOSTS) {
  Deno.test(`guardRequest() rejects Host ${JSON.stringify(host)} with 403`, async () => {
    await assertBlocked(guardRequest(request(host), NO_EXTRA_HOSTS), 403, host);
  });
}

Deno.test("guardRequest() answers a request without Host with 400 (HTTP/1.0 and broken HTTP/1.1)", async () => {
  const body = await assertBlocked(
    guardRequest(request(null), NO_EXTRA_HOSTS),
    400,
    "no Host",
  );
  assertIncludes(body, "Host header is required");
});

Deno.test("guardRequest() judges HTTP/2's :authority when HTTPS brings no Host", async () => {
  const h2 = (authority: string) => request(null, { url: `https://${authority}/` });
  assert.equal(guardRequest(h2("localhost:8443"), NO_EXTRA_HOSTS), null);
  assert.equal(guardRequest(h2("127.0.0.1:8443"), NO_EXTRA_HOSTS), null);
  await assertBlocked(guardRequest(h2("evil.example:8443"), NO_EXTRA_HOSTS), 403, "h2 evil");
  await assertBlocked(
    guardRequest(h2("evil.example@localhost:8443"), NO_EXTRA_HOSTS),
    403,
    "h2 userinfo",
  );
});

Deno.test("guardRequest() checks an absolute-form target's host as well as Host", async () => {
  // `GET http://evil.example/ HTTP/1.1` + `Host: localhost`: the target wins (RFC 9112 §3.2.2).
  const absolute = request("localhost", { url: "http://evil.example/" });
  const body = await assertBlocked(guardRequest(absolute, NO_EXTRA_HOSTS), 403, "absolute");
  assertIncludes(body, '"evil.example"');
  const both = request("localhost:8000", { url: "http://127.0.0.1:8000/" });
  assert.equal(guardRequest(both, NO_EXTRA_HOSTS), null);
});

Deno.test("guardRequest() rejects a bad Host on a WebSocket upgrade too", async () => {
  const upgrade = request("evil.example:8000", {
    path: "/socket",
    headers: {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  await assertBlocked(guardRequest(upgrade, NO_EXTRA_HOSTS), 403, "upgrade");
});

Deno.test("guardRequest() tells how to allow a well-formed unknown host", async () => {
  const body = await assertBlocked(
    guardRequest(request("Dev.Test:8000"), NO_EXTRA_HOSTS),
    403,
    "dev.test",
  );
  assertIncludes(body, '"dev.test"');
  assertIncludes(body, "--allowed-host dev.test");
});

Deno.test("guardRequest() names the accepted hosts for a malformed Host", async () => {
  const body = await assertBlocked(
    guardRequest(request("evil.example@localhost"), NO_EXTRA_HOSTS),
    403,
    "userinfo",
  );
  assertIncludes(body, '"evil.example@localhost"');
  assertIncludes(body, "not a valid host name");
  assertIncludes(body, "--allowed-host NAME");
});

Deno.test("guardRequest() quotes at most a short, printable part of a hostile Host", async () => {
  const body = await assertBlocked(
    guardRequest(request(`${"x".repeat(5000)}\u00ff<script>`), NO_EXTRA_HOSTS),
    403,
    "long",
  );
  assert(body.length < 400, `body is ${body.length} characters`);
  assert.match(body, /^[\x20-\x7e]+\n$/);
});

// ---- --allowed-host ----------------------------------------------------------

Deno.test("guardRequest() accepts an --allowed-host name exactly, on any port", async () => {
  const options = { allowedHosts: ["dev.test"] };
  for (const host of ["dev.test", "DEV.TEST:8000", "dev.test.", "dev.test:1"]) {
    assert.equal(guardRequest(request(host), options), null, host);
  }
  for (
    const host of ["sub.dev.test", "dev.test.evil.example", "evildev.test", "evil.example@dev.test"]
  ) {
    await assertBlocked(guardRequest(request(host), options), 403, host);
  }
});

Deno.test("guardRequest() accepts a leading-dot --allowed-host and its subdomains", async () => {
  for (const entry of [".example.test", "*.example.test", ".Example.Test."]) {
    const options = { allowedHosts: [entry] };
    for (const host of ["example.test", "a.example.test:8000", "a.b.example.test"]) {
      assert.equal(guardRequest(request(host), options), null, `${entry} ${host}`);
    }
    for (const host of ["badexample.test", "example.test.evil", "example.testx"]) {
      await assertBlocked(guardRequest(request(host), options), 403, `${entry} ${host}`);
    }
  }
});

Deno.test("guardRequest() keeps localhost and IPs allowed next to --allowed-host names", () => {
  const options = { allowedHosts: ["dev.test", ".corp.test"] };
  for (const host of ["localhost:8000", "app.localhost", "127.0.0.1:8000", "[::1]:8000"]) {
    assert.equal(guardRequest(request(host), options), null, host);
  }
});

Deno.test("allowedHostProblem() accepts names and rejects URLs, ports and junk", () => {
  for (const ok of ["dev.test", ".dev.test", "*.dev.test", "DEV.test.", "127.0.0.1", "[::1]"]) {
    assert.equal(allowedHostProblem(ok), undefined, ok);
  }
  assert.equal(allowedHostProblem("http://dev.test"), "is a URL, not a host name");
  assert.equal(allowedHostProblem("dev.test:8000"), "has a port (names match on any port)");
  for (const bad of ["dev test", "", "*", ".", "evil@dev.test", "dev.test/"]) {
    assert.equal(allowedHostProblem(bad), "is not a host name", JSON.stringify(bad));
  }
});

// ---- Vite CVE-2025-24010: any site could read dev-server responses ----------

Deno.test("guardRequest() rejects the DNS-rebinding request of Vite CVE-2025-24010", async () => {
  // evil.example re-resolves to 127.0.0.1 after the page loads; its
  // same-origin fetch then reaches devsrv with the attacker's name in Host.
  const rebound = request("evil.example:8000", {
    headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" },
  });
  await assertBlocked(guardRequest(rebound, NO_EXTRA_HOSTS), 403, "rebinding");
  await assertBlocked(
    guardDevsrvEndpoint(
      request("evil.example:8000", { path: "/__devsrv" }),
      NO_EXTRA_HOSTS,
    ),
    403,
    "rebinding status page",
  );
});

Deno.test("guard responses never carry Access-Control-Allow-Origin", async () => {
  const cases = [
    guardRequest(request("evil.example"), NO_EXTRA_HOSTS),
    guardRequest(request(null), NO_EXTRA_HOSTS),
    guardDevsrvEndpoint(devsrvRequest({ origin: "http://evil.example" }), NO_EXTRA_HOSTS),
    guardDevsrvEndpoint(devsrvRequest({ origin: "null" }), NO_EXTRA_HOSTS),
    guardDevsrvEndpoint(
      devsrvRequest({ "sec-fetch-mode": "no-cors", "sec-fetch-site": "cross-site" }),
      NO_EXTRA_HOSTS,
    ),
  ];
  for (const response of cases) {
    assert(response);
    assert.equal(response.headers.get("access-control-allow-origin"), null);
    assert.equal(response.headers.get("access-control-allow-credentials"), null);
    await response.body?.cancel();
  }
});

// ---- guardDevsrvEndpoint: Origin --------------------------------------------

const TRUSTED_ORIGINS = [
  "http://localhost:8000",
  "http://localhost:3000",
  "http://localhost",
  "https://localhost:8000",
  "http://LOCALHOST:8000",
  "http://app.localhost:8000",
  "http://127.0.0.1:8000",
  "http://127.0.0.2:9",
  "http://[::1]:8000",
  "http://[::ffff:127.0.0.1]:8000",
];

for (const origin of TRUSTED_ORIGINS) {
  Deno.test(`guardDevsrvEndpoint() passes Origin "${origin}"`, () => {
    assert.equal(guardDevsrvEndpoint(devsrvRequest({ origin }), NO_EXTRA_HOSTS), null);
  });
}

const FOREIGN_ORIGINS = [
  "http://evil.example",
  "http://evil.example:8000",
  "https://evil.example",
  "http://localhost.evil.example:8000",
  "http://evillocalhost:8000",
  "http://127.0.0.1.nip.io:8000",
  // a URL parser reads the host after "@"; an Origin never has userinfo
  "http://evil.example@localhost:8000",
  "http://localhost@evil.example",
  "http://localhost:8000/",
  "http://localhost:8000/path",
  "http://localhost:8000?x",
  "http://localhost:8000#x",
  "http://localhost:8000:8000",
  "http://local host:8000",
  "localhost:8000",
  "//localhost:8000",
  "ws://localhost:8000",
  "file://",
  "file:///etc/passwd",
  "chrome-extension://abcdefghijklmnop",
  "data:text/html,x",
  "",
  "*",
  "http://",
  "http://localhost:8000, http://evil.example",
];

for (const origin of FOREIGN_ORIGINS) {
  Deno.test(`guardDevsrvEndpoint() rejects Origin ${JSON.stringify(origin)}`, async () => {
    await assertBlocked(
      guardDevsrvEndpoint(devsrvRequest({ origin }), NO_EXTRA_HOSTS),
      403,
      origin,
    );
  });
}

Deno.test("guardDevsrvEndpoint() tells how to allow a foreign site's name", async () => {
  const body = await assertBlocked(
    guardDevsrvEndpoint(devsrvRequest({ origin: "http://dev.test:8000" }), NO_EXTRA_HOSTS),
    403,
    "dev.test origin",
  );
  assertIncludes(body, '"http://dev.test:8000"');
  assertIncludes(body, "--allowed-host dev.test");
});

Deno.test("guardDevsrvEndpoint() accepts origins named with --allowed-host", async () => {
  const exact = { allowedHosts: ["dev.test"] };
  const origin = (value: string) => devsrvRequest({ origin: value }, "dev.test:8000");
  assert.equal(guardDevsrvEndpoint(origin("http://dev.test:8000"), exact), null);
  assert.equal(guardDevsrvEndpoint(origin("https://dev.test"), exact), null);
  await assertBlocked(guardDevsrvEndpoint(origin("http://a.dev.test"), exact), 403, "sub");
  const wildcard = { allowedHosts: [".dev.test"] };
  assert.equal(guardDevsrvEndpoint(origin("http://a.dev.test"), wildcard), null);
});

Deno.test("guardDevsrvEndpoint() rejects Origin: null (Next.js CVE-2026-27977)", async () => {
  // Sandboxed iframes and file: pages send "null"; it says nothing about who asks.
  for (const origin of ["null", "NULL", "Null"]) {
    const body = await assertBlocked(
      guardDevsrvEndpoint(devsrvRequest({ origin }), NO_EXTRA_HOSTS),
      403,
      origin,
    );
    assertIncludes(body, '"null"');
  }
  const upgrade = devsrvRequest({ origin: "null", connection: "Upgrade", upgrade: "websocket" });
  await assertBlocked(guardDevsrvEndpoint(upgrade, NO_EXTRA_HOSTS), 403, "null upgrade");
});

// ---- webpack-dev-server CVE-2025-30360: IP origins were always trusted ------

Deno.test("guardDevsrvEndpoint() rejects IP origins that are not loopback (webpack-dev-server CVE-2025-30360)", async () => {
  // A page served from a bare IP (a LAN box, a cloud VM) is still a foreign site.
  const foreign = [
    "http://192.168.1.5:8000",
    "http://10.0.0.1",
    "http://93.184.216.34",
    "https://93.184.216.34:8443",
    "http://0.0.0.0:8000",
    "http://[2001:db8::1]:8000",
    "http://[::ffff:192.168.1.5]:8000",
    "http://[::]:8000",
  ];
  for (const origin of foreign) {
    await assertBlocked(
      guardDevsrvEndpoint(devsrvRequest({ origin }), NO_EXTRA_HOSTS),
      403,
      origin,
    );
    const upgrade = devsrvRequest({
      origin,
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    });
    await assertBlocked(guardDevsrvEndpoint(upgrade, NO_EXTRA_HOSTS), 403, `${origin} upgrade`);
  }
});

Deno.test("guardDevsrvEndpoint() passes a LAN IP origin only to its own address", async () => {
  // `--host 0.0.0.0`, a phone opens http://192.168.1.5:8000: same origin.
  const lan = (origin: string, host: string) => devsrvRequest({ origin }, host);
  const cases: [string, string, boolean][] = [
    ["http://192.168.1.5:8000", "192.168.1.5:8000", true],
    ["http://192.168.1.5", "192.168.1.5", true],
    ["http://192.168.1.5", "192.168.1.5:80", true],
    ["https://192.168.1.5", "192.168.1.5:443", true],
    ["https://192.168.1.5:8443", "192.168.1.5:8443", true],
    ["http://[fd00::5]:8000", "[FD00::5]:8000", true],
    ["http://192.168.1.5:9000", "192.168.1.5:8000", false],
    ["http://192.168.1.6:8000", "192.168.1.5:8000", false],
    ["http://192.168.1.5:8000", "localhost:8000", false],
    ["https://192.168.1.5", "192.168.1.5:80", false],
  ];
  for (const [origin, host, passes] of cases) {
    const response = guardDevsrvEndpoint(lan(origin, host), NO_EXTRA_HOSTS);
    if (passes) assert.equal(response, null, `${origin} -> ${host}`);
    else await assertBlocked(response, 403, `${origin} -> ${host}`);
  }
});

// ---- webpack-dev-server CVE-2025-30359: <script src> from another site ------

Deno.test("guardDevsrvEndpoint() rejects cross-site no-cors includes (webpack-dev-server CVE-2025-30359)", async () => {
  // <script src="http://localhost:8000/__devsrv/client.js"> on evil.example:
  // classic scripts skip the same-origin policy and send no Origin.
  const include = devsrvRequest(
    { "sec-fetch-mode": "no-cors", "sec-fetch-site": "cross-site", "sec-fetch-dest": "script" },
    "localhost:8000",
    "/__devsrv/client.js",
  );
  const body = await assertBlocked(guardDevsrvEndpoint(include, NO_EXTRA_HOSTS), 403, "include");
  assertIncludes(body, "another site");
  const shouting = devsrvRequest(
    { "sec-fetch-mode": "No-CORS", "sec-fetch-site": "Cross-Site" },
    "localhost:8000",
    "/__devsrv/client.js",
  );
  await assertBlocked(guardDevsrvEndpoint(shouting, NO_EXTRA_HOSTS), 403, "case");
});

Deno.test("guardDevsrvEndpoint() passes same-site includes, navigations and CORS reads by allowed origins", () => {
  const passing: Record<string, string>[] = [
    { "sec-fetch-mode": "no-cors", "sec-fetch-site": "same-origin" },
    { "sec-fetch-mode": "no-cors", "sec-fetch-site": "same-site" },
    { "sec-fetch-mode": "no-cors", "sec-fetch-site": "none" },
    { "sec-fetch-mode": "navigate", "sec-fetch-site": "cross-site" },
    { "sec-fetch-mode": "cors", "sec-fetch-site": "same-site", origin: "http://localhost:3000" },
    { "sec-fetch-mode": "cors", "sec-fetch-site": "same-origin" },
    {},
  ];
  for (const headers of passing) {
    const include = devsrvRequest(headers, "localhost:8000", "/__devsrv/client.js");
    assert.equal(guardDevsrvEndpoint(include, NO_EXTRA_HOSTS), null, JSON.stringify(headers));
  }
});

// ---- webpack-dev-server CVE-2026-6402: no Sec-Fetch-* over plain http to an IP

Deno.test("guardDevsrvEndpoint() judges the Referer when a browser sends no Sec-Fetch-* (CVE-2026-6402)", async () => {
  // Browsers send Sec-Fetch-* only to trustworthy origins; a <script> include
  // of http://192.168.1.5:8000/... from evil.example carries only a Referer.
  const include = (referer: string, host = "192.168.1.5:8000") =>
    devsrvRequest({ referer }, host, "/__devsrv/client.js");
  await assertBlocked(
    guardDevsrvEndpoint(include("http://evil.example/page"), NO_EXTRA_HOSTS),
    403,
    "foreign referer",
  );
  await assertBlocked(
    guardDevsrvEndpoint(include("http://10.0.0.9:8000/"), NO_EXTRA_HOSTS),
    403,
    "other IP referer",
  );
  for (
    const referer of ["http://192.168.1.5:8000/app", "http://localhost:8000/", "android-app://x/"]
  ) {
    assert.equal(guardDevsrvEndpoint(include(referer), NO_EXTRA_HOSTS), null, referer);
  }
  const withMetadata = devsrvRequest(
    {
      referer: "http://evil.example/",
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "navigate",
    },
  );
  assert.equal(guardDevsrvEndpoint(withMetadata, NO_EXTRA_HOSTS), null);
});

// ---- Next.js CVE-2025-48068: cross-origin access to dev-only endpoints -------

Deno.test("guardDevsrvEndpoint() keeps other local pages' rebinding out of every /__devsrv path (Next.js CVE-2025-48068)", async () => {
  for (const path of ["/__devsrv", "/__devsrv/", "/__devsrv/events", "/__devsrv/client.js?g=3"]) {
    await assertBlocked(
      guardDevsrvEndpoint(
        devsrvRequest({ origin: "https://evil.example" }, "localhost:8000", path),
        NO_EXTRA_HOSTS,
      ),
      403,
      path,
    );
    assert.equal(
      guardDevsrvEndpoint(devsrvRequest({}, "localhost:8000", path), NO_EXTRA_HOSTS),
      null,
      path,
    );
  }
});

Deno.test("guardDevsrvEndpoint() applies the Host check first", async () => {
  const rebound = devsrvRequest({ origin: "http://localhost:8000" }, "evil.example:8000");
  const body = await assertBlocked(guardDevsrvEndpoint(rebound, NO_EXTRA_HOSTS), 403, "host");
  assertIncludes(body, "--allowed-host evil.example");
  await assertBlocked(
    guardDevsrvEndpoint(request(null, { path: "/__devsrv" }), NO_EXTRA_HOSTS),
    400,
    "no host",
  );
});

// ---- mayShowDetails ----------------------------------------------------------

Deno.test("mayShowDetails() shows details to every allowed Host when bound to loopback", () => {
  const options = { allowedHosts: [], boundToLoopback: true };
  assert(mayShowDetails(request("localhost:8000"), options));
  assert(mayShowDetails(request("127.0.0.1:8000"), { ...options, remoteHostname: "127.0.0.1" }));
});

Deno.test("mayShowDetails() hides details from hosts the guard rejects, even on loopback", () => {
  const options = { allowedHosts: [], boundToLoopback: true, remoteHostname: "127.0.0.1" };
  assert(!mayShowDetails(request("evil.example:8000"), options));
  assert(!mayShowDetails(request("evil.example@localhost"), options));
  assert(!mayShowDetails(request(null), options));
});

Deno.test("mayShowDetails() with --host 0.0.0.0 shows details only to loopback clients", () => {
  const wide = { allowedHosts: [], boundToLoopback: false };
  const local = request("localhost:8000");
  const lanHost = request("192.168.1.5:8000");
  for (const remoteHostname of ["127.0.0.1", "127.0.0.9", "::1", "::ffff:127.0.0.1"]) {
    assert(mayShowDetails(local, { ...wide, remoteHostname }), remoteHostname);
    assert(mayShowDetails(lanHost, { ...wide, remoteHostname }), remoteHostname);
  }
  for (const remoteHostname of ["192.168.1.7", "10.0.0.2", "::ffff:192.168.1.7", "fe80::1"]) {
    assert(!mayShowDetails(local, { ...wide, remoteHostname }), remoteHostname);
    assert(!mayShowDetails(lanHost, { ...wide, remoteHostname }), remoteHostname);
  }
  assert(!mayShowDetails(local, wide), "unknown client");
  assert(!mayShowDetails(local, { ...wide, remoteHostname: undefined }), "undefined client");
  assert(!mayShowDetails(local, { ...wide, remoteHostname: "localhost" }), "a name is no address");
});

Deno.test("isLoopbackAddress() knows 127/8, ::1 and IPv4-mapped loopback", () => {
  for (
    const yes of [
      "127.0.0.1",
      "127.255.255.254",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "0000::0001",
      "::ffff:127.0.0.1",
      "::FFFF:7f00:1",
      "0:0:0:0:0:ffff:127.1.2.3",
    ]
  ) assert(isLoopbackAddress(yes), yes);
  for (
    const no of [
      "128.0.0.1",
      "0.0.0.0",
      "::",
      "::2",
      "1::1",
      "::ffff:192.168.0.1",
      "::ffff:8000:1",
      "::1:ffff:127.0.0.1",
      "localhost",
      "",
      "127.0.0.1.nip.io",
      "127.1",
      "[::1",
    ]
  ) assert(!isLoopbackAddress(no), no);
});

Deno.test("isLoopbackHost() is isLoopbackAddress() and the name localhost: one answer for --host, a program's host and a client", () => {
  for (const yes of ["localhost", "LOCALHOST", "127.0.0.1", "::1", "[::1]", "::ffff:127.0.0.1"]) {
    assert(isLoopbackHost(yes), yes);
    if (yes.toLowerCase() !== "localhost") assert(isLoopbackAddress(yes), yes);
  }
  for (const no of ["0.0.0.0", "::", "192.168.1.5", "dev.test", "app.localhost", "127.1", ""]) {
    assert(!isLoopbackHost(no), no);
  }
});

// ---- webpack-dev-server CVE-2026-14631: malformed headers crashed the server

/** A deterministic generator, so that a failure reproduces. */
function xorshift(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
}

const FUZZ_ALPHABET = [
  ..."abcehlostxyz019.:[]@%/\\?#,; -_*!'\"()",
  "localhost",
  "127.0.0.1",
  "::1",
  "ffff",
  "http://",
  "https://",
  "null",
  "\u00e9",
  "\t",
];
const FUZZ_ROUNDS = 3000;
const FUZZ_MAX_PIECES = 12;

function fuzzValue(random: () => number): string {
  let value = "";
  const pieces = Math.floor(random() * FUZZ_MAX_PIECES);
  for (let i = 0; i < pieces; i++) {
    value += FUZZ_ALPHABET[Math.floor(random() * FUZZ_ALPHABET.length)]!;
  }
  return value;
}

/** What a passing Host can look like: an IP literal or a localhost name, and a port. */
const SAFE_HOST =
  /^(?:(?:[a-z0-9_-]+\.)*localhost\.?|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

Deno.test("guard functions never throw on hostile headers, and pass only safe hosts (webpack-dev-server CVE-2026-14631)", async () => {
  const random = xorshift(0x5eed);
  for (let round = 0; round < FUZZ_ROUNDS; round++) {
    const host = fuzzValue(random);
    const headers = new Headers({
      host,
      origin: fuzzValue(random),
      referer: fuzzValue(random),
      "sec-fetch-site": fuzzValue(random),
      "sec-fetch-mode": fuzzValue(random),
    });
    const incoming = new Request("http://localhost/", { headers });
    const plain = guardRequest(incoming, NO_EXTRA_HOSTS);
    const own = guardDevsrvEndpoint(incoming, NO_EXTRA_HOSTS);
    mayShowDetails(incoming, { allowedHosts: [], boundToLoopback: false, remoteHostname: host });
    const raw = headers.get("host")!;
    if (plain === null) assert.match(raw, SAFE_HOST, `passed ${JSON.stringify(raw)}`);
    else await plain.body?.cancel();
    await own?.body?.cancel();
  }
});
