/**
 * Keeps web pages from using devsrv against its user. A page on any site
 * can make the browser send requests to `localhost`; three checks stop what
 * such requests could do:
 *
 * - The `Host` allow-list (every request, upgrades included) defeats DNS
 *   rebinding: a page served from `evil.example` that re-points its own name
 *   at 127.0.0.1 still sends `Host: evil.example`. Only `localhost`,
 *   `*.localhost`, IP literals and names given with `--allowed-host` pass.
 * - devsrv's own endpoints (`/__devsrv...`) answer only their own origin:
 *   a foreign `Origin` (also an IP origin that is not loopback, and
 *   `Origin: null`) and cross-site `<script>` includes get 403.
 * - Stacks, source and child output go only to allowed hosts, and when
 *   devsrv listens beyond loopback, only to loopback clients.
 *
 * Header values are read as raw strings and never put through
 * `new URL(request.url)`: Deno builds that URL from the `Host` header, and
 * `Host: evil.example@localhost` would parse as `localhost`. Nothing here
 * throws, whatever the headers hold.
 *
 * The parsing of hosts and addresses is `authority.ts`'s.
 *
 * @module
 */

import {
  type Authority,
  isDnsName,
  isLoopbackAddress,
  parseAuthority,
  splitUrl,
} from "./authority.ts";

/** Options for {@linkcode guardRequest} and {@linkcode guardDevsrvEndpoint}. */
export interface GuardOptions {
  /**
   * Host names accepted besides `localhost`, `*.localhost` and IP literals
   * (`--allowed-host`, repeatable). Matched exactly and case-insensitively;
   * a leading dot (`.example.test`, or `*.example.test`) also accepts every
   * subdomain.
   *
   * @default {[]}
   */
  allowedHosts: string[];
}

/** Options for {@linkcode mayShowDetails}. */
export interface DetailOptions extends GuardOptions {
  /** The client's address (`info.remoteAddr.hostname`), when known. */
  remoteHostname?: string | undefined;
  /** Whether the public address is a loopback one (the default 127.0.0.1). */
  boundToLoopback: boolean;
}

const STATUS_FORBIDDEN = 403;
const STATUS_BAD_REQUEST = 400;
/** Longest header value quoted back in a 403 body. */
const MAX_QUOTED_LENGTH = 100;
const DEFAULT_PORTS: Record<string, string> = { http: "80", https: "443" };

const ACCEPTED_HOSTS =
  "localhost, *.localhost, IP addresses and names given with --allowed-host NAME";

function normalizeAllowedHost(entry: string): string {
  const lower = entry.trim().toLowerCase().replace(/^\*\./, ".");
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function isAllowedName(host: string, allowedHosts: string[]): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  return allowedHosts.some((entry) => {
    const allowed = normalizeAllowedHost(entry);
    if (!allowed.startsWith(".")) return host === allowed;
    return host === allowed.slice(1) || host.endsWith(allowed);
  });
}

function isAllowedHost(authority: Authority, allowedHosts: string[]): boolean {
  return authority.kind !== "name" || isAllowedName(authority.host, allowedHosts);
}

/** The authorities a request names: its `Host` and, if different, its URL's. */
function requestAuthorities(host: string | null, requestUrl: string): string[] | undefined {
  const url = splitUrl(requestUrl);
  if (host === null) {
    // HTTP/2 has no Host header: `:authority` is in the URL. Deno serves
    // HTTP/2 only over TLS to browsers (h2c is curl's), so plain HTTP
    // without Host is an HTTP/1.x request that broke RFC 9112 §3.2.
    return url?.scheme === "https" ? [url.authority] : undefined;
  }
  // An absolute-form target (`GET http://evil.example/ HTTP/1.1`) overrides
  // Host (RFC 9112 §3.2.2), and Deno builds the URL from it.
  if (url && url.authority !== host) return [host, url.authority];
  return [host];
}

function quote(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, "?");
  const short = printable.length > MAX_QUOTED_LENGTH
    ? `${printable.slice(0, MAX_QUOTED_LENGTH)}...`
    : printable;
  return `"${short}"`;
}

function blocked(status: number, line: string): Response {
  return new Response(`${line}\n`, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "x-content-type-options": "nosniff",
      "cache-control": "no-store",
    },
  });
}

function hostProblem(value: string, allowedHosts: string[]): Response | null {
  const authority = parseAuthority(value);
  if (!authority) {
    return blocked(
      STATUS_FORBIDDEN,
      `Blocked request: host ${
        quote(value)
      } is not a valid host name; devsrv answers ${ACCEPTED_HOSTS}`,
    );
  }
  if (isAllowedHost(authority, allowedHosts)) return null;
  return blocked(
    STATUS_FORBIDDEN,
    `Blocked request: host ${
      quote(authority.host)
    } is not allowed; if you use this name for devsrv, start it with --allowed-host ${authority.host}`,
  );
}

