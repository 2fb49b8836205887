/**
 * What a batch of file changes does: restart the app, reload the open
 * pages, or nothing. Decided here, in one pure function,
 * {@linkcode decideChanges}, from the batch and what is known of the app
 * (its module graph, its entry, the flags, what it was doing when each file
 * changed).
 *
 * For an app module or a library script, each file is judged in this order,
 * the first rule that applies wins:
 *
 * 1. devsrv's own output (its log redirected into the project): nothing;
 * 2. the entry, or a file of its module graph: restart;
 * 3. a file Deno reads at start (`deno.json(c)`, `package.json`,
 *    `deno.lock`, an import map, `.env*`, a file named by `--config`,
 *    `--import-map` or `--env-file`): restart (when Deno itself adds to
 *    the lock file as the app starts, that is one more restart, and the
 *    next start finds nothing to add);
 * 4. a file the app wrote (it said so, or it changed while the app was
 *    starting or answering a request, or just after; see
 *    `app_activity.ts`): nothing, except a new source file (a new route);
 * 5. while the graph is unknown, a source file, and while the app is
 *    failing, any file: restart (the fix may be in a file the last graph
 *    did not have, or in a file the app reads as it starts);
 * 6. a path named by `--watch`, or an extension listed by `--ext`: restart;
 * 7. while the graph is unknown, an extension of {@linkcode DEFAULT_EXTENSIONS}:
 *    restart (the rule before the graph was known);
 * 8. a source file created or deleted (a new route): restart;
 * 9. markup, styles, templates, images and fonts, and source files the app
 *    does not import (scripts for the browser): reload the pages;
 * 10. anything else (JSON the app does not import, Markdown, text, YAML,
 *     logs, databases): nothing.
 *
 * For a static directory, every file in it reloads the pages (stylesheets
 * alone are swapped in place), within `--ext` when given; a `--watch` path
 * too.
 *
 * The strongest action of the batch wins: restart, then reload, then
 * nothing.
 *
 * @module
 */

import { basename } from "node:path";
import { shownPath, SOURCE_EXTENSIONS } from "../paths.ts";
import { activityAt, type ActivitySpan, GRAPH_ACTIVITY, RESTART_ACTIVITY } from "./app_activity.ts";
import type { ModuleGraph } from "./module_graph.ts";
import type { FileChange } from "./watch.ts";
import { isStartupFile } from "./startup_files.ts";
import { DEFAULT_EXTENSIONS, hasCountedExtension, normalizeExtensions } from "./watch_filter.ts";

/** The extensions of what pages are made of: markup, styles, templates, images, fonts. */
export const PAGE_EXTENSIONS: readonly string[] = Object.freeze([
  "html",
  "htm",
  "css",
  "scss",
  "sass",
  "less",
  "svg",
  // templates
  "eta",
  "ejs",
  "hbs",
  "handlebars",
  "mustache",
  "njk",
  "liquid",
  "pug",
  "jinja",
  "twig",
  "vue",
  "svelte",
  "astro",
  // images and fonts
  "png",
  "jpg",
  "jpeg",
  "gif",
  "webp",
  "avif",
  "ico",
  "woff",
  "woff2",
]);

/** What the app is. */
export type AppEntry =
  | {
    /** An app module (`devsrv serve app.ts`) or a library user's script (`serve(handler)`). */
    kind: "module" | "library";
    /** Its absolute path. */
    path: string;
  }
  | {
    /** A static directory. */
    kind: "static";
    /** Its absolute path. */
    root: string;
  };

