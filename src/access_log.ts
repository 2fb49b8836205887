/**
 * One access line per request: client, method, path, status, duration.
 *
 * @module
 */

/** What an access line says. */
export interface AccessRecord {
  client: string;
  method: string;
  target: string;
  status: number;
  ms: number;
}

/**
 * Formats an access line the way devsrv prints it.
 *
 * @param record The request and its outcome.
 * @returns E.g. `127.0.0.1 GET / 200 2.1 ms`.
 *
 * @example Format a line
 * ```ts
 * import { formatAccessLine } from "./access_log.ts";
 *
 * const line = formatAccessLine({ client: "127.0.0.1", method: "GET", target: "/", status: 200, ms: 2.14 });
 * if (line !== "127.0.0.1 GET / 200 2.1 ms") throw new Error(line);
 * ```
 */
export function formatAccessLine(record: AccessRecord): string {
  // Control characters in a hostile target must not reach the terminal.
  // deno-lint-ignore no-control-regex
  const target = record.target.replace(/[\x00-\x1f\x7f]/g, "?");
  return `${record.client} ${record.method} ${target} ${record.status} ${record.ms.toFixed(1)} ms`;
}
