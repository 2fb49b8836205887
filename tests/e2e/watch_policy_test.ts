/**
 * What a change does, end to end: the real devsrv in a temp directory, real
 * files written by the test and by the app itself, real requests, and an
 * open page's live-reload stream. Restart for the module graph and the
 * files Deno reads at start; reload the pages for templates; nothing for
 * what the app writes, for devsrv's own log, and for files beside a
 * served directory. Folders deleted and re-created are watched again.
 *
 * A file written while the app answers a request is the app's own write,
 * so before each edit that stands for a person's, the test waits until the
 * app is idle (`waitForAppIdle`), and asks the app again only once the
 * change has been judged.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  childPids,
  DevsrvProcess,
  fetchText,
  MAIN_TS,
  processIsAlive,
  waitFor,
  waitForAppIdle,
  withServer,
  withTempDir,
} from "../_harness/devsrv.ts";

interface Status {
  state: string;
  watchedFiles: number;
  childPid: number;
  generation: number;
  watchRoots: string[];
  moduleGraph?: { state: string; files: number | null };
  decisions?: { action: string; why: string; files: { path: string; why: string }[] }[];
}

async function status(url: string): Promise<Status> {
  const response = await fetch(`${url}/__devsrv`, { headers: { accept: "application/json" } });
  return await response.json();
}

/** Waits until the module graph is known with at least `files` files. */
async function waitForGraph(url: string, files: number): Promise<void> {
  await waitFor(`a module graph of ${files} files`, async () => {
    const graph = (await status(url)).moduleGraph;
    return graph?.state === "known" && (graph.files ?? 0) >= files;
  });
}

/** Waits until a decision names the file; returns the file's verdict. */
async function waitForDecisionOn(url: string, path: string): Promise<string> {
  return await waitFor(`a decision on ${path}`, async () => {
    for (const decision of (await status(url)).decisions ?? []) {
      const file = decision.files.find((file) => file.path === path);
      if (file) return file.why;
    }
    return undefined;
  });
}

async function body(url: string): Promise<string> {
  return (await fetchText(url)).body;
}

async function waitForBody(url: string, pattern: RegExp): Promise<string> {
  return await waitFor(`a body matching ${pattern}`, async () => {
    const text = await body(url).catch(() => "");
    return pattern.test(text) ? text : undefined;
  });
}

/** An open page: the live-reload events it receives. */
class OpenPage {
  readonly events: string[] = [];
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #reading: Promise<void>;

  private constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
    this.#reading = this.#read();
  }

  /**
   * Connects to the events stream, once the app is ready (a page opened
   * earlier gets the ready child's reload), and waits for its hello.
   */
  static async open(url: string): Promise<OpenPage> {
    await waitFor("the app to be ready", async () => (await status(url)).state === "ready");
    const response = await fetch(`${url}/__devsrv/events`);
    const page = new OpenPage(response.body!.getReader());
    await waitFor("the hello event", () => page.events.includes("hello"));
    return page;
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let text = "";
    for (;;) {
      const { value, done } = await this.#reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
      const blocks = text.split("\n\n");
      text = blocks.pop()!; // an event not complete yet
      for (const block of blocks) {
        const name = block.match(/^event: (\w+)$/m)?.[1];
        if (name) this.events.push(name);
      }
    }
  }

  /** The events other than hello, in order. */
  get changes(): string[] {
    return this.events.filter((event) => event !== "hello");
  }

  async close(): Promise<void> {
    await this.#reader.cancel();
    await this.#reading;
  }
}

const DATA_APP = `import { render } from "./lib/render.ts";

let visits = 0; // state the app keeps in memory

export default {
  async fetch() {
    visits++;
    await Deno.writeTextFile("db.json", JSON.stringify({ visits })); // a JSON store
    await Deno.mkdir("notes", { recursive: true });
    await Deno.writeTextFile(\`notes/\${visits}.md\`, \`# Visit \${visits}\\n\`);
    const page = render(await Deno.readTextFile("views/index.html"), visits);
    await Deno.mkdir("cache", { recursive: true });
    await Deno.writeTextFile("cache/index.html", page); // a rendered page, kept as a cache
    await Deno.writeTextFile(\`cache/chunk_\${visits}.js\`, \`export default \${visits};\\n\`);
    Deno.writeTextFile("cache/site.css", \`p { order: \${visits} }\`).catch(() => {}); // not awaited
    return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
  },
};
`;

