/**
 * The module devsrv passes to `deno run --preload` in front of a user's
 * program. Deno runs it first, then the program as its main module. Run by
 * anything else (no devsrv settings in the environment), it does nothing.
 *
 * @module
 */

import { prepareProgram } from "./program.ts";
import { readProgramSettings } from "./program_settings.ts";

const settings = readProgramSettings();
if (settings) await prepareProgram(settings);
