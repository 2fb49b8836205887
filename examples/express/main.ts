/**
 * An Express app, as Express's own guide starts one: `app.listen(3000)`
 * through Deno's `node:http`. `deno task dev` (`devsrv serve main.ts`) runs
 * it with the reloader, on port 3000.
 *
 * @module
 */

// @ts-types="@types/express"
import express from "express";

const GREETING = "Hello from Express";

const app = express();
app.get("/", (_req, res) => {
  res.send(
    `<!doctype html><html><head><meta charset="utf-8"><title>Express example</title></head><body><h1>${GREETING}</h1></body></html>`,
  );
});
app.get("/api/time", (_req, res) => {
  res.json({ now: new Date().toISOString() });
});

app.listen(3000, () => {
  // deno-lint-ignore no-console
  console.log("Express listening on http://localhost:3000");
});
