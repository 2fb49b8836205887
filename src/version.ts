/**
 * The devsrv version, printed by `--version` and in the startup banner.
 *
 * @module
 */

/** devsrv's version; kept equal to `version` in deno.json. */
export const VERSION = "0.1.0";
