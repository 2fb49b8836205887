/**
 * The app's module graph, as Deno itself sees it: `deno info --json` on the
 * entry, run by the same Deno executable, in the same directory and with the
 * flags that change how Deno resolves modules. The result is every local
 * file the entry imports at any depth (modules, JSON, text and bytes
 * imports, dynamic imports whose specifier Deno can read: literals,
 * templates and concatenations with a literal prefix), one importer per
 * file, the npm packages and the `node:` built-ins the app's own modules
 * import.
 *
 * It fails soft and never prints: a syntax error or a missing module in the
 * app, a timeout, or a `deno` that cannot run gives `"unknown"` with a
 * reason, for the caller to fall back on something coarser.
 *
 * `deno info` does not say which configuration it used, so the
 * configuration files are found the way Deno finds them: `--config` when
 * given, else `deno.json`, `deno.jsonc` and `package.json` in the entry's
 * folder and every folder above it, the `deno.lock` beside them, and the
 * import map a `deno.json` names.
 *
 * Measured with Deno 2.9.6 on Linux (2 cores): about 13 ms for a small app,
 * about 29 ms for an Express app (`npm:express@5.1.0`, 69 npm packages, from
 * Deno's cache); `deno task bench` prints the figures of the machine it runs
 * on.
 *
 * @module
 */

import { firstLine } from "../errors.ts";

import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The app's module graph. Paths are absolute, as `deno info` prints them. */
export interface ModuleGraph {
  /** The entry module. */
  readonly entry: string;
  /** Every local file of the graph, the entry included. */
  readonly files: ReadonlySet<string>;
  /**
   * For each file, one module that imports it; `null` for the entry. The
   * importer is found breadth-first from the entry, so it lies on a
   * shortest chain of imports.
   */
  readonly importers: ReadonlyMap<string, string | null>;
  /** npm packages in the graph, as `name@version`, sorted. */
  readonly npmPackages: readonly string[];
  /** `node:` built-ins that local modules import themselves, e.g. `node:http`, sorted. */
  readonly nodeBuiltins: readonly string[];
  /** Configuration, lock and import map files Deno reads to resolve the graph, when they exist. */
  readonly configFiles: readonly string[];
}

/** What {@linkcode loadModuleGraph} found out. */
export type ModuleGraphResult =
  | {
    kind: "known";
    graph: ModuleGraph;
    /** How long it took, in ms. */
    ms: number;
  }
  | {
    kind: "unknown";
    /** Why, in one line, e.g. `app.ts: Module not found "file:///app/lib.ts"`. */
    reason: string;
    /** How long it took to find out, in ms. */
    ms: number;
  };

/** Options for {@linkcode loadModuleGraph}. */
export interface ModuleGraphOptions {
  /**
   * The Deno arguments the app runs with (e.g. `["run", "-A", "--config",
   * "deno.dev.json", "main.ts", "serve"]`); the flags that change
   * resolution are passed on, see {@linkcode resolutionFlags}.
   * @default {[]}
   */
  denoArgs?: readonly string[];
  /** The directory Deno runs in. @default {Deno.cwd()} */
  cwd?: string;
  /**
   * The Deno executable.
   * @default {Deno.execPath(), or "deno" from PATH in a compiled program}
   */
  denoPath?: string;
  /** How long `deno info` may take before it is killed, in ms. @default {10000} */
  timeoutMs?: number;
  /**
   * `"low"` runs `deno info` with the lowest CPU priority (`nice -n 19`,
   * where `nice` exists), so that on a busy machine it yields to the
   * processes that serve: the reloader refreshes the graph right after a
   * restart, while the next child boots.
   * @default {"normal"}
   */
  priority?: "normal" | "low";
  /** Stops waiting and kills `deno info`; the result is then `"unknown"`. */
  signal?: AbortSignal;
}

