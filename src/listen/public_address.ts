/**
 * Where a server that a program starts is served to the world: the public
 * address, decided from what the program asked for and what the person
 * said on the command line. The reloader's parent binds it; the child tells
 * the program about it (`server.addr`, `onListen`, `server.address()`), so
 * both sides decide with this one function.
 *
 * The rules: `--port` for the first server, else the port the program asked
 * for, else Deno's default (8000). `--host` if given; else the host the
 * program asked for when it is a loopback address, else `127.0.0.1`: a
 * program that asks for `0.0.0.0` does not widen exposure by itself.
 *
 * @module
 */

import { DEFAULT_HOST, DEFAULT_PORT } from "../options.ts";
import { isLoopbackHost } from "../security/authority.ts";

/** What a program asked for when it started a server. */
export interface RequestedAddress {
  /** The host name or address; `undefined` when it named none. */
  hostname: string | undefined;
  /** The port; `undefined` for the runtime's default, 0 for any free port. */
  port: number | undefined;
}

/** What the person said about the public address. */
export interface AddressOverrides {
  /** `--host`, when given. */
  host: string | undefined;
  /** `--port`, when given: it applies to the first server only. */
  port: number | undefined;
}

/**
 * Chooses the public host for a server.
 *
 * @param requested What the program asked for.
 * @param overrides `--host` and `--port`.
 * @returns The interface the parent binds.
 *
 * @example A program asking for every interface gets loopback
 * ```ts
 * import { publicHost } from "./public_address.ts";
 *
 * const none = { host: undefined, port: undefined };
 * if (publicHost({ hostname: "0.0.0.0", port: 8000 }, none) !== "127.0.0.1") throw new Error();
 * if (publicHost({ hostname: "::1", port: 8000 }, none) !== "::1") throw new Error();
 * ```
 */
export function publicHost(requested: RequestedAddress, overrides: AddressOverrides): string {
  if (overrides.host !== undefined) return overrides.host;
  const asked = requested.hostname?.replace(/^\[(.*)\]$/, "$1");
  if (!asked || !isLoopbackHost(asked)) return DEFAULT_HOST;
  // Deno and Node bind "localhost" as 127.0.0.1, and report that address.
  return asked.toLowerCase() === "localhost" ? DEFAULT_HOST : asked;
}

/**
 * Chooses the public port for the server with the given index, when none is
 * bound for it yet.
 *
 * @param index The server's index: 0 for the first the program starts.
 * @param requested What the program asked for.
 * @param overrides `--host` and `--port`.
 * @returns The port; 0 when the program asked for any free port.
 *
 * @example `--port` wins for the first server only
 * ```ts
 * import { publicPort } from "./public_address.ts";
 *
 * const overrides = { host: undefined, port: 9000 };
 * if (publicPort(0, { hostname: undefined, port: 3000 }, overrides) !== 9000) throw new Error();
 * if (publicPort(1, { hostname: undefined, port: 3001 }, overrides) !== 3001) throw new Error();
 * if (publicPort(1, { hostname: undefined, port: undefined }, overrides) !== 8000) throw new Error();
 * ```
 */
export function publicPort(
  index: number,
  requested: RequestedAddress,
  overrides: AddressOverrides,
): number {
  if (index === 0 && overrides.port !== undefined) return overrides.port;
  return requested.port ?? DEFAULT_PORT;
}

/**
 * Tells whether a program asked for more exposure than it gets: an address
 * beyond loopback while `--host` was not given.
 *
 * @param requested What the program asked for.
 * @param overrides `--host` and `--port`.
 * @returns The host it asked for, when it is narrowed; else `undefined`.
 */
export function narrowedHost(
  requested: RequestedAddress,
  overrides: AddressOverrides,
): string | undefined {
  const asked = requested.hostname?.replace(/^\[(.*)\]$/, "$1");
  if (overrides.host !== undefined || asked === undefined || isLoopbackHost(asked)) {
    return undefined;
  }
  return requested.hostname;
}

/**
 * Formats a host and port for a URL, with brackets around IPv6 addresses.
 *
 * @param hostname A host name or IP address.
 * @param port A port.
 * @returns `host:port` or `[v6]:port`.
 */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
