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
