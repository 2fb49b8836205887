/**
 * Every option of `devsrv serve` in one table: its long flag name (which is
 * also its key in deno.json's `"devsrv"` section and, upper-cased, its
 * `DEVSRV_*` variable), the {@linkcode ServeOptions} field it sets, and how
 * a value is read and checked. The command line, the environment and
 * deno.json all read values through here, so a value means the same
 * wherever it is written, and a bad one is named where it was written.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { allowedHostProblem } from "../security/request_guard.ts";
import type { ServeOptions } from "../options.ts";

/** The fields of {@linkcode ServeOptions} that a person sets (the program's arguments are not). */
export type SettableKey = Exclude<keyof ServeOptions, "args">;

/** How a value is written: a switch, a whole number, one text, or several texts. */
export type OptionKind = "boolean" | "integer" | "string" | "list";

/**
 * Where a value was written, for messages: the flag, the variable, or the
 * key and its file.
 */
export interface Where {
  /** The name a fix tells a person to set: `--port`, `DEVSRV_PORT`, `"port"`. */
  readonly name: string;
  /**
   * Shows a value as it was written there.
   *
   * @param value The value, already quoted where it is text.
   * @returns E.g. `--port "x"`, `DEVSRV_PORT="x"`, `"port": "x" in /app/deno.json`.
   */
  show(value: string): string;
}

/** One option of `devsrv serve`. */
export interface OptionSpec {
  /** The long flag name, e.g. `"port"` or `"live-reload"`. */
  readonly name: string;
  /** The field it sets. */
  readonly key: SettableKey;
  /** How its value is written. */
  readonly kind: OptionKind;
  /** Its one-letter flag, if any. */
  readonly short?: string;
  /** Smallest and largest value of an integer option. */
  readonly range?: readonly [number, number];
  /** The value is a path (or paths): in deno.json, relative to the file's folder. */
  readonly path?: boolean;
  /** `false` for the ENTRY, which the command line gives as an argument, not a flag. */
  readonly flag?: boolean;
  /** Extra variables that set it, after `DEVSRV_<NAME>`, e.g. `PORT`. */
  readonly aliases?: readonly string[];
  /**
   * Checks one text value (of a list: each item) and returns it normalised.
   * @throws {UsageError} When the value is not acceptable.
   */
  readonly check?: (value: string, where: Where) => string;
  /**
   * Turns a list's items into the option's value (e.g. splits `ts,html`).
   * @throws {UsageError} When nothing acceptable is left.
   */
  readonly finish?: (values: string[], where: Where) => string[];
}

function checkHost(host: string, where: Where): string {
  const trimmed = host.trim();
  if (trimmed === "" || /[\s/]/.test(trimmed)) {
    throw new UsageError(
      `${where.show(JSON.stringify(host))} is not a host name or address`,
      `give ${where.name} an interface such as 127.0.0.1 or 0.0.0.0`,
    );
  }
  // `localhost:3000`, `[::1]:3000`: a port given with the host.
  const withPort = trimmed.match(/^(\[[^\]]*\]|[^:]*):(\d+)$/);
  if (withPort) {
    throw new UsageError(
      `${where.show(JSON.stringify(host))} has a port in it`,
      `give the host alone and the port with --port, e.g. --host ${withPort[1]} --port ${
        withPort[2]
      }`,
    );
  }
  return trimmed.replace(/^\[(.*)\]$/, "$1");
}

function checkAllowedHost(value: string, where: Where): string {
  const problem = allowedHostProblem(value);
  if (problem) {
    throw new UsageError(
      `${where.show(JSON.stringify(value))} ${problem}`,
      `give ${where.name} a name such as dev.test, or .dev.test for its subdomains too`,
    );
  }
  return value;
}

/**
 * Checks a `--cors` value: `*`, or an origin as a browser sends it in
 * `Origin` (scheme, host and port; no path).
 *
 * @param value The value as written.
 * @param where Where it was written.
 * @returns The origin, lower-cased, without a default port.
 * @throws {UsageError} When it is not an origin.
 */
