/**
 * A program that starts its own server with `Deno.serve`, as Deno's first
 * example does. `deno run --allow-net main.ts` runs it as it is; `deno task
 * dev` (`devsrv serve main.ts`) runs it with the reloader, on the port it
 * asks for. Edit the greeting and save: the open page reloads.
 *
 * @module
 */

const GREETING = "Hello from Deno.serve";

Deno.serve({ port: 8000 }, (request) => {
  const { pathname } = new URL(request.url);
  if (pathname === "/api/time") return Response.json({ now: new Date().toISOString() });
  return new Response(
    `<!doctype html><html><head><meta charset="utf-8"><title>Deno.serve example</title></head><body><h1>${GREETING}</h1><p>You asked for ${pathname}.</p></body></html>`,
    { headers: { "content-type": "text/html; charset=utf-8" } },
  );
});
