/**
 * The "Running on" lines, and the warning when the server is reachable from
 * other machines.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { isLoopbackHost } from "../security/authority.ts";
import { reachableUrls } from "./address.ts";

/**
 * Prints where the server can be reached.
 *
 * @param log The logger.
 * @param host The bound interface.
 * @param port The bound port.
 * @param tls Whether it serves HTTPS.
 * @returns The URLs printed, the one to open first.
 */
export function printRunning(
  log: Logger,
  host: string,
  port: number,
  tls: boolean,
): string[] {
  const urls = reachableUrls(host, port, tls);
  log.info(`Running on ${urls[0]} (CTRL+C to quit)`);
  for (const url of urls.slice(1)) log.info(`Running on ${url}`);
  if (!isLoopbackHost(host)) {
    log.warn(
      `WARNING: host ${host} makes this development server reachable from other machines; do not use it in production`,
    );
  }
  return urls;
}
