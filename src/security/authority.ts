/**
 * Hosts and addresses, read once and strictly: `host[:port]` as sent in
 * `Host`, `Origin` or `Referer` ({@linkcode parseAuthority}), and whether a
 * host or an address stays on this machine ({@linkcode isLoopbackHost},
 * {@linkcode isLoopbackAddress}). The request guard judges requests with
 * them; the banner, the details policy and the public address ask the same
 * questions of `--host` and of what a program asks for.
 *
 * Nothing here throws, whatever the text holds.
 *
 * @module
 */

/** A host and port as sent in `Host`, `Origin` or `Referer`. */
export interface Authority {
  /** Lower case, without a trailing dot or IPv6 brackets. */
  host: string;
  /** The digits after the colon; `""` when there is no port. */
  port: string;
  /** A DNS name, a dotted-decimal IPv4 address, or an IPv6 address. */
  kind: "name" | "ipv4" | "ipv6";
}

const MAX_PORT = 65535;
const MAX_NAME_LENGTH = 253;
const IPV6_GROUPS = 8;
/** `::ffff:a.b.c.d`: five zero groups, then 0xffff, then the IPv4 address. */
const MAPPED_PREFIX_GROUPS = 5;
const MAPPED_MARKER = 0xffff;
const LOOPBACK_FIRST_OCTET = 127;

/** A dotted-decimal IPv4 address, each octet from 0 to 255. */
export const IPV4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const HEX_GROUP = /^[0-9a-f]{1,4}$/;
const PORT = /^\d{1,5}$/;
/** `scheme://authority` at the start of an origin, a referrer or a request URL. */
const URL_AUTHORITY = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i;

/**
 * Tells whether a lower-case host is a DNS name: dot-separated labels of
 * letters, digits, `-` and `_`, 253 characters at most.
 *
 * @param host The host, lower case, without a trailing dot.
 * @returns `true` for a name.
 */
export function isDnsName(host: string): boolean {
  return host.length <= MAX_NAME_LENGTH &&
    host.split(".").every((label) => LABEL.test(label));
}

