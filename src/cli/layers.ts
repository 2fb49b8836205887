/**
 * Option values from several sources, and how they combine: the first
 * source that sets an option wins (flags, then the environment, then
 * deno.json), else the default. Every value remembers where it came from,
 * for `--print-config` and for messages.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { defaultServeOptions, type ServeOptions } from "../options.ts";
import type { SettableKey } from "./option_table.ts";

/** Where a value came from. */
export type Origin =
  /** The command line: a flag such as `--port`, or `ENTRY`. */
  | { kind: "flag"; name: string }
  /** An environment variable such as `DEVSRV_PORT` or `PORT`. */
  | { kind: "env"; name: string }
  /** The `"devsrv"` section of a deno.json, by its absolute path. */
  | { kind: "config"; file: string }
  /** Decided by devsrv, with the reason (polling on a network mount). */
  | { kind: "auto"; reason: string }
  /** Nothing set it. */
  | { kind: "default" };

/** One option's value and where it came from. */
export interface Setting {
  /** The value, of the type of the option's field. */
  value: ServeOptions[SettableKey];
  /** Where it came from. */
  origin: Origin;
}

/** The options one source sets. */
export type Layer = Partial<Record<SettableKey, Setting>>;

/** The options in effect, and where each came from. */
export interface ResolvedOptions {
  /** The options. */
  options: ServeOptions;
  /** Where each option's value came from. */
  origins: Record<SettableKey, Origin>;
}

/**
 * Sets one option in a layer.
 *
 * @param layer The layer.
 * @param key The option's field.
 * @param value Its value.
 * @param origin Where it came from.
 */
export function setLayer(
  layer: Layer,
  key: SettableKey,
  value: ServeOptions[SettableKey],
  origin: Origin,
): void {
  layer[key] = { value, origin };
}

/**
 * Combines layers, the first one that sets an option winning, over the
 * defaults; then checks what only the whole can tell (`cert` needs `key`).
 *
 * @param layers The sources, highest precedence first.
 * @param args The program's own arguments (what follows `--`).
 * @returns The options and their origins.
 * @throws {UsageError} When `cert` or `key` is set without the other.
 *
 * @example Flags over the environment
 * ```ts
 * import { resolveLayers } from "./layers.ts";
 *
 * const { options, origins } = resolveLayers([
 *   { port: { value: 3000, origin: { kind: "flag", name: "--port" } } },
 *   { port: { value: 4000, origin: { kind: "env", name: "PORT" } } },
 * ], []);
 * if (options.port !== 3000 || origins.port.kind !== "flag") throw new Error();
 * if (origins.host.kind !== "default") throw new Error();
 * ```
 */
export function resolveLayers(layers: Layer[], args: string[]): ResolvedOptions {
  const options = defaultServeOptions();
  const origins = {} as Record<SettableKey, Origin>;
  for (const key of Object.keys(options) as (keyof ServeOptions)[]) {
    if (key === "args") continue;
    const setting = layers.map((layer) => layer[key]).find((setting) => setting !== undefined);
    origins[key] = setting?.origin ?? { kind: "default" };
    if (setting) (options as unknown as Record<string, unknown>)[key] = setting.value;
  }
  options.args = args;
  if ((options.cert === undefined) !== (options.key === undefined)) {
    const [given, missing] = options.cert === undefined
      ? ["key", "cert"] as const
      : ["cert", "key"] as const;
    const origin = origins[given];
    throw new UsageError(
      `${nameAt(origin, given, true)} was given without ${nameAt(origin, missing, false)}`,
      "HTTPS needs both: --cert cert.pem --key key.pem",
    );
  }
  return { options, origins };
}

/**
 * Names an option as a source spells it: `--cert`, `DEVSRV_CERT`, or
 * `"cert"` (with its file when `withFile`).
 */
function nameAt(origin: Origin, name: string, withFile: boolean): string {
  switch (origin.kind) {
    case "env":
      return `DEVSRV_${name.toUpperCase()}`;
    case "config":
      return withFile ? `"${name}" in ${origin.file}` : `"${name}"`;
    default:
      return `--${name}`;
  }
}

/**
 * Says where a value came from, for `--print-config`.
 *
 * @param origin The origin.
 * @param cwd Files are shown relative to it when inside it.
 * @returns E.g. `--port`, `env PORT`, `deno.json`, `default`.
 */
export function describeOrigin(origin: Origin, cwd: string): string {
  switch (origin.kind) {
    case "flag":
      return origin.name;
    case "env":
      return `env ${origin.name}`;
    case "config":
      return origin.file.startsWith(`${cwd}/`) ? origin.file.slice(cwd.length + 1) : origin.file;
    case "auto":
      return `auto: ${origin.reason}`;
    case "default":
      return "default";
  }
}
