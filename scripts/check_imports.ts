/**
 * Checks that devsrv's modules import only downward and never in a
 * circle, as the layout in README's "Architecture" promises:
 *
 * 1. the entry: `main.ts`, `src/mod.ts`, `src/run.ts`, `src/cli/`;
 * 2. the parent's role: `src/supervisor/`;
 * 3. the child's and the single process's roles: `src/serve/`;
 * 4. the subsystems: `src/front/`, `src/watch/`, `src/live_reload/`,
 *    `src/static/`, `src/security/`, `src/pages/`, `src/listen/`,
 *    `src/channel/`, which may import each other as long as no two
 *    folders do so both ways;
 * 5. the shared modules at the root of `src/`.
 *
 * A module imports from its own folder and from the layers below its own
 * (type-only and dynamic imports count too); the modules form no cycle, nor
 * do the folders. And the code that runs in front of a user's program,
 * `src/serve/preload.ts`, imports no `node:` and no `npm:` module
 * statically: the first one would start Deno's Node compatibility layer,
 * about 12 ms, on every start of the app.
 *
 * The graph is Deno's own (`deno info --json`), so every spelling of an
 * import is seen as Deno resolves it. Run by `deno task test`; exits 1 with
 * one line per problem.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** An import of one module by another, as Deno resolved it. */
export interface Edge {
  /** The importing module, relative to the repository root, e.g. `src/run.ts`. */
  from: string;
  /** The imported module, relative to the repository root. */
  to: string;
  /** Imported with `import()`. */
  dynamic: boolean;
  /** Imported for its types only (`import type`). */
  typeOnly: boolean;
}

/** The layers, from the top: a module may import from its own layer (another folder, without a cycle) or a lower one. */
export const LAYERS: readonly (readonly string[])[] = [
  ["main.ts", "src/mod.ts", "src/run.ts", "src/cli"],
  ["src/supervisor"],
  ["src/serve"],
  [
    "src/front",
    "src/watch",
    "src/live_reload",
    "src/static",
    "src/security",
    "src/pages",
    "src/listen",
    "src/channel",
  ],
  ["src"],
];

/** The module that runs in front of a user's program: its static imports must stay light. */
export const PRELOAD_MODULE = "src/serve/preload.ts";

/**
 * The group a module belongs to: its folder under `src/`, or one of the
 * entry files, or `src` for a shared module.
 *
 * @param path A module path relative to the repository root.
 * @returns The group, e.g. `src/front`.
 *
 * @example
 * ```ts
 * import { groupOf } from "./check_imports.ts";
 *
 * if (groupOf("src/front/http1.ts") !== "src/front") throw new Error();
 * if (groupOf("src/log.ts") !== "src") throw new Error();
 * if (groupOf("src/run.ts") !== "src/run.ts") throw new Error();
 * ```
 */