/**
 * Checks a request's `Host` header (and an absolute-form target's host)
 * against the allow-list, to defeat DNS rebinding. Run it on every request,
 * WebSocket upgrades included, before anything else.
 *
 * @param request The request as `Deno.serve` received it.
 * @param options The `--allowed-host` names.
 * @returns `null` when the request may pass; otherwise a plain-text 403
 * (host not allowed or malformed) or 400 (no `Host`) response to send.
 *
 * @example Block a rebinding request, pass a local one
 * ```ts
 * import { guardRequest } from "./request_guard.ts";
 *
 * const options = { allowedHosts: [] };
 * const local = new Request("http://localhost:8000/", {
 *   headers: { host: "localhost:8000" },
 * });
 * if (guardRequest(local, options) !== null) throw new Error();
 *
 * const rebound = new Request("http://evil.example:8000/", {
 *   headers: { host: "evil.example:8000" },
 * });
 * if (guardRequest(rebound, options)?.status !== 403) throw new Error();
 * ```
 */
export function guardRequest(
  request: Request,
  options: GuardOptions,
): Response | null {
  return guardHost(request.headers.get("host"), request.url, options);
}

/**
 * {@linkcode guardRequest}'s check on raw values, for a server that reads
 * request heads itself and has no `Request` to give (the reloader's front).
 * `guardRequest(request, options)` is
 * `guardHost(request.headers.get("host"), request.url, options)`.
 *
 * @param host The `Host` field value as sent, without surrounding spaces
 *   (several fields joined with `", "`), or `null` when there is none.
 * @param url The request URL as `Deno.serve` builds it, or the
 *   request-target as sent: only an absolute URL (`scheme://authority...`,
 *   as an absolute-form target is) adds its authority to the check; a path
 *   (`/a?b`), `*` or an authority-form target adds nothing.
 * @param options The `--allowed-host` names.
 * @returns `null` when the request may pass; otherwise the plain-text 403
 *   (host not allowed or malformed) or 400 (no `Host`) response to send.
 *
 * @example Check a request-target and its Host, as the front reads them
 * ```ts
 * import { guardHost } from "./request_guard.ts";
 *
 * const options = { allowedHosts: [] };
 * if (guardHost("localhost:8000", "/a?b", options) !== null) throw new Error();
 * if (guardHost("localhost:8000", "http://evil.example/", options)?.status !== 403) {
 *   throw new Error();
 * }
 * if (guardHost(null, "/", options)?.status !== 400) throw new Error();
 * ```
 */
export function guardHost(
  host: string | null,
  url: string,
  options: GuardOptions,
): Response | null {
  const authorities = requestAuthorities(host, url);
  if (!authorities) {
    return blocked(
      STATUS_BAD_REQUEST,
      `Bad request: a Host header is required; devsrv answers ${ACCEPTED_HOSTS}`,
    );
  }
  for (const authority of authorities) {
    const problem = hostProblem(authority, options.allowedHosts);
    if (problem) return problem;
  }
  return null;
}

/**
 * Tells whether a request may see stack traces, source excerpts and the
 * child's output: its `Host` is allowed, and the client is on this machine
 * or devsrv listens on loopback only.
 *
 * @param request The request.
 * @param options The allow-list, the client's address and the bind.
 * @returns `true` when details may be shown.
 *
 * @example A LAN client of a server bound to 0.0.0.0 gets the plain page
 * ```ts
 * import { mayShowDetails } from "./request_guard.ts";
 *
 * const request = new Request("http://localhost:8000/", {
 *   headers: { host: "localhost:8000" },
 * });
 * const lan = { allowedHosts: [], boundToLoopback: false, remoteHostname: "192.168.1.7" };
 * if (mayShowDetails(request, lan)) throw new Error();
 * const local = { ...lan, remoteHostname: "127.0.0.1" };
 * if (!mayShowDetails(request, local)) throw new Error();
 * ```
 */
export function mayShowDetails(request: Request, options: DetailOptions): boolean {
  if (guardRequest(request, options) !== null) return false;
  if (options.boundToLoopback) return true;
  return options.remoteHostname !== undefined &&
    isLoopbackAddress(options.remoteHostname);
}

/** `host` and `port` with the scheme's default port made explicit. */
function effectivePort(authority: Authority, scheme: string): string {
  return authority.port === "" ? (DEFAULT_PORTS[scheme] ?? "") : authority.port;
}

function isSameOrigin(
  origin: Authority,
  originScheme: string,
  request: Request,
): boolean {
  const hostHeader = request.headers.get("host") ??
    splitUrl(request.url)?.authority;
  const host = hostHeader === undefined ? undefined : parseAuthority(hostHeader);
  if (!host || host.host !== origin.host) return false;
  // Behind the front the child sees http even when the client used https,
  // so compare ports as the client wrote them, defaulted by the origin's scheme.
  return effectivePort(host, originScheme) === effectivePort(origin, originScheme);
}