const DATA_APP_FILES = {
  "app.ts": DATA_APP,
  "lib/render.ts":
    'export const render = (template: string, visits: number) => template.replace("{visits}", String(visits));\n',
  "views/index.html": "<!doctype html><body><p>visits {visits}</p></body>\n",
};

Deno.test("an app that writes its data as it runs keeps its state: 20 requests, no restart, no page reload", async () => {
  await withServer(DATA_APP_FILES, ["app.ts"], async (server, url, dir) => {
    const page = await OpenPage.open(url);
    try {
      await waitForGraph(url, 2); // devsrv's own deno info run is over: what follows is the app's
      const first = await status(url);
      for (let i = 1; i <= 20; i++) {
        assert.match(await body(url), new RegExp(`<p>visits ${i}</p>`));
      }
      assert.match(
        await waitForDecisionOn(url, "notes/20.md"),
        /^written by the app$/,
      );
      const after = await status(url);
      assert.equal(after.childPid, first.childPid, "one process served every request");
      assert.equal(after.generation, 1);
      assert.doesNotMatch(server.output, / · (restarting|reloading pages|updating stylesheets)\n/);
      for (const decision of after.decisions ?? []) assert.equal(decision.action, "none");
      const html = await fetchText(`${url}/__devsrv`, { headers: { accept: "text/html" } });
      assert.match(html.body, /<th>module graph<\/th><td>2 files, 0 npm packages/);
      assert.match(html.body, /Recent decisions/);
      assert.match(html.body, /<td>nothing<\/td><td>written by the app<\/td>/);
      // A person's edit of the template, once the app is idle, does reload the page: the
      // sentinel shows that no reload came before it.
      await waitForAppIdle(url);
      await Deno.writeTextFile(
        `${dir}/views/index.html`,
        "<!doctype html><body><p>Visits: {visits}</p></body>\n",
      );
      await server.waitForOutput(/ \* views\/index\.html changed · reloading pages\n/);
      await waitFor("the page's reload", () => page.changes.length > 0);
      assert.deepEqual(page.changes, ["reload"]);
      assert.match(await body(url), /<p>Visits: 21<\/p>/, "still the same process");
    } finally {
      await page.close();
    }
  });
});

Deno.test("devsrv's own log, redirected into the watched folder, restarts nothing", async () => {
  await withTempDir(
    { "app.ts": 'export default { fetch: () => new Response("v1") };\n' },
    async (dir) => {
      const log = `${dir}/devsrv.log`;
      const process = new Deno.Command("sh", {
        args: [
          "-c",
          'exec "$0" run -A "$1" serve app.ts -p 0 > devsrv.log 2>&1',
          Deno.execPath(),
          MAIN_TS,
        ],
        cwd: dir,
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).spawn();
      const read = () => {
        try {
          return Deno.readTextFileSync(log);
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) return ""; // the shell has not opened it yet
          throw error;
        }
      };
      try {
        const url = (await waitFor("Running on", () =>
          read().match(/Running on (\S+)/) ?? undefined))[1]!;
        for (let i = 0; i < 10; i++) assert.equal(await body(url), "v1");
        assert.equal(await waitForDecisionOn(url, "devsrv.log"), "devsrv's own output");
        assert.doesNotMatch(read(), /restarting/);
        assert.equal(childPids(read()).length, 1);
        await waitForAppIdle(url);
        await Deno.writeTextFile(
          `${dir}/app.ts`,
          'export default { fetch: () => new Response("v2") };\n',
        );
        await waitForBody(url, /^v2$/);
        assert.equal([...read().matchAll(/ · restarting\n/g)].length, 1, read());
      } finally {
        process.kill("SIGTERM");
        assert.equal((await process.status).code, 0, read());
        for (const pid of childPids(read())) {
          assert.ok(
            !processIsAlive(pid),
            `child ${pid} outlived`,
          );
        }
      }
    },
  );
});

