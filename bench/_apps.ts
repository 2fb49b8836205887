/**
 * The apps the bench serves, each written into a fresh temporary directory
 * so that devsrv and `deno run --watch` run the very same program: the
 * hello example, a Hono program, a program with a large dependency graph
 * (Express and Fastify) and the hello app with a server-sent events and a
 * WebSocket endpoint.
 *
 * Each app's page shows a marker; an edit rewrites one file with a new
 * marker, as an editor's save does, and the reload is over when the page
 * shows it.
 *
 * @module
 */

/** An app under measurement. */
export interface BenchApp {
  /** Its name in the output. */
  name: string;
  /**
   * Its files.
   *
   * @param port The port it serves on (a literal in the program's source).
   * @param marker The text its page shows.
   */
  files(port: number, marker: string): Record<string, string>;
  /** The one file whose content holds the marker: the file an edit rewrites. */
  edited: string;
  /** What `devsrv serve` is given. */
  devsrvEntry: string;
  /** Whether devsrv needs `-p PORT` (a `deno serve` module names no port). */
  portFlag: boolean;
  /** What `deno run --watch` runs. */
  watchEntry: string;
}

/** The marker every app starts with. */
export const FIRST_MARKER = "first version";

const HELLO_APP = new URL("../examples/hello/app.ts", import.meta.url);
const HELLO_GREETING = 'const GREETING = "Hello from devsrv";';
let helloSource: string | undefined;

function helloApp(marker: string): string {
  helloSource ??= Deno.readTextFileSync(HELLO_APP);
  if (!helloSource.includes(HELLO_GREETING)) {
    throw new Error(`examples/hello/app.ts no longer has '${HELLO_GREETING}'`);
  }
  return helloSource.replace(HELLO_GREETING, `const GREETING = "${marker}";`);
}

/** `deno run --watch` needs a program: this one serves a `deno serve` module as `deno serve` would. */
function serveModuleEntry(port: number): string {
  return `import app from "./app.ts";
Deno.serve({ hostname: "127.0.0.1", port: ${port}, onListen() {} }, app.fetch);
`;
}

/** examples/hello/app.ts, a `deno serve` module, as `deno task serve` runs it. */
export const HELLO: BenchApp = {
  name: "hello (examples/hello)",
  files: (port, marker) => ({ "app.ts": helloApp(marker), "entry.ts": serveModuleEntry(port) }),
  edited: "app.ts",
  devsrvEntry: "app.ts",
  portFlag: true,
  watchEntry: "entry.ts",
};

/** Hono, served as Hono's Deno guide serves it; devsrv and `deno run --watch` run main.ts itself. */
export const HONO: BenchApp = {
  name: "Hono (npm:hono@4.13.19)",
  files: (port, marker) => ({
    "main.ts": `import { Hono } from "npm:hono@4.13.19";

const GREETING = "${marker}";

const app = new Hono();
app.get("/", (c) => c.html(\`<!doctype html><html><body><h1>\${GREETING}</h1></body></html>\`));
app.get("/api/time", (c) => c.json({ now: new Date().toISOString() }));

Deno.serve({ hostname: "127.0.0.1", port: ${port}, onListen() {} }, app.fetch);
`,
  }),
  edited: "main.ts",
  devsrvEntry: "main.ts",
  portFlag: false,
  watchEntry: "main.ts",
};

/**
 * A large dependency graph: Express and Fastify both imported (about 120
 * npm packages), Express's `app.listen(port)` the server, and a module of
 * the app's own, the file an edit rewrites.
 */
export const EXPRESS_FASTIFY: BenchApp = {
  name: "Express + Fastify (npm)",
  files: (port, marker) => ({
    "main.ts": `import express from "npm:express@5.3.0";
import Fastify from "npm:fastify@5.12.8";
import { greeting } from "./greeting.ts";

// An API built with Fastify, which the Express app could mount; built, not listening.
const api = Fastify();
api.get("/api/greeting", () => ({ greeting }));

const app = express();
app.get("/", (_req, res) => {
  res.send(\`<!doctype html><html><body><h1>\${greeting}</h1></body></html>\`);
});
app.listen(${port}, "127.0.0.1");
`,
    "greeting.ts": `export const greeting = "${marker}";\n`,
  }),
  edited: "greeting.ts",
  devsrvEntry: "main.ts",
  portFlag: false,
  watchEntry: "main.ts",
};

/**
 * The hello app with long-lived streams: `/events` (server-sent events, one
 * event at once, then nothing until the client leaves) and `/ws` (a
 * WebSocket that says hello and echoes).
 */
export const STREAMS: BenchApp = {
  name: "hello + SSE + WebSocket",
  files: (port, marker) => ({
    "app.ts": `const GREETING = "${marker}";
const encoder = new TextEncoder();

export default {
  fetch(request: Request): Response {
    const url = new URL(request.url);
    if (url.pathname === "/events") {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(encoder.encode(\`data: \${GREETING}\\n\\n\`));
        },
      });
      return new Response(body, {
        headers: { "content-type": "text/event-stream", "cache-control": "no-cache" },
      });
    }
    if (url.pathname === "/ws") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onopen = () => socket.send(\`hello from \${GREETING}\`);
      socket.onmessage = (event) => socket.send(event.data);
      return response;
    }
    return new Response(
      \`<!doctype html><html><body><h1>\${GREETING}</h1></body></html>\`,
      { headers: { "content-type": "text/html; charset=utf-8" } },
    );
  },
} satisfies Deno.ServeDefaultExport;
`,
    "entry.ts": serveModuleEntry(port),
  }),
  edited: "app.ts",
  devsrvEntry: "app.ts",
  portFlag: true,
  watchEntry: "entry.ts",
};

/** The apps whose reload latency is measured against `deno run --watch`. */
export const RELOAD_APPS: readonly BenchApp[] = [HELLO, HONO, EXPRESS_FASTIFY];