/** What is known of the app when a batch arrives. */
export interface AppKnowledge {
  /** What is served. */
  entry: AppEntry;
  /** The module graph; `undefined` while it is unknown (not worked out yet, or `deno info` failed). */
  graph: ModuleGraph | undefined;
  /** Why the graph is unknown, for the log line. @default {"not known yet"} */
  graphUnknownReason?: string;
  /** The app's last start failed. @default {false} */
  appFailing?: boolean;
  /** The graph is being worked out again after a restart (the code may import new modules). */
  graphStale?: boolean;
  /** Files the app reported writing itself, with when (`Date.now()`). */
  appWrites?: ReadonlyMap<string, number>;
  /** The `--watch` paths, absolute (files or directories). */
  watchPaths: readonly string[];
  /** The `--ext` extensions (a leading dot is dropped); `undefined` when not given. */
  ext: readonly string[] | undefined;
  /** Files Deno reads at start beyond the usual names: `--config`, `--import-map`, `--env-file` values, absolute. */
  startupFiles: readonly string[];
  /** Where devsrv's own output goes, when that is a file (absolute). */
  ownOutput: readonly string[];
  /** When the app was at work, from {@linkcode ActivityLog.spans}. */
  activity: readonly ActivitySpan[];
}

/** What a change leads to. */
export type ChangeAction = "restart" | "reload" | "none";

/** Why a file leads to its action. */
export type ChangeReason =
  | { kind: "entry" }
  | { kind: "imported"; by: string }
  | { kind: "app-write"; during: string }
  | { kind: "graph-unknown"; reason: string }
  | { kind: "graph-stale" }
  | { kind: "app-wrote" }
  | { kind: "lock-update" }
  | { kind: "app-failing" }
  | { kind: "startup" }
  | { kind: "watch-flag" }
  | { kind: "ext-flag" }
  | { kind: "source-added" }
  | { kind: "source-removed" }
  | { kind: "page" }
  | { kind: "unimported-source" }
  | { kind: "served" }
  | { kind: "own-output" }
  | { kind: "not-in-ext" }
  | { kind: "unused" };

/** The verdict on one file. */
export interface FileVerdict {
  /** The file, absolute. */
  path: string;
  /** What happened to it. */
  kind: FileChange["kind"];
  /** What it leads to. */
  action: ChangeAction;
  /** Why. */
  reason: ChangeReason;
}

/** The verdict on a batch. */
export interface ChangeDecision {
  /** The strongest action of its files. */
  action: ChangeAction;
  /** Every file, in the batch's order. */
  files: FileVerdict[];
  /** The first file whose action is the batch's: the one the log line names. */
  lead: FileVerdict;
}

const STRENGTH: Record<ChangeAction, number> = { none: 0, reload: 1, restart: 2 };

/**
 * Decides what a batch of changes does.
 *
 * @param changes The batch, never empty (see `watch.ts`).
 * @param app What is known of the app.
 * @returns The action, each file's verdict, and the file that decided.
 * @throws {RangeError} When the batch is empty.
 *
 * @example A module of the graph, a template and a data file
 * ```ts
 * import { decideChanges } from "./change_decision.ts";
 *
 * const graph = {
 *   entry: "/app/main.ts",
 *   files: new Set(["/app/main.ts", "/app/lib/db.ts"]),
 *   importers: new Map([["/app/main.ts", null], ["/app/lib/db.ts", "/app/main.ts"]]),
 *   npmPackages: [],
 *   nodeBuiltins: [],
 *   configFiles: [],
 * };
 * const app = {
 *   entry: { kind: "module", path: "/app/main.ts" },
 *   graph,
 *   watchPaths: [],
 *   ext: undefined,
 *   startupFiles: [],
 *   ownOutput: [],
 *   activity: [],
 * } as const;
 * const at = { fromMs: 5000, toMs: 5000 };
 * const change = (path: string) => ({ path, kind: "modified", ...at }) as const;
 * if (decideChanges([change("/app/lib/db.ts")], app).action !== "restart") throw new Error();
 * if (decideChanges([change("/app/views/index.html")], app).action !== "reload") throw new Error();
 * if (decideChanges([change("/app/db.json")], app).action !== "none") throw new Error();
 * ```
 */
export function decideChanges(
  changes: readonly FileChange[],
  app: AppKnowledge,
): ChangeDecision {
  if (changes.length === 0) throw new RangeError("Cannot decide on an empty batch of changes");
  const ext = app.ext === undefined ? undefined : normalizeExtensions(app.ext);
  const files = changes.map((change) => judge(change, app, ext));
  let lead = files[0]!;
  for (const file of files) if (STRENGTH[file.action] > STRENGTH[lead.action]) lead = file;
  return { action: lead.action, files, lead };
}

