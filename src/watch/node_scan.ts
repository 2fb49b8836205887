/**
 * A quick look at a program's own modules, read as text, for the one thing
 * its first start must know before it runs: whether it may use Node's HTTP
 * layer (`node:` built-ins or npm packages), which the child then captures.
 * `deno info` answers that too (`module_graph.ts`), but it is a whole Deno
 * process that takes tens of milliseconds and shares the CPU with the
 * child's start; this scan takes a fraction of a millisecond for a small
 * app. Where it cannot be sure (a bare specifier an import map may send
 * anywhere, a remote module, CommonJS, JSX, a computed `import()`, too many
 * files) it says so, and the first start waits for `deno info` as before.
 *
 * The same look finds the folders of the program's own modules
 * ({@linkcode moduleFolders}): the first start watches them before the
 * program is read (`early_watch.ts`).
 *
 * @module
 */

import { dirname, extname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** What the scan found: Node's layer is used, it is not, or the scan cannot tell. */
export type NodeUse = "node" | "none" | "unknown";

/** Reads a file's text; `undefined` when it cannot be read. */
export type ReadSource = (path: string) => string | undefined;

/** More local modules than this are left to `deno info`. */
const MAX_FILES = 64;

/** Extensions of local modules the scan follows: ES modules without JSX. */
const FOLLOWED = new Set([".ts", ".js", ".mts", ".mjs"]);

/** Static imports and re-exports (`from "x"`), side-effect imports, `import("x")`. */
const SPECIFIER =
  /\bfrom\s*(["'])([^"'\n]*)\1|\bimport\s*(["'])([^"'\n]*)\3|\bimport\s*\(\s*(["'])([^"'\n]*)\5/g;
/** A dynamic `import(` whose argument is a plain string literal. */
const LITERAL_IMPORT = /\bimport\s*\(\s*(["'])[^"'\n]*\1\s*[,)]/g;
const ANY_IMPORT_CALL = /\bimport\s*\(/g;
/** CommonJS and `createRequire`: `deno info` is needed to know what they load. */
const REQUIRE = /\brequire\s*\(/;

/**
 * Scans a program's local modules for `node:` and `npm:` imports.
 *
 * @param entry The program's entry module, an absolute path.
 * @param read Reads a module's text.
 * @returns `"node"` as soon as one local module imports a `node:` built-in
 * or an npm package; `"none"` when every module was followed and none does;
 * `"unknown"` otherwise.
 *
 * @example An app with no imports
 * ```ts
 * import { scanForNode } from "./node_scan.ts";
 *
 * const files: Record<string, string> = { "/app/main.ts": 'export default { fetch: () => new Response("hi") };' };
 * if (scanForNode("/app/main.ts", (path) => files[path]) !== "none") throw new Error();
 * ```
 */
export function scanForNode(entry: string, read: ReadSource): NodeUse {
  const seen = new Set<string>([entry]);
  const queue = [entry];
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    if (!FOLLOWED.has(extname(path))) return "unknown";
    const text = read(path);
    if (text === undefined || REQUIRE.test(text) || hasComputedImport(text)) return "unknown";
    for (const specifier of specifiers(text)) {
      const target = localTarget(specifier, path);
      if (target === "node") return "node";
      if (target === undefined) return "unknown";
      if (target === null || seen.has(target)) continue;
      if (seen.size >= MAX_FILES) return "unknown";
      seen.add(target);
      queue.push(target);
    }
  }
  return "none";
}

/** Extensions of local modules whose imports {@linkcode moduleFolders} reads: JSX too. */
const READ_FOR_FOLDERS = new Set([...FOLLOWED, ".tsx", ".jsx", ".cts", ".cjs"]);

/**
 * The folders of a program's local modules: its entry's, and those of the
 * modules it imports by relative or `file:` specifiers, at any depth, as far
 * as plain string specifiers tell (bare specifiers, which an import map may
 * send anywhere, are not followed).
 *
 * @param entry The program's entry module, an absolute path.
 * @param read Reads a module's text.
 * @param maxFiles Stops after this many modules.
 * @returns Absolute folder paths, the entry's first.
 *
 * @example An entry that imports a module from a subfolder
 * ```ts
 * import { moduleFolders } from "./node_scan.ts";
 *
 * const files: Record<string, string> = {
 *   "/app/main.ts": 'import { db } from "./lib/db.ts"; import "npm:hono";',
 *   "/app/lib/db.ts": 'import data from "../data/seed.json" with { type: "json" };',
 * };
 * const folders = moduleFolders("/app/main.ts", (path) => files[path]);
 * if (folders.join() !== "/app,/app/lib,/app/data") throw new Error(folders.join());
 * ```
 */
export function moduleFolders(entry: string, read: ReadSource, maxFiles = MAX_FILES): string[] {
  const seen = new Set<string>([entry]);
  const folders = new Set<string>();
  const queue = [entry];
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    folders.add(dirname(path));
    const text = READ_FOR_FOLDERS.has(extname(path)) ? read(path) : undefined;
    for (const specifier of text === undefined ? [] : specifiers(text)) {
      const target = localPath(specifier, path);
      if (target === undefined || seen.has(target)) continue;
      if (seen.size >= maxFiles) return [...folders];
      seen.add(target);
      queue.push(target);
    }
  }
  return [...folders];
}

function specifiers(text: string): string[] {
  return [...text.matchAll(SPECIFIER)].map((match) => match[2] ?? match[4] ?? match[6] ?? "");
}

/** Whether an `import(` takes anything but a string literal. */
function hasComputedImport(text: string): boolean {
  const calls = text.match(ANY_IMPORT_CALL)?.length ?? 0;
  return calls > (text.match(LITERAL_IMPORT)?.length ?? 0);
}

/**
 * Where a specifier leads: `"node"` for a built-in or an npm package, the
 * absolute path of a local module to follow, `null` for a JSON file (it
 * imports nothing), `undefined` for anything the scan cannot follow.
 */
function localTarget(specifier: string, from: string): string | "node" | null | undefined {
  if (specifier.startsWith("node:") || specifier.startsWith("npm:")) return "node";
  const path = localPath(specifier, from);
  if (path === undefined) return undefined;
  return extname(path) === ".json" ? null : path;
}

/** The absolute path a relative, absolute or `file:` specifier leads to; `undefined` for others. */
function localPath(specifier: string, from: string): string | undefined {
  if (specifier.startsWith("./") || specifier.startsWith("../") || specifier.startsWith("/")) {
    return resolve(dirname(from), specifier);
  }
  if (specifier.startsWith("file:") && URL.canParse(specifier)) return fileURLToPath(specifier);
  return undefined; // bare (an import map's), jsr:, http(s):, data:
}

/**
 * Reads a module's text for {@linkcode scanForNode}.
 *
 * @param path An absolute path.
 * @returns The text, or `undefined` when it cannot be read.
 */
export function readSourceOrUndefined(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    // Missing, a directory, not readable, or not allowed: deno info says what it is.
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory ||
      error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable
    ) {
      return undefined;
    }
    throw error;
  }
}
