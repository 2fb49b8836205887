/**
 * The front's JavaScript work per request head, in two checkouts: head
 * parsing, plus (where the checkout has them) devsrv's screen and the
 * rewriter's request check from `frontPolicy`. The time is the best of many
 * batches, which a busy machine disturbs far less than a throughput run;
 * the allocation is the heap growth per head with no collection between.
 *
 * ```sh
 * mkdir /tmp/base && git archive <commit> | tar -x -C /tmp/base
 * deno run -A bench/ab_hot_path.ts /tmp/base .
 * ```
 *
 * Each checkout runs in its own process (V8 would otherwise share one call
 * site's type feedback between the two), three times, alternating.
 *
 * @module
 */

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

type Parse = (buf: Uint8Array, start: number, end: number) => unknown;
type Screen = (head: never) => Response | undefined;
type WantsRequest = (head: never) => boolean;

/** What one checkout does with a request head. */
interface Variant {
  name: string;
  handle(bytes: Uint8Array): unknown;
}

const BATCH = 2_000;
const BATCHES = 500;
const ALLOCATION_HEADS = 10_000;

const encoder = new TextEncoder();
const REQUESTS = {
  "wrk request": "GET /api/time HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
  "browser subresource": "GET /app.css HTTP/1.1\r\nHost: localhost:8000\r\n" +
    "Connection: keep-alive\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 " +
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\nAccept: text/css,*/*;q=0.1\r\n" +
    "Sec-Fetch-Site: same-origin\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: style\r\n" +
    "Referer: http://localhost:8000/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n",
};

function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

async function loadVariant(name: string, root: string): Promise<Variant> {
  const base = pathToFileURL(resolve(root)).href;
  // The modules' places now, then before the layout by subsystem (src/reloader/).
  const http1 = await importFirst(base, ["src/front/http1.ts", "src/reloader/http1.ts"]) as {
    parseRequestHead: Parse;
  };
  let policy: { screen?: Screen; rewriter?: { wantsRequest: WantsRequest } } = {};
  try {
    const module = await importFirst(base, [
      "src/supervisor/front_policy.ts",
      "src/reloader/front_policy.ts",
    ]);
    policy = module.frontPolicy({ allowedHosts: [], liveReload: true }, () => "/s.js");
  } catch (error) {
    // A checkout from before the front had a policy: parsing is all it does.
    if (!(error instanceof TypeError)) throw error;
  }
  const { screen, rewriter } = policy;
  return {
    name,
    handle(bytes) {
      const head = http1.parseRequestHead(bytes, 0, bytes.length) as never;
      if (screen?.(head) !== undefined) throw new Error("the bench's Host is refused");
      rewriter?.wantsRequest(head);
      return head;
    },
  };
}

/** Imports the first of the paths that exists in the checkout at `base`. */
// deno-lint-ignore no-explicit-any
async function importFirst(base: string, paths: string[]): Promise<any> {
  for (const path of paths) {
    try {
      Deno.statSync(new URL(`${base}/${path}`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    return await import(`${base}/${path}`);
  }
  throw new TypeError(`none of ${paths.join(", ")} in ${base}`);
}

function bestNsPerHead(variant: Variant, bytes: Uint8Array): number {
  let best = Infinity;
  for (let batch = 0; batch < BATCHES; batch++) {
    const started = performance.now();
    for (let i = 0; i < BATCH; i++) variant.handle(bytes);
    best = Math.min(best, ((performance.now() - started) * 1e6) / BATCH);
  }
  return best;
}

function bytesPerHead(variant: Variant, bytes: Uint8Array): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return NaN;
  const kept: unknown[] = new Array(ALLOCATION_HEADS);
  gc();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < ALLOCATION_HEADS; i++) kept[i] = variant.handle(bytes);
  return (Deno.memoryUsage().heapUsed - before) / ALLOCATION_HEADS;
}

/** Measures one checkout in this process: every figure for one request kind. */
async function measure(root: string): Promise<Record<string, [number, number]>> {
  const variant = await loadVariant(root, root);
  const figures: Record<string, [number, number]> = {};
  for (const [what, text] of Object.entries(REQUESTS)) {
    const bytes = encoder.encode(text);
    for (let i = 0; i < BATCH; i++) variant.handle(bytes); // warm up
    figures[what] = [bestNsPerHead(variant, bytes), bytesPerHead(variant, bytes)];
  }
  return figures;
}

/** Runs {@linkcode measure} in a fresh process, so two checkouts never share a call site's feedback. */
async function measureApart(root: string): Promise<Record<string, [number, number]>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `--v8-flags=${V8_FLAGS}`,
      new URL(import.meta.url).pathname,
      "--one",
      root,
    ],
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`measuring ${root} failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** Each checkout is measured this often, alternating; the best figures count. */
const ROUNDS = 3;
const V8_FLAGS = "--expose-gc,--min-semi-space-size=256,--max-semi-space-size=256";

async function main(): Promise<void> {
  const [first = "", second = ""] = Deno.args;
  if (first === "--one") {
    print(JSON.stringify(await measure(second)));
    return;
  }
  if (first === "" || second === "") {
    print("usage: deno run -A bench/ab_hot_path.ts BEFORE_ROOT AFTER_ROOT");
    return;
  }
  const best: Record<string, Record<string, [number, number]>> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, root] of [["before", first], ["after", second]] as const) {
      const figures = await measureApart(root);
      for (const [what, [ns, bytes]] of Object.entries(figures)) {
        const kept = (best[what] ??= {})[name];
        best[what]![name] = kept === undefined ? [ns, bytes] : [Math.min(kept[0], ns), bytes];
      }
    }
  }
  for (const [what, byName] of Object.entries(best)) {
    const line = Object.entries(byName).map(([name, [ns, bytes]]) =>
      `${name} ${ns.toFixed(0)} ns, ${bytes.toFixed(0)} bytes`
    );
    print(`${what}: ${line.join("; ")} per head`);
  }
}

if (import.meta.main) await main();