/** How long `deno info` may run by default. */
export const DEFAULT_GRAPH_TIMEOUT_MS = 10_000;
/** The program that lowers a command's CPU priority. */
const NICE = "nice";
/** `nice`'s lowest priority. */
const LOWEST_PRIORITY = 19;

/** The flags of Deno that take their value as the next argument (`-c deno.json`). */
const FLAGS_WITH_SEPARATE_VALUE = new Set([
  "--config",
  "-c",
  "--import-map",
  "--location",
  "--seed",
  "--cert",
  "--ext",
  "--preload",
  "--conditions",
  "--inspect-wait",
]);

/** Flags passed on as they are (with their `=value` if any). */
const PASSED_FLAG_NAMES = [
  "--no-config",
  "--node-modules-dir",
  "--vendor",
  "--no-remote",
  "--no-npm",
  "--unstable",
];

/** Flags passed on with their value, in either spelling. */
const PASSED_VALUE_FLAGS = ["--config", "-c", "--import-map"];

/** Deno's configuration file names, in the order Deno prefers them. */
const CONFIG_NAMES = ["deno.json", "deno.jsonc", "package.json"];

/** The lock file Deno finds beside its configuration. */
const LOCK_NAME = "deno.lock";

/**
 * Picks the flags that change how Deno resolves modules from a Deno
 * command line: `--config`/`-c`, `--no-config`, `--import-map`,
 * `--node-modules-dir`, `--vendor`, `--no-remote`, `--no-npm` and every
 * `--unstable*`. Only the flags before the script count; what follows the
 * script is its own arguments.
 *
 * `--lock` is not passed on: `deno info` writes the lock file it checks,
 * and a lock file that the reloader rewrites would be a change of its own
 * making. {@linkcode infoArgs} adds `--no-lock` instead, which leaves the
 * local files of the graph as they are.
 *
 * @param denoArgs A Deno command line without the executable, e.g.
 * `["run", "-A", "-c", "dev.json", "main.ts"]`.
 * @returns The flags, each value joined with `=`, in order.
 *
 * @example Keep the resolution flags, drop permissions and the script's arguments
 * ```ts
 * import { resolutionFlags } from "./module_graph.ts";
 *
 * const flags = resolutionFlags(["run", "-A", "-c", "dev.json", "--unstable-kv", "main.ts", "--no-config"]);
 * if (flags.join(" ") !== "--config=dev.json --unstable-kv") throw new Error(flags.join(" "));
 * ```
 */
export function resolutionFlags(denoArgs: readonly string[]): string[] {
  const flags: string[] = [];
  const args = denoArgs[0] === "run" || denoArgs[0] === "serve" ? denoArgs.slice(1) : denoArgs;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("-")) break; // the script
    const name = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    const separate = !arg.includes("=") && FLAGS_WITH_SEPARATE_VALUE.has(name);
    const value = separate ? args[++i] : arg.slice(name.length + 1);
    if (PASSED_VALUE_FLAGS.includes(name) && value !== undefined) {
      flags.push(`${name === "-c" ? "--config" : name}=${value}`);
    } else if (PASSED_FLAG_NAMES.some((flag) => name === flag || name.startsWith(`${flag}-`))) {
      flags.push(arg);
    }
  }
  return flags;
}

/**
 * The arguments of the `deno info` run for an entry.
 *
 * @param entry The entry module's path.
 * @param denoArgs The Deno command line the app runs with.
 * @returns `info --json --no-lock`, the resolution flags, the entry.
 */
export function infoArgs(entry: string, denoArgs: readonly string[] = []): string[] {
  return ["info", "--json", "--no-lock", ...resolutionFlags(denoArgs), entry];
}