Deno.test("a static directory is watched alone: writes beside it do nothing", async () => {
  await withServer(
    { "site/index.html": "<!doctype html><p>one</p>\n" },
    ["site"],
    async (server, url, dir) => {
      const page = await OpenPage.open(url);
      try {
        assert.deepEqual((await status(url)).watchRoots, ["site"]);
        for (let i = 0; i < 5; i++) {
          await Deno.writeTextFile(`${dir}/data.json`, JSON.stringify({ i }));
          await Deno.writeTextFile(`${dir}/notes.md`, `# ${i}\n`);
          await Deno.writeTextFile(`${dir}/tool.ts`, `export const i = ${i};\n`);
          await Deno.writeTextFile(`${dir}/draft.html`, `<p>${i}</p>\n`);
        }
        await Deno.writeTextFile(`${dir}/site/index.html`, "<!doctype html><p>two</p>\n");
        await server.waitForOutput(/ \* site\/index\.html changed · reloading pages\n/);
        await waitFor("the page's reload", () => page.changes.length > 0);
        assert.deepEqual(page.changes, ["reload"]);
        const decisions = (await status(url)).decisions ?? [];
        assert.deepEqual(decisions.flatMap((decision) => decision.files.map((file) => file.path)), [
          "site/index.html",
        ]);
        assert.doesNotMatch(server.output, /restarting/);
      } finally {
        await page.close();
      }
    },
  );
});

Deno.test("an imported JSON file restarts the app; one it only reads does not", async () => {
  const app = `import config from "./config.json" with { type: "json" };
export default { fetch: () => new Response(config.greeting + " " + Deno.readTextFileSync("data.json")) };
`;
  await withServer(
    { "app.ts": app, "config.json": '{"greeting":"hello"}', "data.json": "1" },
    ["app.ts"],
    async (server, url, dir) => {
      assert.equal(await body(url), "hello 1");
      await waitForGraph(url, 2);
      await waitForAppIdle(url);
      await Deno.writeTextFile(`${dir}/data.json`, "2");
      assert.equal(await waitForDecisionOn(url, "data.json"), "not imported by the app");
      await Deno.writeTextFile(`${dir}/config.json`, '{"greeting":"bonjour"}');
      await server.waitForOutput(/ \* config\.json changed \(imported by app\.ts\) · restarting\n/);
      await waitForBody(url, /^bonjour 2$/);
    },
  );
});

Deno.test("a module three imports deep restarts the app", async () => {
  await withServer(
    {
      "app.ts":
        'import { a } from "./lib/a.ts";\nexport default { fetch: () => new Response(a) };\n',
      "lib/a.ts": 'export { b as a } from "./b.ts";\n',
      "lib/b.ts": 'export { c as b } from "./deep/c.ts";\n',
      "lib/deep/c.ts": 'export const c = "one";\n',
    },
    ["app.ts"],
    async (server, url, dir) => {
      assert.equal(await body(url), "one");
      await waitForGraph(url, 4);
      await Deno.writeTextFile(`${dir}/lib/deep/c.ts`, 'export const c = "two";\n');
      await server.waitForOutput(
        / \* lib\/deep\/c\.ts changed \(imported by lib\/b\.ts\) · restarting\n/,
      );
      await waitForBody(url, /^two$/);
    },
  );
});

