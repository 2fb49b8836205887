/**
 * Compares the cold start of two devsrv checkouts (say, a commit exported
 * with `git archive` and the working tree): spawn → first 200 of the
 * bundled example, in starts whose order alternates, so that each pair sees
 * the same load on the machine.
 *
 * ```sh
 * mkdir /tmp/base && git archive <commit> | tar -x -C /tmp/base
 * deno run -A bench/ab_cold_start.ts /tmp/base . 20
 * ```
 *
 * Each start runs `deno run -A <root>/main.ts serve app.ts -p PORT` in
 * `<root>/examples/hello` (the watch root is the app's folder, as in a
 * project) and polls the port with `fetch` every millisecond. Arguments:
 * before root, after root, starts per checkout (20).
 *
 * @module
 */

import { resolve } from "node:path";
import { delay, freePort } from "./_process.ts";

const START_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();
function print(line: string): void {
  Deno.stdout.writeSync(encoder.encode(`${line}\n`));
}

/** One start of a checkout: ms from the spawn to the first 200. */
async function coldStart(root: string): Promise<number> {
  const port = freePort();
  const began = performance.now();
  const server = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}/main.ts`, "serve", "app.ts", "-p", String(port)],
    cwd: `${root}/examples/hello`,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    while (performance.now() - began < START_TIMEOUT_MS) {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/`);
        await response.body?.cancel();
        if (response.status === 200) return performance.now() - began;
      } catch (error) {
        // Not listening yet.
        if (!(error instanceof TypeError)) throw error;
        await delay(1);
      }
    }
    throw new Error(`${root}: no 200 within ${START_TIMEOUT_MS} ms`);
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) * q)]!;
}

if (import.meta.main) {
  const [before = "", after = "", count = "20"] = Deno.args;
  const roots = { before: resolve(before), after: resolve(after) };
  const starts = Number(count);
  const ms: Record<keyof typeof roots, number[]> = { before: [], after: [] };
  // One uncounted start each: Deno's caches are warm for both.
  await coldStart(roots.before);
  await coldStart(roots.after);
  for (let i = 0; i < starts; i++) {
    const order = i % 2 === 0 ? ["before", "after"] as const : ["after", "before"] as const;
    for (const which of order) ms[which].push(await coldStart(roots[which]));
  }
  for (const which of ["before", "after"] as const) {
    const values = ms[which];
    print(
      `${which.padEnd(6)} ${roots[which]}: p50 ${quantile(values, 0.5).toFixed(1)} ms, p25 ${
        quantile(values, 0.25).toFixed(1)
      }, p75 ${quantile(values, 0.75).toFixed(1)} (${values.length} starts)`,
    );
  }
}
