/**
 * A stress run for saves made while devsrv starts: each launch serves a
 * fresh temp-dir app (`app.ts` answering "v1"), saves "v2" a chosen delay
 * after the launch, then polls the app until it answers "v2" (a deadline
 * of a few seconds) and counts a launch that never does as a miss.
 *
 * Not a test: it sweeps delays and write styles over many real launches to
 * find rare races. Only 127.0.0.1; it ends only the processes it started.
 *
 * ```sh
 * deno run -A scripts/stress_launch_save.ts --from 0 --to 600 --step 20 --rounds 3 \
 *   --styles truncate,rename,rename-slow,backup
 * ```
 *
 * Write styles:
 * - `truncate`: `Deno.writeTextFile` (open with truncate, write; same inode);
 * - `rename`: write a temp file, rename it over `app.ts` (a new inode);
 * - `rename-slow`: the same with `--gap` ms between the write and the rename,
 *   as an editor's safe write that syncs the temp file first;
 * - `backup`: rename `app.ts` to `app.ts~`, then write a new `app.ts`;
 * - `preserve`: write v2, then set its mtime back to v1's (as `cp -p`,
 *   `rsync -t` or `tar` do).
 *
 * @module
 */

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const STYLES = ["truncate", "rename", "rename-slow", "backup", "preserve"] as const;
type Style = typeof STYLES[number];

const DEFAULTS = {
  from: "0",
  to: "600",
  step: "20",
  rounds: "1",
  styles: "truncate,rename",
  gap: "30",
  deadline: "4000",
  main: MAIN,
  parallel: "1",
  verbose: "",
  keep: "",
};

/** `--name value` pairs and bare `--name` switches, over the defaults. */
function parseFlags(args: readonly string[]): typeof DEFAULTS {
  const flags = { ...DEFAULTS };
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!.replace(/^--/, "");
    if (!(name in flags)) throw new Error(`Unknown flag "${args[i]}"`);
    const key = name as keyof typeof DEFAULTS;
    flags[key] = key === "verbose" || key === "keep" ? "yes" : args[++i] ?? "";
  }
  return flags;
}

const flags = parseFlags(Deno.args);

const app = (version: string) =>
  `export default { fetch: () => new Response(${JSON.stringify(version)}) };\n`;

function print(line: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function bodyAt(url: string): Promise<string | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return await response.text();
  } catch {
    return undefined; // not up yet, or restarting
  }
}

async function save(dir: string, style: Style, gapMs: number): Promise<void> {
  const path = `${dir}/app.ts`;
  const next = app("v2");
  switch (style) {
    case "truncate":
      Deno.writeTextFileSync(path, next);
      return;
    case "rename":
    case "rename-slow": {
      const temp = `${dir}/.app.ts.${crypto.randomUUID().slice(0, 8)}.tmp`;
      Deno.writeTextFileSync(temp, next);
      if (style === "rename-slow") await new Promise((r) => setTimeout(r, gapMs));
      Deno.renameSync(temp, path);
      return;
    }
    case "backup":
      Deno.renameSync(path, `${path}~`);
      Deno.writeTextFileSync(path, next);
      return;
    case "preserve": {
      const before = Deno.statSync(path);
      Deno.writeTextFileSync(path, next);
      Deno.utimeSync(path, before.atime ?? new Date(), before.mtime ?? new Date());
      return;
    }
  }
}

interface Outcome {
  style: Style;
  delayMs: number;
  ok: boolean;
  savedAtMs: number;
  output: string;
  dir: string;
}

async function launch(style: Style, delayMs: number): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "devsrv_launch_save_" });
  await Deno.writeTextFile(`${dir}/app.ts`, app("v1"));
  const port = freePort();
  const url = `http://127.0.0.1:${port}/`;
  const args = ["run", "-A", flags.main, "serve", "app.ts", "-p", String(port)];
  if (flags.verbose) args.push("--verbose");
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const launchedAt = performance.now();
  let output = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  await new Promise((r) => setTimeout(r, Math.max(0, delayMs - (performance.now() - launchedAt))));
  const savedAt = performance.now();
  await save(dir, style, Number(flags.gap));
  let ok = false;
  const deadline = performance.now() + Number(flags.deadline);
  while (performance.now() < deadline) {
    if (await bodyAt(url) === "v2") {
      ok = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  try {
    child.kill("SIGTERM");
  } catch {
    // gone already
  }
  await child.status;
  await reading;
  if (ok || !flags.keep) await Deno.remove(dir, { recursive: true });
  return { style, delayMs, ok, savedAtMs: Math.round(savedAt - launchedAt), output, dir };
}

const styles = flags.styles.split(",").map((s) => s.trim()) as Style[];
for (const style of styles) {
  if (!STYLES.includes(style)) throw new Error(`Unknown style "${style}"`);
}
const jobs: Array<[Style, number]> = [];
for (let round = 0; round < Number(flags.rounds); round++) {
  for (let d = Number(flags.from); d <= Number(flags.to); d += Number(flags.step)) {
    for (const style of styles) jobs.push([style, d]);
  }
}
const results: Outcome[] = [];
const parallel = Number(flags.parallel);
let next = 0;
await Promise.all(Array.from({ length: parallel }, async () => {
  while (next < jobs.length) {
    const [style, delay] = jobs[next++]!;
    const outcome = await launch(style, delay);
    results.push(outcome);
    if (!outcome.ok) {
      print(
        `MISS style=${style} delay=${delay} saved at ${outcome.savedAtMs} ms dir=${outcome.dir}`,
      );
      print(outcome.output.split("\n").map((l) => `    | ${l}`).join("\n"));
    }
  }
}));
for (const style of styles) {
  const mine = results.filter((r) => r.style === style);
  const misses = mine.filter((r) => !r.ok);
  print(
    `${style}: ${misses.length} misses in ${mine.length} launches` +
      (misses.length ? ` (saved at ${misses.map((m) => m.savedAtMs).join(", ")} ms)` : ""),
  );
}