function judge(
  change: FileChange,
  app: AppKnowledge,
  ext: readonly string[] | undefined,
): FileVerdict {
  const verdict = (action: ChangeAction, reason: ChangeReason): FileVerdict => ({
    path: change.path,
    kind: change.kind,
    action,
    reason,
  });
  const { path } = change;
  if (app.ownOutput.includes(path)) return verdict("none", { kind: "own-output" });
  if (app.entry.kind === "static") return judgeStatic(path, app.entry.root, app, ext, verdict);
  const graph = app.graph;
  if (path === app.entry.path) return verdict("restart", { kind: "entry" }); // known before the graph
  if (graph?.files.has(path)) {
    const by = graph.importers.get(path);
    return verdict("restart", by ? { kind: "imported", by } : { kind: "entry" });
  }
  if (basename(path) === "deno.lock" && change.kind !== "deleted") {
    // Deno writes its lock itself as the running app loads a new package;
    // a person's change of dependencies changes deno.json or package.json too.
    return verdict("none", { kind: "lock-update" });
  }
  if (readAtStart(path, app)) return verdict("restart", { kind: "startup" });
  if (wroteItself(path, change, app)) return verdict("none", { kind: "app-wrote" });
  const source = hasCountedExtension(basename(path), SOURCE_EXTENSIONS);
  const during = activityAt(app.activity, change.fromMs, change.toMs);
  // A module saved while devsrv restarts or works out the graph is a
  // person's quick second save far more often than the app's own write.
  const devsrvAtWork = during === RESTART_ACTIVITY || during === GRAPH_ACTIVITY;
  // A new module is a person's new route far more often than a file the
  // app writes without saying so (a subprocess's output, which sits in an
  // ignored build folder as a rule); and a new file restarts once: the
  // app's next write of it is a change, which the timing rule explains.
  const newSource = source && change.kind === "created";
  if (during !== undefined && !(source && devsrvAtWork) && !newSource) {
    return verdict("none", { kind: "app-write", during });
  }
  // Just after a restart the graph is older than the code: a module may
  // have been imported just now.
  if (source && app.graphStale) return verdict("restart", { kind: "graph-stale" });
  if (source && graph === undefined) {
    return verdict("restart", { kind: "graph-unknown", reason: unknownReason(app) });
  }
  // The fix for a failing app may be any file it reads as it starts: a
  // module, a configuration file, a template, a certificate.
  if (app.appFailing) return verdict("restart", { kind: "app-failing" });
  if (isUnder(path, app.watchPaths)) return verdict("restart", { kind: "watch-flag" });
  if (ext !== undefined && hasCountedExtension(basename(path), ext)) {
    return verdict("restart", { kind: "ext-flag" });
  }
  if (graph === undefined && hasCountedExtension(basename(path), DEFAULT_EXTENSIONS)) {
    return verdict("restart", { kind: "graph-unknown", reason: unknownReason(app) });
  }
  if (source && change.kind === "created") return verdict("restart", { kind: "source-added" });
  if (source && change.kind === "deleted") return verdict("restart", { kind: "source-removed" });
  if (source) return verdict("reload", { kind: "unimported-source" });
  if (hasCountedExtension(basename(path), PAGE_EXTENSIONS)) {
    return verdict("reload", { kind: "page" });
  }
  return verdict("none", { kind: "unused" });
}

function judgeStatic(
  path: string,
  root: string,
  app: AppKnowledge,
  ext: readonly string[] | undefined,
  verdict: (action: ChangeAction, reason: ChangeReason) => FileVerdict,
): FileVerdict {
  if (isUnder(path, app.watchPaths)) return verdict("reload", { kind: "watch-flag" });
  if (!isUnder(path, [root])) return verdict("none", { kind: "unused" });
  if (ext !== undefined && !hasCountedExtension(basename(path), ext)) {
    return verdict("none", { kind: "not-in-ext" });
  }
  return verdict("reload", { kind: "served" });
}

