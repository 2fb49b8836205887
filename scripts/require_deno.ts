/**
 * Stops a task early when it runs on a Deno other than the pinned one, so a
 * result is never measured or tested on a version the project does not use.
 *
 * @module
 */

const wanted = Deno.args[0];
if (wanted !== undefined && Deno.version.deno !== wanted) {
  // deno-lint-ignore no-console
  console.error(
    `error: devsrv is pinned to Deno ${wanted} but this is Deno ${Deno.version.deno}; run "npx -y deno@${wanted} task ..." instead`,
  );
  Deno.exit(1);
}
