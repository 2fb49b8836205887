/**
 * The project's configuration: the `"devsrv"` section of the nearest
 * `deno.json` or `deno.jsonc`, from the current directory up, as Deno finds
 * its own. The section takes every `serve` option by its long flag name:
 *
 * ```jsonc
 * { "devsrv": { "port": 3000, "watch": ["../shared"], "ignore": ["data/**"], "poll": false } }
 * ```
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { editDistance } from "./edit_distance.ts";
import { parseJsonc } from "./_jsonc.ts";
import { type Layer, type Origin, setLayer } from "./layers.ts";
import { OPTION_SPECS, type OptionSpec, valueFromJson, type Where } from "./option_table.ts";

/** The key of devsrv's section in deno.json. */
export const CONFIG_SECTION = "devsrv";

/** Deno's configuration file names, in the order Deno prefers them. */
const CONFIG_NAMES = ["deno.json", "deno.jsonc"] as const;

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory ||
      // A folder above the project that this user may not search: Deno cannot read it either.
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
    ) {
      return false;
    }
    throw error;
  }
}

/**
 * Finds the project's configuration file: the nearest `deno.json` or
 * `deno.jsonc` in `cwd` or a folder above it.
 *
 * @param cwd Where to start, an absolute path.
 * @returns The file's absolute path, or `undefined` when there is none.
 */
export function findProjectConfig(cwd: string): string | undefined {
  let dir = resolve(cwd);
  while (true) {
    for (const name of CONFIG_NAMES) {
      const path = join(dir, name);
      if (isFile(path)) return path;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Reads the `"devsrv"` section of a configuration file.
 *
 * @param file The file's absolute path.
 * @returns The section, or `undefined` when the file has none.
 * @throws {UsageError} When the file is not JSON(C), or the section is not an object.
 */
export function readConfigSection(file: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = parseJsonc(Deno.readTextFileSync(file));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new UsageError(
      `${file} is not valid JSON: ${error.message.replace(/\.$/, "")}`,
      "fix the file (Deno cannot read it either)",
    );
  }
  const section = isObject(value) ? value[CONFIG_SECTION] : undefined;
  if (section === undefined) return undefined;
  if (!isObject(section)) {
    throw new UsageError(
      `"${CONFIG_SECTION}" in ${file} is not an object`,
      `write it as "${CONFIG_SECTION}": { "port": 3000 }, with serve's long flag names as keys`,
    );
  }
  return section;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Turns a `"devsrv"` section into option values. Relative paths (`app`,
 * `watch`, `cert`, `key`) start at the file's folder, as Deno's own paths
 * in deno.json do.
 *
 * @param section The section.
 * @param file The file it is in, an absolute path.
 * @returns The values, each with the file as its origin.
 * @throws {UsageError} For an unknown key or a value of the wrong type,
 * naming the key, the file and the fix.
 *
 * @example Read a section
 * ```ts
 * import { configLayer } from "./project_config.ts";
 *
 * const layer = configLayer({ port: 3000, watch: ["../shared"] }, "/app/deno.json");
 * if (layer.port?.value !== 3000) throw new Error();
 * if ((layer.watch?.value as string[])[0] !== "/shared") throw new Error();
 * ```
 */
export function configLayer(section: Record<string, unknown>, file: string): Layer {
  const layer: Layer = {};
  const origin: Origin = { kind: "config", file };
  for (const [key, value] of Object.entries(section)) {
    const spec = OPTION_SPECS.find((spec) => spec.name === key);
    if (!spec) throw unknownKey(key, value, file);
    const where: Where = {
      name: `"${key}"`,
      show: (shown) => `"${key}": ${shown} in ${file}`,
    };
    setLayer(layer, spec.key, resolvePaths(spec, valueFromJson(spec, value, where), file), origin);
  }
  return layer;
}

function resolvePaths<T>(spec: OptionSpec, value: T, file: string): T {
  if (!spec.path) return value;
  const dir = dirname(file);
  if (typeof value === "string") return resolve(dir, value) as T;
  if (Array.isArray(value)) return value.map((path) => resolve(dir, String(path))) as T;
  return value;
}

function unknownKey(key: string, value: unknown, file: string): UsageError {
  const kebab = key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  const negated = key.startsWith("no-") ? key.slice(3) : undefined;
  const names = OPTION_SPECS.map((spec) => spec.name);
  let fix: string;
  if (negated && names.includes(negated)) {
    fix = `write "${negated}": ${value === false ? "true" : "false"}`;
  } else if (names.includes(kebab)) {
    fix = `write it as the long flag name, "${kebab}"`;
  } else {
    const near = names.find((name) => editDistance(name, key.toLowerCase()) <= 2);
    const keys = `the keys are serve's long flag names: ${names.join(", ")}`;
    fix = near ? `did you mean "${near}"? (${keys})` : keys;
  }
  return new UsageError(`unknown key "${key}" in the "${CONFIG_SECTION}" section of ${file}`, fix);
}
