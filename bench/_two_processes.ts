/**
 * The floor of devsrv's cold start under Werkzeug's process model: a Deno
 * process whose first act is to spawn a second Deno process that runs the
 * app. Nothing else: no arguments parsed, no proxy, no watcher; the app's
 * server binds the public port itself. Whatever devsrv does costs more.
 *
 * ```sh
 * deno run -A bench/_two_processes.ts entry.ts
 * ```
 *
 * @module
 */

const child = new Deno.Command(Deno.execPath(), { args: ["run", "-A", ...Deno.args] }).spawn();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => child.kill(signal));
}
Deno.exit((await child.status).code);
