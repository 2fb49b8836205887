/**
 * The module devsrv passes to `deno run --preload` in front of a user's
 * program. Deno runs it first, then the program as its main module. Run by
 * anything else (no devsrv settings in the environment), it does nothing.
 *
 * Its static imports are the child's: no `node:` module among them (the
 * first one starts Deno's Node layer, about 12 ms on every start of the
 * app; `scripts/check_imports.ts` checks it). The single process's code is
 * loaded only with `--no-reload`.
 *
 * @module
 */

import { prepareChild } from "./program.ts";
import { readProgramSettings } from "./program_settings.ts";

const settings = readProgramSettings();
if (settings?.role === "child") {
  await prepareChild(settings);
} else if (settings) {
  const { prepareSingle } = await import("./single_program.ts");
  await prepareSingle(settings);
}