Deno.test("a module imported from outside the current directory is watched and restarts the app", async () => {
  await withTempDir({ "shared/words.ts": 'export const word = "one";\n' }, async (other) => {
    const app = `import { word } from ${JSON.stringify(`${other}/shared/words.ts`)};
export default { fetch: () => new Response(word) };
`;
    await withServer({ "app.ts": app }, ["app.ts"], async (server, url) => {
      assert.equal(await body(url), "one");
      await waitForGraph(url, 2);
      await waitFor("the outside module to be watched", async () => {
        return (await status(url)).watchedFiles === 2;
      });
      await Deno.writeTextFile(`${other}/shared/words.ts`, 'export const word = "two";\n');
      await server.waitForOutput(
        /shared\/words\.ts changed \(imported by app\.ts\) · restarting\n/,
      );
      await waitForBody(url, /^two$/);
    });
  });
});

/** An app whose routes are the modules in routes/, imported as it starts. */
const ROUTES_APP = `const routes = new Map();
for (const entry of Deno.readDirSync("routes")) {
  const name = entry.name.replace(/\\.ts$/, "");
  routes.set("/" + name, (await import(\`./routes/\${name}.ts\`)).default);
}
export default {
  fetch(request: Request) {
    const route = routes.get(new URL(request.url).pathname);
    return route ? new Response(route()) : new Response("no such route", { status: 404 });
  },
};
`;

Deno.test("a new route file restarts the app, and is part of its graph then", async () => {
  const app = ROUTES_APP;
  await withServer(
    {
      "app.ts": app,
      "routes/home.ts": 'export default () => "home";\n',
    },
    ["app.ts"],
    async (server, url, dir) => {
      assert.equal(await body(`${url}/home`), "home");
      await waitForGraph(url, 2);
      await waitForAppIdle(url);
      await Deno.writeTextFile(`${dir}/routes/about.ts`, 'export default () => "about";\n');
      await server.waitForOutput(
        / \* routes\/about\.ts created \(new source file\) · restarting\n/,
      );
      await waitForBody(`${url}/about`, /^about$/);
      await waitForGraph(url, 3);
      await Deno.writeTextFile(`${dir}/routes/about.ts`, 'export default () => "about us";\n');
      await server.waitForOutput(
        / \* routes\/about\.ts changed \(imported by app\.ts\) · restarting\n/,
      );
      await waitForBody(`${url}/about`, /^about us$/);
    },
  );
});

Deno.test("a new route file restarts the app while a page polls it without pause", async () => {
  const app = ROUTES_APP;
  await withServer(
    { "app.ts": app, "routes/home.ts": 'export default () => "home";\n' },
    ["app.ts"],
    async (server, url, dir) => {
      await waitForGraph(url, 2);
      // A page that polls: the app is at work nearly all the time.
      let polling = true;
      const poller = (async () => {
        while (polling) await body(`${url}/home`).catch(() => "");
      })();
      try {
        await Deno.writeTextFile(`${dir}/routes/about.ts`, 'export default () => "about";\n');
        await server.waitForOutput(
          / \* routes\/about\.ts created \(new source file\) · restarting\n/,
        );
        await waitForBody(`${url}/about`, /^about$/);
      } finally {
        polling = false;
        await poller;
      }
    },
  );
});

Deno.test("a failing app restarts when a file it reads as it starts is created", async () => {
  const app = `const config = JSON.parse(Deno.readTextFileSync("settings.json"));
export default { fetch: () => new Response(\`greeting \${config.greeting}\`) };
`;
  await withServer({ "app.ts": app }, ["app.ts"], async (server, url, dir) => {
    await server.waitForOutput(/settings\.json/);
    await waitFor("the app to be failing", async () => (await status(url)).state === "failed");
    await waitForAppIdle(url); // what the failed start wrote is its own
    await Deno.writeTextFile(`${dir}/settings.json`, '{ "greeting": "hello" }\n');
    await server.waitForOutput(
      / \* settings\.json created \(the app is failing: a fix may be in any file\) · restarting\n/,
    );
    await waitForBody(url, /^greeting hello$/);
  });
});