export function checkCorsOrigin(value: string, where: Where): string {
  const text = value.trim();
  if (text === "*") return text;
  const url = URL.canParse(text) ? new URL(text) : undefined;
  const plain = url !== undefined && (url.protocol === "http:" || url.protocol === "https:") &&
    url.username === "" && url.password === "" && url.search === "" && url.hash === "" &&
    url.pathname === "/" && !/\/[^/]/.test(text.replace(/^[a-z]+:\/\//i, ""));
  if (!plain) {
    throw new UsageError(
      `${where.show(JSON.stringify(value))} is not an origin`,
      `give ${where.name} an origin such as http://localhost:5173 (scheme, host and port, no path), or "*" for any`,
    );
  }
  return url.origin;
}

function splitExtensions(values: string[], where: Where): string[] {
  const extensions = values.flatMap((value) => value.split(","))
    .map((ext) => ext.trim().replace(/^\./, "").toLowerCase())
    .filter((ext) => ext !== "");
  if (extensions.length === 0) {
    throw new UsageError(
      `${where.name} is empty`,
      `give ${where.name} extensions like ts,html,css`,
    );
  }
  return extensions;
}

/** Every option, in the order help and `--print-config` show them. */
export const OPTION_SPECS: readonly OptionSpec[] = [
  { name: "app", key: "entry", kind: "string", path: true, flag: false },
  { name: "host", key: "host", kind: "string", aliases: ["HOST"], check: checkHost },
  { name: "port", key: "port", kind: "integer", short: "p", range: [0, 65535], aliases: ["PORT"] },
  { name: "reload", key: "reload", kind: "boolean" },
  { name: "quiet", key: "quiet", kind: "boolean", short: "q" },
  { name: "verbose", key: "verbose", kind: "boolean", short: "v" },
  { name: "watch", key: "watch", kind: "list", path: true },
  { name: "ext", key: "ext", kind: "list", finish: splitExtensions },
  { name: "ignore", key: "ignore", kind: "list" },
  { name: "gitignore", key: "gitignore", kind: "boolean" },
  { name: "debounce", key: "debounceMs", kind: "integer", range: [0, 10_000] },
  { name: "poll", key: "poll", kind: "boolean" },
  { name: "interval", key: "intervalMs", kind: "integer", range: [10, 60_000] },
  { name: "grace", key: "graceMs", kind: "integer", range: [0, 600_000] },
  { name: "head-start", key: "headStart", kind: "boolean" },
  { name: "dotfiles", key: "dotfiles", kind: "boolean" },
  { name: "cors", key: "cors", kind: "list", check: checkCorsOrigin },
  { name: "live-reload", key: "liveReload", kind: "boolean" },
  { name: "open", key: "open", kind: "boolean" },
  { name: "allowed-host", key: "allowedHosts", kind: "list", check: checkAllowedHost },
  { name: "cert", key: "cert", kind: "string", path: true },
  { name: "key", key: "key", kind: "string", path: true },
];

/**
 * The variable that sets an option: `DEVSRV_` and its name, upper-cased,
 * with `_` for `-`.
 *
 * @param spec The option.
 * @returns E.g. `DEVSRV_LIVE_RELOAD`.
 */
export function envName(spec: OptionSpec): string {
  return `DEVSRV_${spec.name.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * Parses a whole number and checks its range.
 *
 * @param text The value as written.
 * @param min Smallest accepted value.
 * @param max Largest accepted value.
 * @param where Where it was written.
 * @returns The number.
 * @throws {UsageError} When the value is not a whole number in range.
 *
 * @example Read a port from the environment
 * ```ts
 * import { parseInteger } from "./option_table.ts";
 *
 * const where = { name: "PORT", show: (value: string) => `PORT=${value}` };
 * if (parseInteger("3000", 0, 65535, where) !== 3000) throw new Error();
 * ```
 */
export function parseInteger(text: string, min: number, max: number, where: Where): number {
  // A negative whole number is one, only out of range.
  const value = /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(
      `${where.show(JSON.stringify(text))} is not a whole number`,
      `give ${where.name} a number from ${min} to ${max}`,
    );
  }
  return checkRange(value, min, max, where);
}

function checkRange(value: number, min: number, max: number, where: Where): number {
  if (value < min || value > max) {
    throw new UsageError(
      `${where.show(String(value))} is out of range`,
      `give ${where.name} a number from ${min} to ${max}`,
    );
  }
  return value;
}

/**
 * Reads an option's value from text: a flag's value (a list's several
 * values), or a variable's (a list's items separated by commas).
 *
 * @param spec The option.
 * @param values The texts; a boolean from a variable is one text.
 * @param where Where they were written.
 * @returns The value for the option's field.
 * @throws {UsageError} When a value cannot be read.
 */
export function valueFromText(
  spec: OptionSpec,
  values: string[],
  where: Where,
): ServeOptions[SettableKey] {
  const text = values[0] ?? "";
  switch (spec.kind) {
    case "boolean":
      return booleanFromText(text, where);
    case "integer":
      return parseInteger(text, spec.range![0], spec.range![1], where);
    case "string":
      return spec.check ? spec.check(text, where) : text;
    case "list":
      return listValue(spec, values, where);
  }
}

const TRUE_WORDS = /^(1|true|yes|on)$/i;
const FALSE_WORDS = /^(0|false|no|off)$/i;

function booleanFromText(text: string, where: Where): boolean {
  if (TRUE_WORDS.test(text.trim())) return true;
  if (FALSE_WORDS.test(text.trim())) return false;
  throw new UsageError(
    `${where.show(JSON.stringify(text))} is neither on nor off`,
    `set ${where.name} to 1 (or true, yes, on) or 0 (or false, no, off)`,
  );
}

function listValue(spec: OptionSpec, values: string[], where: Where): string[] {
  const checked = values.map((value) => spec.check ? spec.check(value, where) : value);
  return spec.finish ? spec.finish(checked, where) : checked;
}

/**
 * Reads an option's value from JSON (deno.json's `"devsrv"` section):
 * `true`/`false`, a number, a string, or for a list a string or an array
 * of strings.
 *
 * @param spec The option.
 * @param value The JSON value.
 * @param where Where it was written.
 * @returns The value for the option's field.
 * @throws {UsageError} When the value has the wrong type or cannot be read.
 */
export function valueFromJson(
  spec: OptionSpec,
  value: unknown,
  where: Where,
): ServeOptions[SettableKey] {
  const shown = JSON.stringify(value) ?? String(value);
  switch (spec.kind) {
    case "boolean":
      if (typeof value === "boolean") return value;
      throw new UsageError(
        `${where.show(shown)} is not true or false`,
        `write ${where.name}: true or ${where.name}: false`,
      );
    case "integer": {
      const [min, max] = spec.range!;
      if (typeof value === "number" && Number.isSafeInteger(value)) {
        return checkRange(value, min, max, where);
      }
      const quoted = typeof value === "string" && /^\d+$/.test(value.trim());
      throw new UsageError(
        `${where.show(shown)} is not a whole number`,
        quoted
          ? `write the number without quotes: ${where.name}: ${value.trim()}`
          : `give ${where.name} a number from ${min} to ${max}`,
      );
    }
    case "string":
      if (typeof value === "string") return spec.check ? spec.check(value, where) : value;
      throw new UsageError(
        `${where.show(shown)} is not a string`,
        `write it in quotes, e.g. ${where.name}: "${exampleText(spec)}"`,
      );
    case "list": {
      const items = typeof value === "string" ? [value] : value;
      if (Array.isArray(items) && items.every((item) => typeof item === "string")) {
        return listValue(spec, items, where);
      }
      throw new UsageError(
        `${where.show(shown)} is not a string or a list of strings`,
        `write e.g. ${where.name}: ["${exampleText(spec)}"]`,
      );
    }
  }
}

const EXAMPLES: Partial<Record<string, string>> = {
  app: "main.ts",
  host: "127.0.0.1",
  watch: "../shared",
  ext: "ts",
  ignore: "data/**",
  cors: "http://localhost:5173",
  "allowed-host": "dev.test",
  cert: "cert.pem",
  key: "key.pem",
};

function exampleText(spec: OptionSpec): string {
  return EXAMPLES[spec.name] ?? "...";
}