/**
 * Whether a page at `source` (an origin or a referrer) may use devsrv's own
 * endpoints: a host on the allow-list (any port), a loopback IP, or the very
 * origin the request was sent to. Other IPs fail: a site served from an IP
 * address is still a foreign site.
 */
function isTrustedSource(
  source: string,
  request: Request,
  options: GuardOptions,
): boolean {
  const url = splitUrl(source);
  if (!url || !(url.scheme in DEFAULT_PORTS)) return false;
  const authority = parseAuthority(url.authority);
  if (!authority) return false;
  if (authority.kind === "name") {
    return isAllowedName(authority.host, options.allowedHosts);
  }
  return isLoopbackAddress(authority.host) ||
    isSameOrigin(authority, url.scheme, request);
}

function isOriginForm(origin: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]+$/i.test(origin);
}

function originProblem(
  request: Request,
  options: GuardOptions,
): Response | null {
  const origin = request.headers.get("origin");
  if (origin === null) return null;
  if (origin.trim().toLowerCase() === "null") {
    return blocked(
      STATUS_FORBIDDEN,
      `Blocked request: devsrv's own endpoints do not answer pages with Origin "null" (sandboxed frames, file: pages)`,
    );
  }
  if (isOriginForm(origin) && isTrustedSource(origin, request, options)) {
    return null;
  }
  const host = parseAuthority(splitUrl(origin)?.authority ?? "");
  const allow = host?.kind === "name"
    ? `; if that site is yours, start devsrv with --allowed-host ${host.host}`
    : "";
  return blocked(
    STATUS_FORBIDDEN,
    `Blocked request: origin ${quote(origin)} may not use devsrv's own endpoints${allow}`,
  );
}

function fetchMetadataProblem(
  request: Request,
  options: GuardOptions,
): Response | null {
  const mode = request.headers.get("sec-fetch-mode")?.toLowerCase();
  const site = request.headers.get("sec-fetch-site")?.toLowerCase();
  const crossSiteInclude = mode === "no-cors" && site === "cross-site";
  // Browsers send Sec-Fetch-* only to trustworthy origins (https,
  // localhost); a <script> include of http://192.168.x.y carries at most a
  // Referer, so judge that instead.
  const referer = request.headers.get("referer");
  const foreignReferer = site === undefined && request.headers.get("origin") === null &&
    referer !== null && /^https?:/i.test(referer) &&
    !isTrustedSource(referer, request, options);
  if (!crossSiteInclude && !foreignReferer) return null;
  return blocked(
    STATUS_FORBIDDEN,
    "Blocked request: devsrv's own endpoints cannot be included from another site",
  );
}

/**
 * The extra checks for devsrv's own endpoints (`/__devsrv`, its events
 * stream and client script, and any upgrade on them): same origin only.
 * Includes {@linkcode guardRequest}'s Host check. devsrv never sends
 * `Access-Control-Allow-Origin`, so other sites cannot read the answers
 * either way; this stops them from triggering and embedding them.
 *
 * @param request The request for a `/__devsrv...` path.
 * @param options The `--allowed-host` names.
 * @returns `null` when the request may pass; otherwise the 400/403 response.
 *
 * @example A foreign page may not open devsrv's event stream
 * ```ts
 * import { guardDevsrvEndpoint } from "./request_guard.ts";
 *
 * const request = new Request("http://localhost:8000/__devsrv/events", {
 *   headers: { host: "localhost:8000", origin: "http://evil.example" },
 * });
 * if (guardDevsrvEndpoint(request, { allowedHosts: [] })?.status !== 403) throw new Error();
 * ```
 */
export function guardDevsrvEndpoint(
  request: Request,
  options: GuardOptions,
): Response | null {
  return guardRequest(request, options) ??
    originProblem(request, options) ??
    fetchMetadataProblem(request, options);
}

/**
 * Checks an `--allowed-host` value: a host name, optionally with a leading
 * `.` or `*.` for its subdomains. For the CLI, so that a typo such as
 * `http://dev.test` or `dev.test:8000` fails at start instead of never
 * matching.
 *
 * @param value The value as typed.
 * @returns `undefined` when it is fine, or what is wrong with it.
 *
 * @example
 * ```ts
 * import { allowedHostProblem } from "./request_guard.ts";
 *
 * if (allowedHostProblem(".dev.test") !== undefined) throw new Error();
 * if (allowedHostProblem("dev.test:8000") === undefined) throw new Error();
 * ```
 */
export function allowedHostProblem(value: string): string | undefined {
  const name = normalizeAllowedHost(value).replace(/^\./, "");
  // IP addresses are always accepted; naming one does no harm.
  if (name !== "" && isDnsName(name)) return undefined;
  if (parseAuthority(value.trim())?.kind === "ipv6") return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim())) {
    return "is a URL, not a host name";
  }
  if (value.includes(":")) return "has a port (names match on any port)";
  return "is not a host name";
}