Deno.test("a template read at request time reloads the pages without a restart", async () => {
  const app = `export default {
  fetch: () => new Response(Deno.readTextFileSync("views/page.html").replace("{pid}", String(Deno.pid)), {
    headers: { "content-type": "text/html; charset=utf-8" },
  }),
};
`;
  await withServer(
    {
      "app.ts": app,
      "views/page.html": "<!doctype html><body><h1>One</h1><p>{pid}</p></body>\n",
    },
    ["app.ts"],
    async (server, url, dir) => {
      const page = await OpenPage.open(url);
      try {
        const before = await body(url);
        await waitForAppIdle(url);
        await Deno.writeTextFile(
          `${dir}/views/page.html`,
          "<!doctype html><body><h1>Two</h1><p>{pid}</p></body>\n",
        );
        await server.waitForOutput(/ \* views\/page\.html changed · reloading pages\n/);
        await waitFor("the page's reload", () => page.changes.length > 0);
        assert.deepEqual(page.changes, ["reload"]);
        const after = await body(url);
        assert.match(after, /<h1>Two<\/h1>/);
        assert.equal(
          after.match(/<p>(\d+)<\/p>/)?.[1],
          before.match(/<p>(\d+)<\/p>/)?.[1],
          "no restart",
        );
      } finally {
        await page.close();
      }
    },
  );
});

Deno.test("deno.json restarts the app", async () => {
  await withServer(
    {
      "app.ts": "export default { fetch: () => new Response(String(Deno.pid)) };\n",
      "deno.json": '{ "tasks": {} }\n',
    },
    ["app.ts"],
    async (server, url, dir) => {
      const before = await body(url);
      await waitForAppIdle(url);
      await Deno.writeTextFile(`${dir}/deno.json`, '{ "tasks": { "dev": "echo" } }\n');
      await server.waitForOutput(/ \* deno\.json changed \(read by Deno at start\) · restarting\n/);
      await waitFor("a new child", async () => (await body(url).catch(() => before)) !== before);
    },
  );
});

Deno.test("a library script's own imports restart it", async () => {
  const modUrl = new URL("../../src/mod.ts", import.meta.url).href;
  await withTempDir({
    "server.ts": `import { serve } from ${JSON.stringify(modUrl)};
import { greeting } from "./greeting.ts";
await serve(() => new Response(greeting), { reload: true, port: 0 });
`,
    "greeting.ts": 'export const greeting = "hello";\n',
  }, async (dir) => {
    const server = new DevsrvProcess([], { cwd: dir, script: "server.ts" });
    try {
      const url = await server.url();
      await waitForBody(url, /^hello$/);
      await waitForGraph(url, 2);
      await Deno.writeTextFile(`${dir}/greeting.ts`, 'export const greeting = "hi";\n');
      await server.waitForOutput(
        / \* greeting\.ts changed \(imported by server\.ts\) · restarting\n/,
      );
      await waitForBody(url, /^hi$/);
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
    }
  });
});

for (const mode of [[], ["--poll", "--interval", "50"]]) {
  const name = mode.length ? "--poll" : "watchfs";
  Deno.test(`a folder deleted and re-created is watched again [${name}]`, async () => {
    await withServer(
      {
        "app.ts":
          'import { x } from "./lib/x.ts";\nexport default { fetch: () => new Response(x) };\n',
        "lib/x.ts": 'export const x = "one";\n',
      },
      ["app.ts", ...mode],
      async (server, url, dir) => {
        assert.equal(await body(url), "one");
        await waitForGraph(url, 2);
        await Deno.remove(`${dir}/lib`, { recursive: true });
        await server.waitForOutput(/ \* lib\/x\.ts deleted \(imported by app\.ts\) · restarting\n/);
        await waitFor(
          "the 503 of a missing module",
          async () => (await fetchText(url)).status === 503,
        );
        await Deno.mkdir(`${dir}/lib`);
        await Deno.writeTextFile(`${dir}/lib/x.ts`, 'export const x = "two";\n');
        await waitForBody(url, /^two$/);
        await waitForGraph(url, 2);
        await Deno.writeTextFile(`${dir}/lib/x.ts`, 'export const x = "three";\n');
        await waitForBody(url, /^three$/);
      },
    );
  });
}