/**
 * Works out the app's module graph with `deno info --json`.
 *
 * @param entry The entry module: an absolute path, or one relative to `cwd`.
 * @param options Deno's arguments, directory, executable and time limit.
 * @returns The graph, or `"unknown"` and why; never throws, never prints.
 *
 * @example The graph of a module that imports a JSON file
 * ```ts
 * import { loadModuleGraph } from "./module_graph.ts";
 *
 * const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devsrv_example_" }));
 * try {
 *   await Deno.writeTextFile(`${dir}/data.json`, '{"a":1}');
 *   await Deno.writeTextFile(
 *     `${dir}/main.ts`,
 *     'import data from "./data.json" with { type: "json" };\nconsole.log(data);\n',
 *   );
 *   const result = await loadModuleGraph(`${dir}/main.ts`, { cwd: dir });
 *   if (result.kind !== "known") throw new Error(result.reason);
 *   if (result.graph.importers.get(`${dir}/data.json`) !== `${dir}/main.ts`) throw new Error();
 * } finally {
 *   await Deno.remove(dir, { recursive: true });
 * }
 * ```
 */
export async function loadModuleGraph(
  entry: string,
  options: ModuleGraphOptions = {},
): Promise<ModuleGraphResult> {
  const started = performance.now();
  const cwd = options.cwd ?? Deno.cwd();
  const entryPath = resolve(cwd, entry);
  const ran = await runInfo(entryPath, cwd, options);
  const ms = Math.round(performance.now() - started);
  if (ran.kind === "failed") return { kind: "unknown", reason: ran.reason, ms };
  const parsed = parseModuleGraph(ran.json, entryPath, {
    configFiles: configFilesFor(entryPath, options.denoArgs ?? [], cwd),
  });
  return parsed.kind === "known"
    ? { kind: "known", graph: parsed.graph, ms }
    : { kind: "unknown", reason: parsed.reason, ms };
}

type InfoRun = { kind: "ran"; json: unknown } | { kind: "failed"; reason: string };

