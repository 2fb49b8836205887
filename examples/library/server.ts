/**
 * Using devsrv as a library, like Flask's `app.run(debug=True)`:
 *
 * ```sh
 * deno run -A examples/library/server.ts
 * ```
 *
 * With `reload: true` this script runs twice: the reloader (parent) runs it
 * and re-executes it as the child, which serves. The log shows both lines
 * below, once with each role; only the child opens the "database".
 *
 * @module
 */

import { isRunningFromReloader, serve } from "../../src/mod.ts";

const role = isRunningFromReloader() ? "child (serves)" : "reloader (watches)";
// deno-lint-ignore no-console
console.log(`top level of server.ts runs in the ${role}, pid ${Deno.pid}`);

let visits = 0;
if (isRunningFromReloader()) {
  // One-time work that belongs to the serving process only.
  visits = 0;
}

await serve(() => new Response(`Hello from the library example, visit ${++visits}\n`), {
  reload: true,
  port: Number(Deno.env.get("PORT") ?? 8000),
});