Deno.test("modules in ignored folders, behind a symlinked folder, and a gitignored .env restart the app", async () => {
  await withTempDir({
    "app/.gitignore": ".env\ngen/\n",
    "app/.env": "GREETING=e1\n",
    "app/gen/x.ts": 'export const g = "g1";\n',
    "app/build/b.ts": 'export const b = "b1";\n',
    "shared/s.ts": 'export const s = "s1";\n',
    "app/app.ts": `import { g } from "./gen/x.ts";
import { b } from "./build/b.ts";
import { s } from "./linked/s.ts";
export default { fetch: () => new Response([g, b, s, Deno.env.get("GREETING")].join(" ")) };
`,
  }, async (dir) => {
    await Deno.symlink(`${dir}/shared`, `${dir}/app/linked`);
    const server = new DevsrvProcess(["serve", "app.ts", "-p", "0"], {
      cwd: `${dir}/app`,
      denoFlags: ["-A", "--env-file"],
    });
    try {
      const url = await server.url();
      await waitForBody(url, /^g1 b1 s1 e1$/);
      await waitForGraph(url, 4);
      const edits: [string, string, RegExp][] = [
        ["app/gen/x.ts", 'export const g = "g2";\n', /^g2 b1 s1 e1$/],
        ["app/build/b.ts", 'export const b = "b2";\n', /^g2 b2 s1 e1$/],
        ["shared/s.ts", 'export const s = "s2";\n', /^g2 b2 s2 e1$/],
        ["app/.env", "GREETING=e2\n", /^g2 b2 s2 e2$/],
      ];
      for (const [file, text, expected] of edits) {
        await waitForAppIdle(url);
        await Deno.writeTextFile(`${dir}/${file}`, text);
        await waitForBody(url, expected);
      }
    } finally {
      assert.equal((await server.stop()).code, 0, server.output);
    }
  });
});

Deno.test("a page rewritten on a timer by a writer devsrv cannot see gets one line that says what to do", async () => {
  const app = `import { writeFileSync } from "node:fs";
let n = 0;
setInterval(() => writeFileSync("out.html", \`<p>\${++n}</p>\`), 200);
Deno.serve({ port: 0 }, () => new Response("n=" + n));
`;
  await withServer({ "main.ts": app }, ["main.ts"], async (server, url) => {
    await server.waitForOutput(
      / \* out\.html keeps changing \(4 times within 20 s\) and reloads the pages each time · if the app writes it, pass --ignore out\.html/,
    );
    // Then it goes on without a line each time.
    const decided = () => status(url).then((now) => now.decisions?.length ?? 0);
    const before = await decided();
    await waitFor("three more decisions", async () => (await decided()) >= before + 3);
    const lines = server.output.match(/ \* out\.html (created|changed) · reloading pages\n/g) ?? [];
    assert.equal(lines.length, 4, server.output);
  });
});

Deno.test("a page the app rewrites on a timer reloads nothing: the app reports its own writes", async () => {
  const app = `let n = 0;
setInterval(() => Deno.writeTextFileSync("public/report.html", "<html><body>report " + (++n) + "</body></html>"), 100);
export default { fetch: () => new Response("up") };
`;
  await withServer({ "app.ts": app, "public/.keep": "" }, ["app.ts"], async (server, url, dir) => {
    await waitForBody(url, /^up$/);
    const reason = await waitForDecisionOn(url, "public/report.html");
    assert.match(reason, /^written by the app$/);
    const before = (await status(url)).decisions?.length ?? 0;
    // Ten more rewrites, none of which reloads a page or restarts the app.
    await waitFor("ten more rewrites", async () => {
      const text = await Deno.readTextFile(`${dir}/public/report.html`).catch(() => "");
      return Number(text.match(/report (\d+)/)?.[1] ?? 0) > 10;
    });
    assert.doesNotMatch(server.output, / · (restarting|reloading pages)\n/);
    assert.ok(((await status(url)).decisions?.length ?? 0) >= before);
  });
});