async function runInfo(
  entry: string,
  cwd: string,
  options: ModuleGraphOptions,
): Promise<InfoRun> {
  const denoPath = options.denoPath ?? (Deno.build.standalone ? "deno" : Deno.execPath());
  const timeoutMs = options.timeoutMs ?? DEFAULT_GRAPH_TIMEOUT_MS;
  const args = infoArgs(entry, options.denoArgs);
  const spawn = (command: string, commandArgs: string[]) =>
    new Deno.Command(command, {
      args: commandArgs,
      cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  let child: Deno.ChildProcess | undefined;
  if (options.priority === "low" && Deno.build.os !== "windows") {
    try {
      child = spawn(NICE, ["-n", String(LOWEST_PRIORITY), denoPath, ...args]);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error; // no nice: at normal priority
    }
  }
  try {
    child ??= spawn(denoPath, args);
  } catch (error) {
    if (!isSpawnError(error)) throw error;
    return { kind: "failed", reason: `cannot run ${denoPath}: ${firstLine(error)}` };
  }
  const stop = () => {
    try {
      child.kill("SIGKILL");
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // it has exited already
    }
  };
  const timer = setTimeout(stop, timeoutMs);
  options.signal?.addEventListener("abort", stop, { once: true });
  try {
    const { success, signal, stdout, stderr } = await child.output();
    if (options.signal?.aborted) return { kind: "failed", reason: "stopped" };
    if (signal === "SIGKILL") {
      return { kind: "failed", reason: `deno info took more than ${timeoutMs} ms` };
    }
    const decoder = new TextDecoder();
    if (!success) {
      return { kind: "failed", reason: `deno info failed: ${firstLine(decoder.decode(stderr))}` };
    }
    try {
      return { kind: "ran", json: JSON.parse(decoder.decode(stdout)) };
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return { kind: "failed", reason: "deno info printed no JSON" };
    }
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", stop);
  }
}

/** What `deno info --json` says about one module (the fields read here). */
interface InfoModule {
  kind?: string;
  specifier?: string;
  local?: string;
  error?: string;
  npmPackage?: string;
  dependencies?: {
    specifier?: string;
    isDynamic?: boolean;
    code?: { specifier?: string; error?: string };
    type?: { specifier?: string; error?: string };
  }[];
}

/** The result of {@linkcode parseModuleGraph}. */
export type ParsedModuleGraph =
  | { kind: "known"; graph: ModuleGraph }
  | { kind: "unknown"; reason: string };

/**
 * Reads the output of `deno info --json`.
 *
 * @param json The parsed output.
 * @param entry The entry's absolute path.
 * @param extra The configuration files to report with the graph.
 * @returns The graph, or `"unknown"` with the first error Deno reported
 * (a module that is missing or does not parse, a static import that does
 * not resolve) or why the JSON is not what `deno info` prints.
 *
 * @example A graph of two modules
 * ```ts
 * import { parseModuleGraph } from "./module_graph.ts";
 *
 * const parsed = parseModuleGraph({
 *   roots: ["file:///app/main.ts"],
 *   modules: [
 *     {
 *       kind: "esm",
 *       specifier: "file:///app/main.ts",
 *       dependencies: [{ specifier: "./db.ts", code: { specifier: "file:///app/db.ts" } }],
 *     },
 *     { kind: "esm", specifier: "file:///app/db.ts" },
 *   ],
 *   npmPackages: {},
 * }, "/app/main.ts");
 * if (parsed.kind !== "known") throw new Error(parsed.reason);
 * if (parsed.graph.importers.get("/app/db.ts") !== "/app/main.ts") throw new Error();
 * ```
 */
export function parseModuleGraph(
  json: unknown,
  entry: string,
  extra: { configFiles?: readonly string[] } = {},
): ParsedModuleGraph {
  const info = json as { roots?: unknown; modules?: unknown; npmPackages?: unknown };
  if (typeof info !== "object" || info === null || !Array.isArray(info.modules)) {
    return { kind: "unknown", reason: "deno info printed no module list" };
  }
  const modules = new Map<string, InfoModule>();
  for (const module of info.modules as InfoModule[]) {
    if (typeof module?.specifier === "string") modules.set(module.specifier, module);
  }
  const failed = [...modules.values()].find((module) => typeof module.error === "string");
  if (failed) return { kind: "unknown", reason: moduleError(failed) };
  const unresolved = firstUnresolvedImport(modules);
  if (unresolved) return { kind: "unknown", reason: unresolved };
  const rootSpecifier = Array.isArray(info.roots) && typeof info.roots[0] === "string"
    ? info.roots[0]
    : undefined;
  if (rootSpecifier === undefined || !modules.has(rootSpecifier)) {
    return { kind: "unknown", reason: "deno info did not list the entry" };
  }
  const walked = walkGraph(rootSpecifier, modules);
  const entryPath = localPath(rootSpecifier) ?? entry;
  return {
    kind: "known",
    graph: {
      entry: entryPath,
      files: new Set(walked.importers.keys()),
      importers: walked.importers,
      npmPackages: Object.keys(
        typeof info.npmPackages === "object" && info.npmPackages !== null ? info.npmPackages : {},
      ).sort(),
      nodeBuiltins: [...walked.nodeBuiltins].sort(),
      configFiles: [...(extra.configFiles ?? [])],
    },
  };
}

/** Breadth-first from the root: one importer per local file, and the built-ins local modules use. */
function walkGraph(
  root: string,
  modules: ReadonlyMap<string, InfoModule>,
): { importers: Map<string, string | null>; nodeBuiltins: Set<string> } {
  const importers = new Map<string, string | null>();
  const nodeBuiltins = new Set<string>();
  const rootPath = localPath(root);
  if (rootPath !== undefined) importers.set(rootPath, null);
  const seen = new Set([root]);
  const queue = [root];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const importer = localPath(next);
    for (const dependency of modules.get(next)?.dependencies ?? []) {
      for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
        if (target === undefined) continue;
        if (target.startsWith("node:") && importer !== undefined) nodeBuiltins.add(target);
        if (seen.has(target)) continue;
        seen.add(target);
        queue.push(target);
        const path = localPath(target);
        if (path !== undefined && importer !== undefined) importers.set(path, importer);
      }
    }
  }
  return { importers, nodeBuiltins };
}

