/**
 * What a bound address means to a person: the URLs to click, whether it is
 * reachable from other machines, and a clear message when it cannot be
 * bound.
 *
 * @module
 */

import { DevsrvError, firstLine } from "../errors.ts";
import { isLoopbackHost } from "../security/authority.ts";

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Lists the URLs a person can open for a bound address.
 *
 * @param host The bound interface.
 * @param port The bound port.
 * @param tls Whether it serves HTTPS.
 * @returns The URLs, the loopback one first.
 */
export function reachableUrls(
  host: string,
  port: number,
  tls: boolean,
): string[] {
  const scheme = tls ? "https" : "http";
  if (!isWildcard(host)) return [`${scheme}://${hostForUrl(host)}:${port}`];
  const urls = [`${scheme}://127.0.0.1:${port}`];
  let interfaces: Deno.NetworkInterfaceInfo[];
  try {
    interfaces = Deno.networkInterfaces();
  } catch {
    // Any error: without --allow-sys (NotCapable), or where a sandbox refuses
    // the listing, the other addresses are only extra; the warning still stands.
    return urls;
  }
  for (const net of interfaces) {
    const v6 = net.family === "IPv6";
    if (isLoopbackHost(net.address) || (v6 && host === "0.0.0.0")) continue;
    if (v6 && net.address.startsWith("fe80")) continue;
    urls.push(`${scheme}://${hostForUrl(net.address)}:${port}`);
  }
  return urls;
}

/**
 * Turns an error from binding the public address into a one-line problem
 * with its fix.
 *
 * @param error What `Deno.serve` or `Deno.listen` threw.
 * @param host The interface asked for.
 * @param port The port asked for.
 * @returns A {@linkcode DevsrvError}.
 */
export function bindError(
  error: unknown,
  host: string,
  port: number,
): DevsrvError {
  const where = `${hostForUrl(host)}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new DevsrvError(
      `port ${port} is already in use on ${host}`,
      `stop the other server or pick another port, e.g. "--port ${
        port === 65535 ? 8001 : port + 1
      }" (or "--port 0" for any free port)`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new DevsrvError(
      `not allowed to listen on ${where}`,
      port < 1024
        ? "ports below 1024 need privileges; use --port 8000"
        : "run with --allow-net (or -A)",
    );
  }
  return new DevsrvError(
    `cannot listen on ${where}: ${firstLine(error)}`,
    'give an address of this machine, e.g. "--host 127.0.0.1"',
  );
}

/**
 * Checks, before any process starts, that an interface can be bound: a
 * name that does not resolve or an address of another machine fails here
 * with one line, not later inside a child.
 *
 * @param host The `--host` (or `HOST`, or deno.json) value.
 * @throws {DevsrvError} When no port can be bound on it.
 */
export function checkHostBindable(host: string): void {
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: host, port: 0 });
  } catch (error) {
    // A permission is asked for, and reported, where the port is bound.
    if (error instanceof Deno.errors.NotCapable) return;
    // Any other failure (a name that does not resolve is a plain Error,
    // AddrNotAvailable for another machine's address) means no server can
    // listen there.
    throw new DevsrvError(
      `cannot listen on ${host}: ${firstLine(error)}`,
      'give an address of this machine, e.g. "--host 127.0.0.1"',
    );
  }
  listener.close();
}
