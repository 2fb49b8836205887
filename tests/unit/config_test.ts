/**
 * Where `devsrv serve`'s options come from, as pure logic and real files:
 * the environment, deno.json's `"devsrv"` section, JSONC, precedence, and
 * the one-line errors for bad variables and keys.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseJsonc } from "../../src/cli/_jsonc.ts";
import { parseCommand } from "../../src/cli/args.ts";
import { formatConfig, pollWhereEventsFail, resolveServeOptions } from "../../src/cli/config.ts";
import { envLayer } from "../../src/cli/environment.ts";
import { resolveLayers } from "../../src/cli/layers.ts";
import { configLayer, findProjectConfig } from "../../src/cli/project_config.ts";
import { UsageError } from "../../src/errors.ts";
import { DEFAULT_DEBOUNCE_MS } from "../../src/options.ts";
import { parseMounts } from "../../src/watch/mounts.ts";
import { withTempDir } from "../_harness/devsrv.ts";

function envOf(env: Record<string, string>) {
  return (name: string) => env[name];
}

function flagsOf(args: string[]) {
  const command = parseCommand(["serve", ...args]);
  if (command.kind !== "serve") throw new Error("not serve");
  return command;
}

Deno.test("envLayer() reads every option as DEVSRV_<OPTION>", () => {
  const layer = envLayer(envOf({
    DEVSRV_APP: "main.ts",
    DEVSRV_HOST: "[::1]",
    DEVSRV_PORT: "3000",
    DEVSRV_RELOAD: "0",
    DEVSRV_QUIET: "yes",
    DEVSRV_VERBOSE: "1",
    DEVSRV_WATCH: "../shared, lib",
    DEVSRV_EXT: "ts,.HTML",
    DEVSRV_IGNORE: "data/**",
    DEVSRV_GITIGNORE: "off",
    DEVSRV_DEBOUNCE: "10",
    DEVSRV_POLL: "1",
    DEVSRV_INTERVAL: "250",
    DEVSRV_GRACE: "100",
    DEVSRV_HEAD_START: "0",
    DEVSRV_DOTFILES: "TRUE",
    DEVSRV_CORS: "http://localhost:5173,http://127.0.0.1:3000",
    DEVSRV_LIVE_RELOAD: "false",
    DEVSRV_OPEN: "on",
    DEVSRV_ALLOWED_HOST: "dev.test,.app.test",
    DEVSRV_CERT: "c.pem",
    DEVSRV_KEY: "k.pem",
  }));
  const { options, origins } = resolveLayers([layer], []);
  assert.deepEqual(options, {
    entry: "main.ts",
    host: "::1",
    port: 3000,
    args: [],
    reload: false,
    quiet: true,
    verbose: true,
    watch: ["../shared", "lib"],
    ext: ["ts", "html"],
    ignore: ["data/**"],
    gitignore: false,
    debounceMs: 10,
    poll: true,
    intervalMs: 250,
    graceMs: 100,
    headStart: false,
    dotfiles: true,
    liveReload: false,
    open: true,
    allowedHosts: ["dev.test", ".app.test"],
    cert: "c.pem",
    key: "k.pem",
    cors: ["http://localhost:5173", "http://127.0.0.1:3000"],
  });
  assert.deepEqual(origins.liveReload, { kind: "env", name: "DEVSRV_LIVE_RELOAD" });
});

Deno.test("envLayer() takes PORT and HOST, below DEVSRV_PORT and DEVSRV_HOST, and skips empty values", () => {
  const plain = envLayer(envOf({ PORT: "4000", HOST: "0.0.0.0", DEVSRV_RELOAD: "" }));
  assert.deepEqual(plain.port, { value: 4000, origin: { kind: "env", name: "PORT" } });
  assert.deepEqual(plain.host, { value: "0.0.0.0", origin: { kind: "env", name: "HOST" } });
  assert.equal(plain.reload, undefined, "an empty variable is unset");
  const both = envLayer(envOf({ PORT: "4000", DEVSRV_PORT: "5000" }));
  assert.deepEqual(both.port, { value: 5000, origin: { kind: "env", name: "DEVSRV_PORT" } });
});

Deno.test("envLayer() names the variable whose value cannot be read", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ DEVSRV_RELOAD: "maybe" }, /^DEVSRV_RELOAD="maybe" is neither on nor off$/],
    [{ PORT: "http" }, /^PORT="http" is not a whole number$/],
    [{ DEVSRV_PORT: "70000" }, /^DEVSRV_PORT=70000 is out of range$/],
    [{ DEVSRV_DEBOUNCE: "-1" }, /^DEVSRV_DEBOUNCE=-1 is out of range$/],
    [{ HOST: "a b" }, /^HOST="a b" is not a host name or address$/],
    [{ DEVSRV_EXT: "," }, /^DEVSRV_EXT is empty$/],
    [{ DEVSRV_CORS: "localhost:5173" }, /^DEVSRV_CORS="localhost:5173" is not an origin$/],
    [
      { DEVSRV_ALLOWED_HOST: "http://dev.test" },
      /^DEVSRV_ALLOWED_HOST="http:\/\/dev.test" is a URL/,
    ],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => envLayer(envOf(env)), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, pattern);
      assert.ok(
        error.fix?.includes(Object.keys(env)[0]!),
        `the fix names the variable: ${error.fix}`,
      );
      return true;
    });
  }
});

Deno.test("configLayer() reads long flag names, and starts relative paths at the file's folder", () => {
  const layer = configLayer({
    app: "src/main.ts",
    port: 3000,
    watch: ["../shared"],
    ignore: "data/**",
    poll: false,
    "live-reload": false,
    cert: "/etc/dev/cert.pem",
    key: "key.pem",
  }, "/home/me/app/deno.json");
  const { options, origins } = resolveLayers([layer], []);
  assert.equal(options.entry, "/home/me/app/src/main.ts");
  assert.equal(options.port, 3000);
  assert.deepEqual(options.watch, ["/home/me/shared"]);
  assert.deepEqual(options.ignore, ["data/**"], "globs stay relative to each watch root");
  assert.equal(options.poll, false);
  assert.equal(options.liveReload, false);
  assert.equal(options.cert, "/etc/dev/cert.pem");
  assert.equal(options.key, "/home/me/app/key.pem");
  assert.deepEqual(origins.poll, { kind: "config", file: "/home/me/app/deno.json" });
});

Deno.test("configLayer() names the key, the file and the fix for an unknown key or a wrong type", () => {
  const file = "/app/deno.json";
  const cases: [Record<string, unknown>, RegExp, RegExp][] = [
    [{ prot: 3000 }, /^unknown key "prot" in the "devsrv" section of \/app\/deno.json$/, /"port"/],
    [{ liveReload: false }, /unknown key "liveReload"/, /"live-reload"/],
    [{ "no-reload": true }, /unknown key "no-reload"/, /"reload": false/],
    [
      { port: "3000" },
      /^"port": "3000" in \/app\/deno.json is not a whole number$/,
      /"port": 3000/,
    ],
    [{ port: 3.5 }, /"port": 3.5 in \/app\/deno.json is not a whole number/, /0 to 65535/],
    [{ port: 99999 }, /"port": 99999 in \/app\/deno.json is out of range/, /0 to 65535/],
    [{ poll: "yes" }, /^"poll": "yes" in \/app\/deno.json is not true or false$/, /"poll": true/],
    [{ watch: [1] }, /"watch": \[1\] in \/app\/deno.json is not a string or a list/, /\["/],
    [{ host: 1 }, /"host": 1 in \/app\/deno.json is not a string/, /"host": "/],
    [{ cors: ["*.test"] }, /"cors": "\*.test" in \/app\/deno.json is not an origin/, /"cors"/],
  ];
  for (const [section, message, fix] of cases) {
    assert.throws(() => configLayer(section, file), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.equal(error.exitCode, 2);
      assert.match(error.message, message);
      assert.match(error.fix ?? "", fix);
      return true;
    }, JSON.stringify(section));
  }
});

Deno.test("resolveServeOptions() takes flags, then the environment, then deno.json, then defaults", async () => {
  await withTempDir({
    "deno.jsonc": `{
  // devsrv's own section; Deno ignores it
  "devsrv": { "port": 3000, "host": "127.0.0.2", "quiet": true, "watch": ["lib"], },
}
`,
  }, (dir) => {
    const env = envOf({ PORT: "4000", DEVSRV_HOST: "127.0.0.3" });
    const cases: [string[], Record<string, string>, number, string, boolean][] = [
      [[], {}, 3000, "127.0.0.2", true],
      [[], { PORT: "4000" }, 4000, "127.0.0.2", true],
      [["-p", "5000", "--host", "127.0.0.4", "--no-quiet"], {}, 5000, "127.0.0.4", false],
    ];
    for (const [args, vars, port, host, quiet] of cases) {
      const config = resolveServeOptions(flagsOf(args), { cwd: dir, env: envOf(vars) });
      assert.equal(config.options.port, port, args.join(" "));
      assert.equal(config.options.host, host);
      assert.equal(config.options.quiet, quiet);
      assert.deepEqual(config.options.watch, [`${dir}/lib`]);
      assert.equal(config.options.debounceMs, DEFAULT_DEBOUNCE_MS);
      assert.equal(config.configFile, `${dir}/deno.jsonc`);
    }
    const config = resolveServeOptions(flagsOf(["-p", "5000"]), { cwd: dir, env });
    assert.deepEqual(config.origins.port, { kind: "flag", name: "--port" });
    assert.deepEqual(config.origins.host, { kind: "env", name: "DEVSRV_HOST" });
    assert.deepEqual(config.origins.quiet, { kind: "config", file: `${dir}/deno.jsonc` });
    assert.deepEqual(config.origins.graceMs, { kind: "default" });
    const text = formatConfig(config, dir);
    assert.match(text, /^configuration file: deno\.jsonc$/m);
    assert.match(text, /^ {2}port +5000 +--port +DEVSRV_PORT, PORT$/m);
    assert.match(text, /^ {2}host +127\.0\.0\.3 +env DEVSRV_HOST +DEVSRV_HOST, HOST$/m);
    assert.match(text, /^ {2}quiet +true +deno\.jsonc +DEVSRV_QUIET$/m);
    assert.match(text, /^ {2}watch +lib +deno\.jsonc/m);
    assert.match(text, /^ {2}grace +5000 +default/m);
    return Promise.resolve();
  });
});

Deno.test("findProjectConfig() finds the nearest deno.json, preferring it to deno.jsonc, from a subfolder up", async () => {
  await withTempDir({
    "deno.json": "{}",
    "deno.jsonc": "{}",
    "web/deno.jsonc": "{}",
    "web/src/app.ts": "",
    "api/src/main.ts": "",
  }, async (dir) => {
    assert.equal(findProjectConfig(dir), `${dir}/deno.json`);
    assert.equal(findProjectConfig(`${dir}/web/src`), `${dir}/web/deno.jsonc`);
    assert.equal(findProjectConfig(`${dir}/api/src`), `${dir}/deno.json`);
    await Promise.resolve();
  });
});

Deno.test("resolveServeOptions() reports a deno.json that is not JSON, or a section that is not an object", async () => {
  await withTempDir(
    { "a/deno.json": '{ "devsrv": { "port": 1 ', "b/deno.json": '{ "devsrv": 3 }' },
    (dir) => {
      assert.throws(
        () => resolveServeOptions(flagsOf([]), { cwd: `${dir}/a`, env: envOf({}) }),
        /deno\.json is not valid JSON: .*line 1/,
      );
      assert.throws(
        () => resolveServeOptions(flagsOf([]), { cwd: `${dir}/b`, env: envOf({}) }),
        /"devsrv" in .*b\/deno\.json is not an object/,
      );
      return Promise.resolve();
    },
  );
});

Deno.test("resolveServeOptions() names the sources when --cert and --key come apart", () => {
  const env = envOf({ DEVSRV_CERT: "c.pem" });
  assert.throws(
    () => resolveServeOptions(flagsOf([]), { cwd: "/", env, configFile: null }),
    /: DEVSRV_CERT was given without DEVSRV_KEY$/,
  );
  assert.throws(
    () =>
      resolveServeOptions(flagsOf(["--key", "k.pem"]), {
        cwd: "/",
        env: envOf({}),
        configFile: null,
      }),
    /: --key was given without --cert$/,
  );
  const both = resolveServeOptions(flagsOf(["--key", "k.pem"]), {
    cwd: "/",
    env,
    configFile: null,
  });
  assert.equal(both.options.cert, "c.pem", "one from the environment, one from a flag");
});

Deno.test("parseJsonc() reads comments and trailing commas, as Deno reads deno.json", () => {
  const text = `{
  // a comment
  "a": "not // a comment, /* nor this */",
  /* a block
     comment */ "b": [1, 2, ],
  "c": { "d": "\\"}", },
}`;
  assert.deepEqual(parseJsonc(text), {
    a: "not // a comment, /* nor this */",
    b: [1, 2],
    c: { d: '"}' },
  });
  assert.throws(() => parseJsonc('{\n  "a": 1\n  "b": 2\n}'), /line 3 column 3/);
});

Deno.test("pollWhereEventsFail() polls on a network, FUSE or WSL mount, unless polling was set", () => {
  const mounts = parseMounts([
    "/dev/vda / ext4 rw 0 0",
    "nas:/export /srv/nas nfs4 rw 0 0",
    "C:\\134 /mnt/c 9p rw 0 0",
    "me@host:/code /home/me/remote\\040code fuse.sshfs rw 0 0",
    "tmpfs /srv/nas/tmp tmpfs rw 0 0",
  ].join("\n"));
  const config = (args: string[]) =>
    resolveServeOptions(flagsOf(args), { cwd: "/", env: envOf({}), configFile: null });
  const eventless: [string, string][] = [
    ["/mnt/c/Users/me/app", "9p"],
    ["/srv/nas/app", "nfs4"],
    ["/home/me/remote code", "fuse.sshfs"],
  ];
  for (const [cwd, type] of eventless) {
    const resolved = config([]);
    const line = pollWhereEventsFail(resolved, cwd!, mounts);
    assert.match(
      line ?? "",
      new RegExp(
        `^\\. is on a ${
          type.replace(".", "\\.")
        } file system \\(.+\\), where file events do not arrive · polling every 500 ms`,
      ),
    );
    assert.equal(resolved.options.poll, true);
    assert.equal(resolved.origins.poll.kind, "auto");
  }
  const local = config([]);
  assert.equal(
    pollWhereEventsFail(local, "/srv/nas/tmp/app", mounts),
    undefined,
    "the inner mount counts",
  );
  assert.equal(local.options.poll, false);
  const watched = config(["--watch", "/srv/nas/shared"]);
  assert.match(
    pollWhereEventsFail(watched, "/home/me/app", mounts) ?? "",
    /^\.\.\/\.\.\/\.\.\/srv\/nas\/shared is on a nfs4/,
  );
  for (const args of [["--no-poll"], ["--poll"], ["--no-reload"]]) {
    const chosen = config(args);
    assert.equal(pollWhereEventsFail(chosen, "/mnt/c/app", mounts), undefined, args.join(" "));
  }
  assert.equal(
    pollWhereEventsFail(config([]), "/mnt/c/app", undefined),
    undefined,
    "no /proc/mounts",
  );
});
