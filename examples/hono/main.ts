/**
 * A Hono app, served as Hono's Deno guide serves it: `Deno.serve(app.fetch)`.
 * `deno task dev` (`devsrv serve main.ts`) runs it with the reloader.
 *
 * @module
 */

import { Hono } from "hono";

const GREETING = "Hello from Hono";

const app = new Hono();
app.get("/", (c) =>
  c.html(
    `<!doctype html><html><head><meta charset="utf-8"><title>Hono example</title></head><body><h1>${GREETING}</h1></body></html>`,
  ));
app.get("/api/time", (c) => c.json({ now: new Date().toISOString() }));

Deno.serve({ port: 8000 }, app.fetch);
