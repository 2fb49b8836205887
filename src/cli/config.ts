/**
 * The options `devsrv serve` runs with, from every source in order of
 * precedence: flags, then the environment (`DEVSRV_*`, `PORT`, `HOST`),
 * then the `"devsrv"` section of the project's deno.json, then the
 * defaults; and `--print-config`, which shows where each value came from.
 *
 * @module
 */

import { relative, resolve } from "node:path";
import { eventlessMount, type Mount } from "../watch/mounts.ts";
import { envLayer, envNames, type ReadEnv } from "./environment.ts";
import { describeOrigin, type Layer, type ResolvedOptions, resolveLayers } from "./layers.ts";
import { DEFAULT_HOST, DEFAULT_PORT, type ServeOptions } from "../options.ts";
import { OPTION_SPECS, type SettableKey } from "./option_table.ts";
import {
  CONFIG_SECTION,
  configLayer,
  findProjectConfig,
  readConfigSection,
} from "./project_config.ts";

/** Where the options come from, besides the command line. */
export interface ConfigSources {
  /** The current directory: where deno.json is looked for, and relative paths start. */
  cwd: string;
  /** Reads an environment variable. */
  env: ReadEnv;
  /**
   * The project's deno.json or deno.jsonc; `undefined`: look for it from
   * `cwd` up; `null`: read none.
   */
  configFile?: string | null;
}

/** The options in effect, where each came from, and the file that was read. */
export interface ServeConfig extends ResolvedOptions {
  /** The configuration file found, if any. */
  configFile: string | undefined;
  /** Whether it has a `"devsrv"` section. */
  hasSection: boolean;
}

/**
 * Resolves the options of `devsrv serve`: the command line's over the
 * environment's over deno.json's over the defaults.
 *
 * @param command What the command line set, and the program's arguments.
 * @param sources The current directory and the environment.
 * @returns The options, their origins and the configuration file.
 * @throws {UsageError} For a bad variable, an unknown key or a bad value in
 * deno.json, each named with its fix.
 *
 * @example The environment over deno.json
 * ```ts
 * import { resolveServeOptions } from "./config.ts";
 *
 * const env: Record<string, string> = { DEVSRV_PORT: "3000" };
 * const config = resolveServeOptions(
 *   { flags: {}, args: [] },
 *   { cwd: "/app", env: (name) => env[name], configFile: null },
 * );
 * if (config.options.port !== 3000) throw new Error();
 * if (config.origins.port.kind !== "env") throw new Error();
 * ```
 */
export function resolveServeOptions(
  command: { flags: Layer; args: string[] },
  sources: ConfigSources,
): ServeConfig {
  const configFile = sources.configFile === null
    ? undefined
    : sources.configFile ?? findProjectConfig(sources.cwd);
  const section = configFile ? readConfigSection(configFile) : undefined;
  const fromEnv = envLayer(sources.env);
  const fromConfig = section && configFile ? configLayer(section, configFile) : {};
  const resolved = resolveLayers([command.flags, fromEnv, fromConfig], command.args);
  return { ...resolved, configFile, hasSection: section !== undefined };
}

/**
 * Finds the first watch root on a file system whose events do not arrive
 * (network and FUSE mounts, WSL's `/mnt/*`), and says so in one line.
 *
 * @param options The watch roots besides `cwd`, and the polling interval.
 * @param cwd The current directory, the first watch root.
 * @param mounts The mounts (`/proc/mounts`), or `undefined` where unknown.
 * @returns Why to poll (short, for `--print-config`) and the line to log,
 * or `undefined` when OS events will do.
 */
export function eventlessWatchRoot(
  options: Pick<ServeOptions, "watch" | "intervalMs">,
  cwd: string,
  mounts: Mount[] | undefined,
): { reason: string; line: string } | undefined {
  if (!mounts) return undefined;
  for (const root of [cwd, ...options.watch.map((path) => resolve(cwd, path))]) {
    const mount = eventlessMount(root, mounts);
    if (!mount) continue;
    const shown = relative(cwd, root) || ".";
    return {
      reason: `${shown} is on ${mount.type} (${mount.point})`,
      line:
        `${shown} is on a ${mount.type} file system (${mount.point}), where file events do not arrive · polling every ${options.intervalMs} ms (--no-poll to use them anyway)`,
    };
  }
  return undefined;
}

/**
 * Turns on polling when a watch root is on a file system whose events do
 * not arrive, unless polling was set either way or nothing is watched.
 *
 * @param config The resolved options; changed in place.
 * @param cwd The current directory, the first watch root.
 * @param mounts The mounts (`/proc/mounts`), or `undefined` where unknown.
 * @returns The line that says so, or `undefined` when nothing changed.
 */
export function pollWhereEventsFail(
  config: ServeConfig,
  cwd: string,
  mounts: Mount[] | undefined,
): string | undefined {
  const { options, origins } = config;
  if (!options.reload || origins.poll.kind !== "default") return undefined;
  const found = eventlessWatchRoot(options, cwd, mounts);
  if (!found) return undefined;
  options.poll = true;
  origins.poll = { kind: "auto", reason: found.reason };
  return found.line;
}

function showValue(key: SettableKey, value: unknown, cwd: string): string {
  if (value === undefined) {
    switch (key) {
      case "entry":
        return "(looked for in the current directory)";
      case "host":
        return `(the program's loopback address, else ${DEFAULT_HOST})`;
      case "port":
        return `(the program's, else ${DEFAULT_PORT})`;
      case "ext":
        return "(the defaults)";
      default:
        return "(none)";
    }
  }
  if (Array.isArray(value)) {
    return value.length === 0 ? "(none)" : value.map((item) => showPath(item, cwd)).join(", ");
  }
  return showPath(value, cwd);
}

function showPath(value: unknown, cwd: string): string {
  if (typeof value === "string" && value.startsWith("/")) return relative(cwd, value) || ".";
  return String(value);
}

/**
 * The text of `--print-config`: every option, its value, and where the
 * value came from.
 *
 * @param config The resolved options.
 * @param cwd Paths are shown relative to it.
 * @returns The text, ending with a newline.
 */
export function formatConfig(config: ServeConfig, cwd: string): string {
  const file = config.configFile
    ? `${describeOrigin({ kind: "config", file: config.configFile }, cwd)}${
      config.hasSection ? "" : ` (no "${CONFIG_SECTION}" section)`
    }`
    : `none (no deno.json or deno.jsonc from ${cwd} up)`;
  const rows = OPTION_SPECS.map((spec) => [
    spec.name,
    showValue(spec.key, config.options[spec.key], cwd),
    describeOrigin(config.origins[spec.key], cwd),
    envNames(spec.name).join(", "),
  ]);
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map((row) =>
    `  ${row.slice(0, 3).map((cell, i) => cell.padEnd(widths[i]!)).join("  ")}  ${row[3]}`
  );
  return [
    "devsrv serve options: flags, then environment, then deno.json, then defaults",
    `configuration file: ${file}`,
    "",
    `  ${
      ["option", "value", "from"].map((cell, i) => cell.padEnd(widths[i]!)).join("  ")
    }  variables`,
    ...lines.map((line) => line.trimEnd()),
    "",
  ].join("\n");
}
