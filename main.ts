/**
 * `devsrv`: a development HTTP server for Deno that reloads on change.
 *
 * ```sh
 * deno run -A main.ts serve app.ts
 * ```
 *
 * @module
 */

import { main } from "./src/cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
