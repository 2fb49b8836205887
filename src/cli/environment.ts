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