function unknownReason(app: AppKnowledge): string {
  return app.graphUnknownReason ?? "not known yet";
}

/** Whether Deno reads a file when the app's process starts (the graph's configuration included). */
function readAtStart(path: string, app: AppKnowledge): boolean {
  return isStartupFile(path, app.startupFiles) || (app.graph?.configFiles.includes(path) ?? false);
}

/**
 * How long before a change the app's report of a write still explains it,
 * in ms: a file the app keeps open (a log, a stream) changes long after the
 * app reported opening it.
 */
const APP_WRITE_WINDOW_MS = 10_000;
/** Clock slack between the report and the file's change time, in ms. */
const APP_WRITE_SLACK_MS = 1000;

/** Whether the app itself reported writing the file just before it changed. */
function wroteItself(path: string, change: FileChange, app: AppKnowledge): boolean {
  const at = app.appWrites?.get(path);
  return at !== undefined && at >= change.fromMs - APP_WRITE_WINDOW_MS &&
    at <= change.toMs + APP_WRITE_SLACK_MS;
}

/** Whether `path` is one of `roots` or inside one. */
function isUnder(path: string, roots: readonly string[]): boolean {
  return roots.some((root) => {
    const prefix = root.endsWith("/") ? root : `${root}/`;
    return path === root || path.startsWith(prefix);
  });
}

/**
 * Says why a file leads to its action, in a few words for the log.
 *
 * @param reason The reason.
 * @param cwd The directory paths are shown relative to.
 * @returns E.g. `"imported by main.ts"`, `"read by Deno at start"`.
 */
export function describeReason(reason: ChangeReason, cwd: string): string {
  switch (reason.kind) {
    case "entry":
      return "the app's entry";
    case "imported":
      return `imported by ${shownPath(reason.by, cwd)}`;
    case "app-write":
      return `written while ${reason.during}, or just after`;
    case "graph-unknown":
      return `module graph unknown: ${shorten(reason.reason, 100)}`;
    case "app-wrote":
      return "written by the app";
    case "lock-update":
      return "Deno updates its lock file as the app loads packages";
    case "graph-stale":
      return "a source file, while the module graph is worked out again after a restart";
    case "app-failing":
      return "the app is failing: a fix may be in any file";
    case "startup":
      return "read by Deno at start";
    case "watch-flag":
      return "named by --watch";
    case "ext-flag":
      return "listed by --ext";
    case "source-added":
      return "new source file";
    case "source-removed":
      return "source file removed";
    case "page":
      return "a page file the app does not import";
    case "unimported-source":
      return "a source file the app does not import";
    case "served":
      return "served file";
    case "own-output":
      return "devsrv's own output";
    case "not-in-ext":
      return "not listed by --ext";
    case "unused":
      return "not imported by the app";
  }
}

/**
 * The log line of a decision (without the `" * "` prefix).
 *
 * @param decision The decision.
 * @param cwd The directory paths are shown relative to.
 * @returns E.g. `lib/db.ts changed (imported by main.ts) · restarting`,
 * `views/index.html changed · reloading pages`, `public/site.css changed ·
 * updating stylesheets`, `notes.md changed (not imported by the app) · no
 * restart`.
 */
export function decisionLine(decision: ChangeDecision, cwd: string): string {
  const { lead, action } = decision;
  const more = decision.files.filter((file) => file.action === action).length - 1;
  const verb = lead.kind === "modified" ? "changed" : lead.kind;
  const why = action === "reload" ? "" : ` (${describeReason(lead.reason, cwd)})`;
  const others = more > 0 ? ` and ${more} more` : "";
  return `${shownPath(lead.path, cwd)} ${verb}${why}${others} · ${actionWords(decision)}`;
}

function actionWords(decision: ChangeDecision): string {
  switch (decision.action) {
    case "restart":
      return "restarting";
    case "reload": {
      const reloaded = decision.files.filter((file) => file.action === "reload");
      return reloaded.every((file) => file.path.toLowerCase().endsWith(".css"))
        ? "updating stylesheets"
        : "reloading pages";
    }
    case "none":
      return "no restart";
  }
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
