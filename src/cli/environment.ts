/**
 * Options from the environment, the way Flask takes `FLASK_RUN_PORT` and
 * `FLASK_RUN_RELOAD=0`: every option as `DEVSRV_<NAME>` (`DEVSRV_RELOAD=0`
 * is `--no-reload`, `DEVSRV_POLL=1` is `--poll`, `DEVSRV_APP` names the
 * entry), and `PORT` and `HOST` as hosting platforms and frameworks set
 * them. An empty variable counts as unset.
 *
 * - Switches: `1`, `true`, `yes`, `on` or `0`, `false`, `no`, `off`.
 * - Lists (`DEVSRV_WATCH`, `DEVSRV_IGNORE`, `DEVSRV_EXT`, `DEVSRV_CORS`,
 *   `DEVSRV_ALLOWED_HOST`): items separated by commas.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import { editDistance } from "./edit_distance.ts";
import {
  CHANNEL_ADDRESS_ENV,
  CHANNEL_TOKEN_ENV,
  COLOR_ENV,
  GENERATION_ENV,
  NODE_CAPTURE_ENV,
  PROGRAM_SETTINGS_ENV,
  RUN_MAIN_ENV,
} from "../role.ts";
import { type Layer, setLayer } from "./layers.ts";
import { envName, OPTION_SPECS, valueFromText, type Where } from "./option_table.ts";

/** Reads one environment variable; `undefined` when unset. */
export type ReadEnv = (name: string) => string | undefined;

/**
 * The variables that set an option, the most specific first.
 *
 * @param name The option's long flag name, e.g. `"port"`.
 * @returns E.g. `["DEVSRV_PORT", "PORT"]`.
 */
export function envNames(name: string): string[] {
  const spec = OPTION_SPECS.find((spec) => spec.name === name);
  return spec ? [envName(spec), ...spec.aliases ?? []] : [];
}

/**
 * Turns the environment into option values.
 *
 * @param read Reads a variable.
 * @returns The values, each with its variable as origin.
 * @throws {UsageError} When a variable's value cannot be read, naming it.
 *
 * @example `DEVSRV_RELOAD=0` and `PORT`
 * ```ts
 * import { envLayer } from "./environment.ts";
 *
 * const env: Record<string, string> = { DEVSRV_RELOAD: "0", PORT: "3000" };
 * const layer = envLayer((name) => env[name]);
 * if (layer.reload?.value !== false || layer.port?.value !== 3000) throw new Error();
 * ```
 */
export function envLayer(read: ReadEnv): Layer {
  const layer: Layer = {};
  for (const spec of OPTION_SPECS) {
    for (const name of [envName(spec), ...spec.aliases ?? []]) {
      const text = read(name);
      if (text === undefined || text.trim() === "") continue;
      const where: Where = { name, show: (shown) => `${name}=${shown}` };
      const values = spec.kind === "list"
        ? text.split(",").map((item) => item.trim()).filter((item) => item !== "")
        : [text];
      setLayer(layer, spec.key, valueFromText(spec, values, where), { kind: "env", name });
      break;
    }
  }
  return layer;
}

/** devsrv's own variables between its processes: not options. */
const INTERNAL_VARIABLES = new Set([
  RUN_MAIN_ENV,
  CHANNEL_ADDRESS_ENV,
  CHANNEL_TOKEN_ENV,
  GENERATION_ENV,
  PROGRAM_SETTINGS_ENV,
  NODE_CAPTURE_ENV,
  COLOR_ENV,
]);

/**
 * Refuses a `DEVSRV_*` variable that sets nothing, as a misspelt key in
 * deno.json is refused: `DEVSRV_PROT=3000` would otherwise be ignored.
 *
 * @param names The environment's variable names.
 * @throws {UsageError} Naming the first unknown one, and the nearest known name.
 *
 * @example
 * ```ts
 * import { checkDevsrvVariables } from "./environment.ts";
 * import { UsageError } from "../errors.ts";
 *
 * checkDevsrvVariables(["PATH", "DEVSRV_PORT", "DEVSRV_RUN_MAIN"]);
 * let refused = false;
 * try {
 *   checkDevsrvVariables(["DEVSRV_PROT"]);
 * } catch (error) {
 *   if (!(error instanceof UsageError)) throw error;
 *   refused = true;
 * }
 * if (!refused) throw new Error();
 * ```
 */
export function checkDevsrvVariables(names: Iterable<string>): void {
  const known = new Set(OPTION_SPECS.map(envName));
  for (const name of names) {
    if (!name.startsWith("DEVSRV_") || known.has(name) || INTERNAL_VARIABLES.has(name)) continue;
    const near = [...known].sort((a, b) => editDistance(name, a) - editDistance(name, b))[0];
    throw new UsageError(
      `environment variable ${name} sets no devsrv option`,
      `did you mean ${near}? Every option is DEVSRV_<OPTION>, e.g. DEVSRV_PORT, DEVSRV_RELOAD`,
    );
  }
}