function localPath(specifier: string): string | undefined {
  if (!specifier.startsWith("file:")) return undefined;
  try {
    return fileURLToPath(specifier);
  } catch (error) {
    if (error instanceof TypeError) return undefined; // a file: URL with a host, on Linux
    throw error;
  }
}

/**
 * The first static import Deno could not resolve (a bare name no import
 * map knows), which the app would fail on too. A dynamic import that does
 * not resolve is often optional (inside a `try`), so it does not count.
 */
function firstUnresolvedImport(modules: ReadonlyMap<string, InfoModule>): string | undefined {
  for (const module of modules.values()) {
    for (const dependency of module.dependencies ?? []) {
      const error = dependency.code?.error;
      if (error === undefined || dependency.isDynamic) continue;
      const where = localPath(module.specifier ?? "") ?? module.specifier ?? "a module";
      return `${where}: ${firstLine(error)}`;
    }
  }
  return undefined;
}

function moduleError(module: InfoModule): string {
  const where = localPath(module.specifier ?? "") ?? module.specifier ?? "a module";
  const message = firstLine(module.error ?? "");
  return message.includes(where) ? message : `${where}: ${message}`;
}

/**
 * The configuration, lock and import map files Deno reads for an entry:
 * `--config` when given (none with `--no-config`), else `deno.json`,
 * `deno.jsonc` and `package.json` in the entry's folder and every folder
 * above it; the `deno.lock` beside each of them; `--import-map`, and the
 * `importMap` a `deno.json` names. Only files that exist are listed.
 *
 * @param entry The entry's absolute path.
 * @param denoArgs The Deno command line the app runs with.
 * @param cwd The directory relative flag values start from.
 * @returns Absolute paths.
 */
export function configFilesFor(
  entry: string,
  denoArgs: readonly string[],
  cwd: string,
): string[] {
  const flags = resolutionFlags(denoArgs);
  const valueOf = (name: string) =>
    flags.find((flag) => flag.startsWith(`${name}=`))?.slice(name.length + 1);
  const found: string[] = [];
  const given = valueOf("--config");
  if (given !== undefined) found.push(resolve(cwd, given));
  else if (!flags.includes("--no-config")) {
    for (let dir = dirname(entry);; dir = dirname(dir)) {
      for (const name of [...CONFIG_NAMES, LOCK_NAME]) found.push(join(dir, name));
      if (dirname(dir) === dir) break;
    }
  }
  const importMap = valueOf("--import-map");
  if (importMap !== undefined) found.push(resolve(cwd, importMap));
  const existing = found.filter(isFile);
  for (const config of existing.filter((path) => /\.jsonc?$/.test(path))) {
    const named = importMapOf(config);
    if (named !== undefined && isFile(named)) existing.push(named);
  }
  return [...new Set(existing)];
}

/** The `importMap` a `deno.json` names, resolved from its folder. */
function importMapOf(config: string): string | undefined {
  if (config.endsWith("package.json")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripJsonComments(Deno.readTextFileSync(config)));
  } catch (error) {
    if (error instanceof SyntaxError || error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const value = (parsed as { importMap?: unknown } | null)?.importMap;
  if (typeof value !== "string" || /^[a-z]+:/i.test(value)) return undefined;
  return isAbsolute(value) ? value : resolve(dirname(config), value);
}

/** Drops `//` and `/* *\/` comments outside strings (JSONC). */
function stripJsonComments(text: string): string {
  return text.replace(
    /("(?:\\.|[^"\\])*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g,
    (_match, string) => string ?? "",
  );
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/** Not found, not executable, or not permitted (no `--allow-run`): no graph, no crash. */
function isSpawnError(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable;
}
