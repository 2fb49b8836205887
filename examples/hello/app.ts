/**
 * The bundled example app: `deno task serve` runs it. It follows the
 * `deno serve` convention, so `deno serve examples/hello/app.ts` runs it
 * unchanged in production. Edit the greeting and save: devsrv reloads.
 *
 * @module
 */

const GREETING = "Hello from devsrv";

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === "/api/time") {
      return Response.json({ now: new Date().toISOString() });
    }
    return new Response(
      `<!doctype html><html><head><meta charset="utf-8"><title>devsrv example</title></head><body><h1>${GREETING}</h1><p>You asked for ${url.pathname}. Edit examples/hello/app.ts and save.</p></body></html>`,
      { headers: { "content-type": "text/html; charset=utf-8" } },
    );
  },
} satisfies Deno.ServeDefaultExport;
