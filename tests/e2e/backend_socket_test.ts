/**
 * The parent reaches the child's `Deno.serve` servers on Unix sockets in a
 * private directory: the app still sees what it sees on a loopback port
 * (an `http:` URL with the Host's authority, a TCP-shaped
 * `info.remoteAddr`), and nothing is left in the temp directory after the
 * session, however it ends.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  childPids,
  DevsrvProcess,
  fetchText,
  freePort,
  processIsAlive,
  waitFor,
  withTempDir,
} from "../_harness/devsrv.ts";

const UNIX = Deno.build.os !== "windows";

/** What the handler answers: what it sees of the request. */
const SEEN = `(request, info) => Response.json({
  url: request.url,
  cloned: request.clone().url,
  remoteAddr: info.remoteAddr,
  host: request.headers.get("host"),
})`;

/** The files under a directory, relative to it. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    found.push(entry.name);
    if (entry.isDirectory) {
      found.push(...filesUnder(`${dir}/${entry.name}`).map((name) => `${entry.name}/${name}`));
    }
  }
  return found;
}

/**
 * Runs devsrv in `dir` with a TMPDIR of its own (outside what it watches),
 * so that what it leaves there is its own, and stops it.
 */
async function withSession(
  dir: string,
  args: string[],
  body: (server: DevsrvProcess, tmp: string) => Promise<void>,
): Promise<void> {
  const tmp = await Deno.realPath(await Deno.makeTempDir({ prefix: "devsrv_test_tmp_" }));
  const server = new DevsrvProcess(["serve", ...args], { cwd: dir, env: { TMPDIR: tmp } });
  try {
    await body(server, tmp);
  } finally {
    server.kill();
    await server.finished();
    await Deno.remove(tmp, { recursive: true });
  }
}

async function assertSeesTcp(url: string): Promise<void> {
  const { status, body } = await fetchText(`${url}/path?q=1`);
  assert.equal(status, 200, body);
  const seen = JSON.parse(body);
  const authority = new URL(url).host;
  assert.equal(seen.url, `http://${authority}/path?q=1`);
  assert.equal(seen.cloned, seen.url);
  assert.equal(seen.host, authority);
  assert.equal(seen.remoteAddr.transport, "tcp");
  assert.equal(seen.remoteAddr.hostname, "127.0.0.1");
  assert.equal(typeof seen.remoteAddr.port, "number");
}

const APPS = [
  { name: "a Deno.serve program", file: "main.ts", source: `Deno.serve(${SEEN});\n` },
  { name: "an app module", file: "app.ts", source: `export default { fetch: ${SEEN} };\n` },
  { name: "a default-exported handler", file: "handler.ts", source: `export default ${SEEN};\n` },
];

for (const app of APPS) {
  Deno.test(`${app.name} behind the parent sees an http URL and a TCP remoteAddr; no socket is left`, async () => {
    await withTempDir({ [app.file]: app.source }, async (dir) => {
      await withSession(dir, [app.file, "-p", String(freePort())], async (server, tmp) => {
        const url = await server.url();
        await server.waitForOutput(/Child pid \d+ .*ready in/, { timeoutMs: 30_000 });
        await assertSeesTcp(url);
        if (UNIX) {
          const sockets = filesUnder(tmp).filter((name) => name.endsWith(".sock"));
          assert.equal(sockets.length, 1, String(filesUnder(tmp)));
          assert.equal(Deno.statSync(`${tmp}/${sockets[0]!.split("/")[0]}`).mode! & 0o777, 0o700);
        }
        assert.equal((await server.stop()).code, 0, server.output);
        assert.deepEqual(filesUnder(tmp), []);
      });
    });
  });
}

Deno.test(
  "a killed child's socket is removed by the parent, a killed parent's directory by the child",
  {
    ignore: !UNIX,
  },
  async () => {
    await withTempDir({ "main.ts": `Deno.serve(${SEEN});\n` }, async (dir) => {
      await withSession(dir, ["main.ts", "-p", String(freePort())], async (server, tmp) => {
        const url = await server.url();
        await server.waitForOutput(/Child pid \d+ .*ready in/, { timeoutMs: 30_000 });
        await assertSeesTcp(url);
        const [first] = childPids(server.output);
        assert.ok(
          filesUnder(tmp).some((name) => name.includes(`/${first}-`)),
          String(filesUnder(tmp)),
        );
        Deno.kill(first!, "SIGKILL");
        await waitFor(
          "the killed child's socket to be removed",
          () => !filesUnder(tmp).some((name) => name.includes(`/${first}-`)),
        );
        // A change brings a new child; then the parent itself is killed.
        Deno.writeTextFileSync(`${dir}/main.ts`, `Deno.serve(${SEEN}); // v2\n`);
        await waitFor("a new child", () => childPids(server.output).length > 1, 30_000);
        const [, second] = childPids(server.output);
        await assertSeesTcp(url);
        server.kill("SIGKILL");
        await server.finished();
        await waitFor("the orphaned child to end", () => !processIsAlive(second!));
        await waitFor("the temp directory to be empty", () => filesUnder(tmp).length === 0);
      });
    });
  },
);