/** The eight 16-bit groups of an IPv6 address, or `undefined` if it is not one. */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parts = halves.map((half) => half === "" ? [] : half.split(":"));
  const tail = parts.at(-1)!;
  const last = tail.at(-1);
  if (last !== undefined && last.includes(".")) {
    if (!IPV4.test(last)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = last.split(".").map(Number);
    tail.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const [head = [], rest = []] = parts;
  const written = [...head, ...rest];
  if (!written.every((group) => HEX_GROUP.test(group))) return undefined;
  const missing = IPV6_GROUPS - written.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const zeros = halves.length === 2 ? Array<string>(missing).fill("0") : [];
  return [...head, ...zeros, ...rest].map((group) => parseInt(group, 16));
}

function isIpv6(text: string): boolean {
  return ipv6Groups(text) !== undefined;
}

function isPort(text: string): boolean {
  if (!PORT.test(text)) return false;
  const port = Number(text);
  return port >= 1 && port <= MAX_PORT;
}

function splitPort(text: string): [string, string] | undefined {
  const colon = text.indexOf(":");
  if (colon < 0) return [text, ""];
  const port = text.slice(colon + 1);
  return isPort(port) ? [text.slice(0, colon), port] : undefined;
}

function parseBracketed(text: string): Authority | undefined {
  const close = text.indexOf("]");
  if (close < 0) return undefined;
  const host = text.slice(1, close).toLowerCase();
  const rest = text.slice(close + 1);
  if (!isIpv6(host)) return undefined;
  if (rest === "") return { host, port: "", kind: "ipv6" };
  const port = rest.slice(1);
  return rest.startsWith(":") && isPort(port) ? { host, port, kind: "ipv6" } : undefined;
}

/**
 * Parses `host[:port]` strictly: a DNS name, a dotted-decimal IPv4 address
 * or a bracketed IPv6 address, and an optional port from 1 to 65535.
 * Userinfo, spaces, commas, percent signs and everything else fail.
 *
 * @param text The authority as sent in `Host`, `Origin` or `Referer`.
 * @returns The host (lower case, no trailing dot, no brackets), its port
 *   and its kind; `undefined` when it is not one.
 *
 * @example
 * ```ts
 * import { parseAuthority } from "./authority.ts";
 *
 * const parsed = parseAuthority("LocalHost.:8000");
 * if (parsed?.host !== "localhost" || parsed.port !== "8000") throw new Error();
 * if (parseAuthority("[::1]")?.kind !== "ipv6") throw new Error();
 * if (parseAuthority("evil.example@localhost") !== undefined) throw new Error();
 * ```
 */
export function parseAuthority(text: string): Authority | undefined {
  if (text.startsWith("[")) return parseBracketed(text);
  const split = splitPort(text);
  if (!split) return undefined;
  const [raw, port] = split;
  const lower = raw.toLowerCase();
  // One trailing dot names the same host (the DNS root): `localhost.`.
  const host = lower.endsWith(".") ? lower.slice(0, -1) : lower;
  if (IPV4.test(host)) return { host, port, kind: "ipv4" };
  return isDnsName(host) ? { host, port, kind: "name" } : undefined;
}

/**
 * The `scheme` and `authority` of an absolute URL, read without a URL
 * parser (which would read `Host: evil.example@localhost` as `localhost`).
 *
 * @param url An origin, a referrer, a request URL or target.
 * @returns Both, the scheme in lower case; `undefined` for anything that
 *   does not start with `scheme://`.
 */
export function splitUrl(url: string): { scheme: string; authority: string } | undefined {
  const match = URL_AUTHORITY.exec(url);
  if (!match) return undefined;
  return { scheme: match[1]!.toLowerCase(), authority: match[2]! };
}

function isLoopbackIpv4(address: string): boolean {
  return IPV4.test(address) && address.startsWith("127.");
}

/**
 * Tells whether an IP address (as `Deno.NetAddr.hostname` gives it, or
 * from a `Host`/`Origin`) is a loopback address: 127.0.0.0/8, `::1`, and
 * both forms of IPv4-mapped 127.x addresses.
 *
 * @param address An IP address, IPv6 with or without brackets.
 * @returns `true` for loopback addresses; `false` for names and anything else.
 *
 * @example Recognise loopback clients
 * ```ts
 * import { isLoopbackAddress } from "./authority.ts";
 *
 * if (!isLoopbackAddress("127.0.0.1") || !isLoopbackAddress("::ffff:127.0.0.1")) throw new Error();
 * if (isLoopbackAddress("192.168.1.5") || isLoopbackAddress("localhost")) throw new Error();
 * ```
 */
export function isLoopbackAddress(address: string): boolean {
  const bare = address.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (isLoopbackIpv4(bare)) return true;
  const groups = ipv6Groups(bare);
  if (!groups) return false;
  const zeroPrefix = (n: number) => groups.slice(0, n).every((group) => group === 0);
  const isLoopbackV6 = zeroPrefix(IPV6_GROUPS - 1) && groups[IPV6_GROUPS - 1] === 1;
  const isMappedLoopback = zeroPrefix(MAPPED_PREFIX_GROUPS) &&
    groups[MAPPED_PREFIX_GROUPS] === MAPPED_MARKER &&
    groups[MAPPED_PREFIX_GROUPS + 1]! >> 8 === LOOPBACK_FIRST_OCTET;
  return isLoopbackV6 || isMappedLoopback;
}

/**
 * Tells whether a host (a name or an IP literal, as `--host` or a program
 * gives it) stays on this machine.
 *
 * @param host A host name or an IP address, IPv6 with or without brackets.
 * @returns `true` for `localhost` and every loopback address
 *   ({@linkcode isLoopbackAddress}).
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "./authority.ts";
 *
 * if (!isLoopbackHost("localhost") || !isLoopbackHost("[::1]")) throw new Error();
 * if (!isLoopbackHost("::ffff:127.0.0.1")) throw new Error();
 * if (isLoopbackHost("0.0.0.0") || isLoopbackHost("dev.test")) throw new Error();
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return bare === "localhost" || isLoopbackAddress(bare);
}