export function groupOf(path: string): string {
  if (LAYERS[0]!.includes(path)) return path;
  const parts = path.split("/");
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * The layer of a group, 0 for the entry.
 *
 * @param group A group from {@linkcode groupOf}.
 * @returns Its index in {@linkcode LAYERS}, or `undefined` for a group in none.
 */
export function layerOf(group: string): number | undefined {
  const index = LAYERS.findIndex((layer) => layer.includes(group));
  return index === -1 ? undefined : index;
}

/**
 * Finds the cycles of a directed graph: each strongly connected component
 * of more than one node (or of one node that imports itself), as a list of
 * its nodes, sorted.
 *
 * @param edges The graph's edges.
 * @returns The cycles.
 *
 * @example
 * ```ts
 * import { findCycles } from "./check_imports.ts";
 *
 * const cycles = findCycles([["a", "b"], ["b", "c"], ["c", "a"], ["c", "d"]]);
 * if (JSON.stringify(cycles) !== '[["a","b","c"]]') throw new Error(JSON.stringify(cycles));
 * ```
 */
export function findCycles(edges: readonly (readonly [string, string])[]): string[][] {
  const next = new Map<string, string[]>();
  for (const [from, to] of edges) {
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  // Tarjan's algorithm, iterative so that a long chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: [string, number][] = [[start, 0]];
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const [node, position] = frame;
      if (position === 0) {
        index.set(node, counter);
        low.set(node, counter);
        counter++;
        stack.push(node);
        onStack.add(node);
      }
      const targets = next.get(node)!;
      if (position < targets.length) {
        frame[1]++;
        const target = targets[position]!;
        if (!index.has(target)) work.push([target, 0]);
        else if (onStack.has(target)) low.set(node, Math.min(low.get(node)!, index.get(target)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent[0], Math.min(low.get(parent[0])!, low.get(node)!));
      if (low.get(node) !== index.get(node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || targets.includes(node)) cycles.push(component.sort());
    }
  }
  return cycles;
}

/**
 * Every problem with a set of imports: a module that imports upward, a
 * module outside the layers, cycles of modules and of folders, and a
 * `node:` or `npm:` module in the preload module's static graph.
 *
 * @param edges The imports between local modules.
 * @param external The modules each module imports statically (not with
 *   `import()`, not for types only) that are not local files (`node:path`,
 *   `npm:mime@4`), by importing module.
 * @returns One line per problem; none when all is well.
 *
 * @example An upward import and a cycle of folders
 * ```ts
 * import { importProblems } from "./check_imports.ts";
 *
 * const edge = (from: string, to: string) => ({ from, to, dynamic: false, typeOnly: false });
 * const problems = importProblems([
 *   edge("src/log.ts", "src/cli/main.ts"),
 *   edge("src/front/front.ts", "src/pages/html.ts"),
 *   edge("src/pages/html.ts", "src/front/http1.ts"),
 * ], new Map());
 * if (problems.length !== 2) throw new Error(problems.join("\n"));
 * ```
 */
export function importProblems(
  edges: readonly Edge[],
  external: ReadonlyMap<string, readonly string[]>,
): string[] {
  const problems: string[] = [];
  const modules = new Set(edges.flatMap((edge) => [edge.from, edge.to]));
  for (const module of [...modules].sort()) {
    if (layerOf(groupOf(module)) === undefined) {
      problems.push(`${module} is in no layer: put it in one of the folders the layout names`);
    }
  }
  for (const edge of edges) {
    const from = layerOf(groupOf(edge.from));
    const to = layerOf(groupOf(edge.to));
    if (from !== undefined && to !== undefined && to < from) {
      problems.push(
        `${edge.from} imports ${edge.to}, which is in a higher layer: move what it needs down`,
      );
    }
  }
  for (const cycle of findCycles(edges.map((edge) => [edge.from, edge.to]))) {
    problems.push(`modules import each other in a circle: ${cycle.join(", ")}`);
  }
  const folderEdges = edges.map((edge) => [groupOf(edge.from), groupOf(edge.to)] as const)
    .filter(([from, to]) => from !== to);
  for (const cycle of findCycles(folderEdges)) {
    const through = edges.filter((edge) => {
      const from = groupOf(edge.from);
      const to = groupOf(edge.to);
      return from !== to && cycle.includes(from) && cycle.includes(to);
    }).map((edge) => `${edge.from} → ${edge.to}`);
    problems.push(
      `folders import each other in a circle: ${cycle.join(", ")} (${through.join("; ")})`,
    );
  }
  for (const module of staticGraph(PRELOAD_MODULE, edges)) {
    for (const specifier of external.get(module) ?? []) {
      if (specifier.startsWith("node:") || specifier.startsWith("npm:")) {
        problems.push(
          `${module} imports ${specifier}, in the static graph of ${PRELOAD_MODULE}: ` +
            "every start of the app would load Deno's Node layer; import it dynamically, or not at all",
        );
      }
    }
  }
  return problems;
}

/** The modules a module imports statically (types excepted), at any depth, itself included. */
function staticGraph(root: string, edges: readonly Edge[]): Set<string> {
  const seen = new Set([root]);
  const queue = [root];
  while (queue.length > 0) {
    const module = queue.shift()!;
    for (const edge of edges) {
      if (edge.from !== module || edge.dynamic || edge.typeOnly || seen.has(edge.to)) continue;
      seen.add(edge.to);
      queue.push(edge.to);
    }
  }
  return seen;
}

interface InfoDependency {
  specifier: string;
  code?: { specifier?: string };
  type?: { specifier?: string };
  isDynamic?: boolean;
}

interface InfoModule {
  specifier: string;
  dependencies?: InfoDependency[];
}

/**
 * Reads the import graph of the repository's modules with `deno info --json`.
 *
 * @param root The repository root, ending in `/`.
 * @param files The modules to start from, relative to `root`; every one is covered.
 * @returns The local edges, and the non-local static imports by module.
 */
export async function readImports(
  root: string,
  files: readonly string[],
): Promise<{ edges: Edge[]; external: Map<string, string[]> }> {
  const rootUrl = new URL(`file://${root}`).href;
  const local = (specifier: string) =>
    specifier.startsWith(rootUrl) ? decodeURIComponent(specifier.slice(rootUrl.length)) : undefined;
  const edges = new Map<string, Edge>();
  const external = new Map<string, string[]>();
  const covered = new Set<string>();
  for (const file of files) {
    if (covered.has(file)) continue;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", file],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(`deno info ${file} failed: ${new TextDecoder().decode(output.stderr)}`);
    }
    const info = JSON.parse(new TextDecoder().decode(output.stdout)) as { modules: InfoModule[] };
    for (const module of info.modules) {
      const from = local(module.specifier);
      if (from === undefined || covered.has(from)) continue;
      covered.add(from);
      for (const dependency of module.dependencies ?? []) {
        const resolved = dependency.code?.specifier ?? dependency.type?.specifier ??
          dependency.specifier;
        const to = local(resolved);
        const typeOnly = dependency.code === undefined;
        if (to === undefined) {
          if (dependency.isDynamic === true || typeOnly) continue;
          external.set(from, [...(external.get(from) ?? []), resolved]);
          continue;
        }
        const key = `${from} ${to}`;
        const known = edges.get(key);
        edges.set(key, {
          from,
          to,
          dynamic: (known?.dynamic ?? true) && dependency.isDynamic === true,
          typeOnly: (known?.typeOnly ?? true) && typeOnly,
        });
      }
    }
  }
  return { edges: [...edges.values()], external };
}

/** Lists the TypeScript modules under a folder, relative to `root`. */
function modulesUnder(root: string, folder: string): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(`${root}${folder}`)) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) found.push(...modulesUnder(root, path));
    else if (entry.isFile && entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}

/**
 * Checks every module of a devsrv checkout: `main.ts` and all of `src/`.
 *
 * @param root The checkout's root directory, ending in `/`.
 * @returns One line per problem, as {@linkcode importProblems} gives them.
 */
export async function checkRepository(root: string): Promise<string[]> {
  const files = ["main.ts", "src/mod.ts", PRELOAD_MODULE, ...modulesUnder(root, "src")];
  const { edges, external } = await readImports(root, files);
  return importProblems(edges, external);
}

if (import.meta.main) {
  const problems = await checkRepository(fileURLToPath(new URL("../", import.meta.url)));
  for (const problem of problems) {
    Deno.stderr.writeSync(new TextEncoder().encode(`error: ${problem}\n`));
  }
  Deno.exit(problems.length === 0 ? 0 : 1);
}
