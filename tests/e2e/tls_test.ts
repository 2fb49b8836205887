/**
 * End-to-end tests of HTTPS (`--cert FILE --key FILE`): every way the pair
 * can be wrong ends devsrv with one line and exit code 1 before anything
 * listens, in both modes; a good pair serves HTTPS through the reloader's
 * front and with `--no-reload`, over HTTP/1.1 and HTTP/2, with the Host
 * guard in force.
 *
 * Certificates are made by openssl at test time, self-signed and valid for
 * a day.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type CertPair, makeCert } from "../_harness/certs.ts";
import { rawRequest, sendRaw, tlsTo } from "../_harness/raw_http.ts";
import {
  appSource,
  DevsrvProcess,
  freePort,
  missingOutsideCi,
  runDevsrv,
  SERVE_MODES,
  waitFor,
  withTempDir,
} from "../_harness/devsrv.ts";

/** Without openssl (outside CI) the certificate tests are reported as ignored. */
const NO_OPENSSL = missingOutsideCi("openssl");

const APP_TEXT = "hello over tls";
const FAILURE_EXIT_CODE = 1;
const USAGE_EXIT_CODE = 2;

async function openssl(args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

function assertOneLineFailure(
  result: { code: number; output: string },
  code: number,
  ...mentions: string[]
): void {
  const text = result.output.trim();
  assert.equal(result.code, code, result.output);
  assert.ok(!text.includes("\n"), `more than one line:\n${result.output}`);
  assert.match(text, /^error: /);
  for (const part of mentions) assert.ok(text.includes(part), `"${part}" missing in: ${text}`);
  assert.ok(!text.includes("Running on"), "it listened");
  assert.ok(!text.includes("Child pid"), "it started a child");
}

/** A directory holding an app, a good pair, another pair and broken files. */
async function withTlsFiles(
  body: (dir: string, good: CertPair, other: CertPair) => Promise<void>,
): Promise<void> {
  await withTempDir({ "app.ts": appSource(APP_TEXT) }, async (dir) => {
    const good = await makeCert(dir, "good");
    const other = await makeCert(dir, "other", [
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
    ]);
    await body(dir, good, other);
  });
}

for (const mode of SERVE_MODES) {
  Deno.test({
    name: `devsrv serve (${mode.name}) refuses a bad --cert/--key pair with one line`,
    ignore: NO_OPENSSL,
  }, async (t) => {
    await withTlsFiles(async (dir, good, other) => {
      const serve = (cert: string, key: string) =>
        runDevsrv(["serve", "app.ts", "-p", "0", ...mode.args, "--cert", cert, "--key", key], dir);

      await t.step("a missing certificate file", async () => {
        assertOneLineFailure(
          await serve("missing.pem", good.key),
          FAILURE_EXIT_CODE,
          '"missing.pem"',
          "does not exist",
        );
      });

      await t.step("a missing key file", async () => {
        assertOneLineFailure(
          await serve(good.cert, "missing-key.pem"),
          FAILURE_EXIT_CODE,
          '"missing-key.pem"',
          "does not exist",
        );
      });

      await t.step("an unreadable certificate (a directory)", async () => {
        await Deno.mkdir(join(dir, "certs.d"));
        assertOneLineFailure(
          await serve("certs.d", good.key),
          FAILURE_EXIT_CODE,
          '"certs.d"',
          "is not a file",
        );
      });

      await t.step({
        name: "a FIFO as the key ends at once instead of blocking",
        ignore: Deno.build.os === "windows",
        fn: async () => {
          const fifo = join(dir, "key.fifo");
          const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
          assert.ok(made.success, "mkfifo failed");
          assertOneLineFailure(await serve(good.cert, fifo), FAILURE_EXIT_CODE, "is not a file");
        },
      });

      await t.step({
        name: "an unreadable key (mode 000)",
        ignore: Deno.build.os === "windows" || Deno.uid() === 0, // root reads anything
        fn: async () => {
          const locked = join(dir, "locked-key.pem");
          await Deno.copyFile(good.key, locked);
          await Deno.chmod(locked, 0o000);
          assertOneLineFailure(
            await serve(good.cert, locked),
            FAILURE_EXIT_CODE,
            "cannot be read",
          );
        },
      });

      await t.step("a certificate that is not PEM", async () => {
        assertOneLineFailure(
          await serve("app.ts", good.key),
          FAILURE_EXIT_CODE,
          '"app.ts"',
          "not a PEM certificate",
        );
        const der = join(dir, "cert.der");
        await openssl(["x509", "-in", good.cert, "-outform", "DER", "-out", der]);
        assertOneLineFailure(await serve(der, good.key), FAILURE_EXIT_CODE, "cert.der");
      });

      await t.step("a key that is not PEM", async () => {
        const noise = join(dir, "noise.pem");
        await Deno.writeFile(noise, new Uint8Array(256).map((_, i) => (i * 73 + 11) % 256));
        assertOneLineFailure(
          await serve(good.cert, noise),
          FAILURE_EXIT_CODE,
          "noise.pem",
          "not a PEM private key",
        );
      });

      await t.step("a PEM certificate with a damaged body", async () => {
        const damaged = join(dir, "damaged-cert.pem");
        await Deno.writeTextFile(
          damaged,
          "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        assertOneLineFailure(
          await serve(damaged, good.key),
          FAILURE_EXIT_CODE,
          `--cert "${damaged}"`,
          "cannot be used for HTTPS",
        );
      });

      await t.step("the key of another certificate", async () => {
        assertOneLineFailure(
          await serve(good.cert, other.key),
          FAILURE_EXIT_CODE,
          "does not fit",
        );
        assertOneLineFailure(
          await serve(other.cert, good.key),
          FAILURE_EXIT_CODE,
          "does not fit",
        );
      });

      await t.step("certificate and key swapped", async () => {
        assertOneLineFailure(
          await serve(good.key, good.cert),
          FAILURE_EXIT_CODE,
          "holds a private key, not a certificate",
          "did you swap --cert and --key?",
        );
      });

      await t.step("an encrypted key", async () => {
        const encrypted = join(dir, "encrypted-key.pem");
        await openssl([
          "pkcs8",
          "-topk8",
          "-in",
          good.key,
          "-passout",
          "pass:secret",
          "-out",
          encrypted,
        ]);
        assertOneLineFailure(
          await serve(good.cert, encrypted),
          FAILURE_EXIT_CODE,
          "encrypted-key.pem",
          "is encrypted",
        );
      });

      await t.step("--cert without --key is a usage error", async () => {
        const result = await runDevsrv(
          ["serve", "app.ts", "-p", "0", ...mode.args, "--cert", good.cert],
          dir,
        );
        assertOneLineFailure(result, USAGE_EXIT_CODE, "--cert was given without --key");
      });
    });
  });
}

function curlAvailable(): boolean {
  try {
    return new Deno.Command("curl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const HAS_CURL = curlAvailable();

async function fetchOver(
  url: string,
  certPem: string,
  protocol: "h1" | "h1+h2",
): Promise<{ status: number; body: string }> {
  // "h1+h2" offers both, as browsers do: --no-reload's Deno.serve picks
  // HTTP/2 (no Host header, only :authority), the reloader's front HTTP/1.1.
  const client = Deno.createHttpClient({
    caCerts: [certPem],
    http1: true,
    http2: protocol === "h1+h2",
  });
  try {
    const response = await fetch(url, { client });
    return { status: response.status, body: await response.text() };
  } finally {
    client.close();
  }
}

for (const mode of SERVE_MODES) {
  Deno.test({
    name: `devsrv serve (${mode.name}) --cert --key serves HTTPS and guards it`,
    ignore: NO_OPENSSL,
  }, async (t) => {
    await withTlsFiles(async (dir, good) => {
      const process = new DevsrvProcess(
        ["serve", "app.ts", "-p", "0", ...mode.args, "--cert", good.cert, "--key", good.key],
        { cwd: dir },
      );
      try {
        const url = new URL(await process.url());
        assert.equal(url.protocol, "https:");
        const port = Number(url.port);

        await t.step("fetch over HTTP/1.1, and as browsers offer it, gets the app", async () => {
          for (const protocol of ["h1", "h1+h2"] as const) {
            for (const name of ["localhost", "127.0.0.1"]) {
              const response = await fetchOver(`https://${name}:${port}/`, good.certPem, protocol);
              assert.equal(response.status, 200, `${protocol} ${name}: ${response.body}`);
              assert.equal(response.body, APP_TEXT);
            }
          }
        });

        await t.step("the status page answers over HTTPS", async () => {
          const response = await fetchOver(
            `https://localhost:${port}/__devsrv`,
            good.certPem,
            "h1+h2",
          );
          assert.equal(response.status, 200, response.body);
        });

        await t.step("a bad Host over TLS gets 403", async () => {
          for (const bad of ["evil.example", `evil.example@localhost:${port}`, "localhost evil"]) {
            const response = await sendRaw(
              tlsTo(port, good.certPem),
              rawRequest("GET / HTTP/1.1", [["Host", bad], ["Connection", "close"]]),
            );
            assert.equal(response.status, 403, `${bad}:\n${response.head}${response.body}`);
            assert.ok(!response.headers.has("access-control-allow-origin"));
          }
        });

        await t.step({
          name: "a rebound name in HTTP/2's :authority gets 403 (curl --resolve)",
          ignore: !HAS_CURL,
          fn: async () => {
            const { stdout } = await new Deno.Command("curl", {
              args: [
                "-s",
                "--http2",
                "--cacert",
                good.cert,
                "--resolve",
                `rebound.example:${port}:127.0.0.1`,
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
                `https://rebound.example:${port}/`,
              ],
              stdin: "null",
              stderr: "null",
            }).output();
            const [version, status] = new TextDecoder().decode(stdout).split(" ");
            assert.equal(status, "403", `HTTP/${version}`);
          },
        });
      } finally {
        await process.stop();
      }
    });
  });
}

const TLS_PROGRAMS = {
  "Deno.serve({ cert, key })": (port: number, version: string) =>
    `const cert = Deno.readTextFileSync("good-cert.pem");
const key = Deno.readTextFileSync("good-key.pem");
Deno.serve({ port: ${port}, cert, key }, (req) => new Response("${version} " + new URL(req.url).protocol));
`,
  "node:https createServer({ key, cert })": (port: number, version: string) =>
    `import https from "node:https";
import fs from "node:fs";
const options = { key: fs.readFileSync("good-key.pem"), cert: fs.readFileSync("good-cert.pem") };
https.createServer(options, (req, res) => res.end("${version} " + (req.socket.encrypted ? "https:" : "http:")))
  .listen(${port});
`,
};

for (const [name, source] of Object.entries(TLS_PROGRAMS)) {
  Deno.test({
    name: `a program serving HTTPS itself (${name}) is served over HTTPS with its own certificate`,
    ignore: NO_OPENSSL,
  }, async () => {
    await withTlsFiles(async (dir, good) => {
      const port = freePort();
      await Deno.writeTextFile(join(dir, "main.ts"), source(port, "v1"));
      const process = new DevsrvProcess(["serve", "main.ts"], { cwd: dir });
      try {
        const url = `https://localhost:${port}/`;
        const answer = () =>
          fetchOver(url, good.certPem, "h1").catch(() => ({ status: 0, body: "" }));
        await waitFor("v1 over HTTPS", async () => (await answer()).body === "v1 https:", 30_000);
        await Deno.writeTextFile(join(dir, "main.ts"), source(port, "v2"));
        await waitFor("v2 over HTTPS", async () => (await answer()).body === "v2 https:");
        assert.match(process.output, new RegExp(`Running on https://127\\.0\\.0\\.1:${port} `));
      } finally {
        assert.equal((await process.stop()).code, 0, process.output);
      }
    });
  });
}

Deno.test({
  name: "a plain Deno.serve program behind --cert --key says https in its own line and its URLs",
  ignore: NO_OPENSSL,
}, async () => {
  await withTlsFiles(async (dir, good) => {
    await Deno.writeTextFile(
      join(dir, "main.ts"),
      "Deno.serve((req) => new Response(new URL(req.url).protocol));\n",
    );
    const process = new DevsrvProcess(
      ["serve", "main.ts", "-p", "0", "--cert", good.cert, "--key", good.key],
      { cwd: dir },
    );
    try {
      const url = new URL(await process.url());
      assert.equal(url.protocol, "https:");
      const response = await fetchOver(`https://localhost:${url.port}/`, good.certPem, "h1");
      assert.equal(response.body, "https:");
      await process.waitForOutput(new RegExp(`Listening on https://127\\.0\\.0\\.1:${url.port}/`));
    } finally {
      assert.equal((await process.stop()).code, 0, process.output);
    }
  });
});
