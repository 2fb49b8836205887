/**
 * The reloader's watch policy, around the pure decision of
 * `change_decision.ts`: what to watch, what is known of the app when a
 * batch of changes arrives, which lines to print, and what `/__devsrv`
 * shows (the module graph, the last decisions).
 *
 * It keeps the app's module graph (from `module_graph.ts`), refreshed after
 * every successful start, off the restart's path: once restarts have
 * settled ({@linkcode GRAPH_REFRESH_QUIET_MS} without a new one), at the
 * lowest CPU priority, while the new child serves. A quick series of
 * restarts (a script saving file after file) refreshes it once, after the
 * last, and `deno info` never competes with the next child's boot. It records when the app is at work
 * (`app_activity.ts`): while the supervisor restarts it (the old child's
 * shutdown handlers included), while the front forwards a request to it,
 * and while `deno info` runs.
 *
 * The supervisor calls {@linkcode WatchPolicy.decide} once per debounced
 * batch and acts on the answer.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import type { ServeOptions } from "../options.ts";
import { shownPath } from "../paths.ts";
import type { DecisionRecord, ModuleGraphStatus } from "../pages/status_page.ts";
import { ActivityLog, GRAPH_ACTIVITY, RESTART_ACTIVITY } from "./app_activity.ts";
import { REPEAT_COUNT, REPEAT_WINDOW_MS, RepeatedChanges } from "./repeated_changes.ts";
import {
  type AppEntry,
  type AppKnowledge,
  type ChangeDecision,
  decideChanges,
  decisionLine,
  describeReason,
} from "./change_decision.ts";
import { EarlyWatch } from "./early_watch.ts";
import { loadModuleGraph, type ModuleGraph } from "./module_graph.ts";
import { moduleFolders, readSourceOrUndefined } from "./node_scan.ts";
import { startupFilesFrom } from "./startup_files.ts";
import {
  type ChangeBatch,
  changeWindow,
  EVENT_LATENCY_MS,
  type FileChange,
  startWatching,
  type Watching,
  type WatchOptions,
} from "./watch.ts";

/** How long after a successful start, with no restart since, the module graph is worked out again. */
export const GRAPH_REFRESH_QUIET_MS = 250;
/** How many decisions `/__devsrv` shows. */
export const DECISION_HISTORY_LENGTH = 20;
/** How many files one decision record lists (a checkout may change thousands). */
const FILES_PER_RECORD = 50;
/** How many "no restart" lines are printed in a session, one per file, before they stop. */
const MAX_QUIET_LINES = 20;

/** What the policy needs to know about the session. */
export interface WatchPolicyOptions {
  /** What is served, with absolute paths. */
  entry: AppEntry;
  /** The serve options that widen the watch: `watch` and `ext`. */
  options: Pick<ServeOptions, "watch" | "ext">;
  /** The Deno arguments the child runs with, without the executable. */
  denoArgs: readonly string[];
  /** The current directory. @default {Deno.cwd()} */
  cwd?: string;
  /** Works out the module graph. @default {loadModuleGraph} */
  loadGraph?: typeof loadModuleGraph;
}

/** What the supervisor does with a batch. */
export interface PolicyAnswer {
  /** The decision. */
  decision: ChangeDecision;
  /** The line to print, if any (without `" * "`). */
  line: string | undefined;
  /** A warning to print once, if any: the file keeps reloading the pages by itself. */
  hint?: string;
  /** The files whose verdict is the decision's action, as the log shows them. */
  files: string[];
  /** The same files, absolute. */
  actedPaths: string[];
  /** The files that reload the pages, absolute (for the live-reload hub). */
  reloadFiles: string[];
  /**
   * A file Deno reads when a process starts (`deno.json`, `.env`, a file a
   * flag or deno.json names) restarts the app: a standby child booted
   * before it has the old one, so a fresh child starts instead.
   */
  startupFileChanged: boolean;
}

/** The graph as the policy knows it. */
type GraphState =
  | { kind: "none" } // a static directory: no code, no graph
  | { kind: "pending" }
  | { kind: "known"; graph: ModuleGraph; ms: number }
  | { kind: "unknown"; reason: string; ms: number };

/** How many reported app writes are remembered (the latest). */
const APP_WRITES_KEPT = 1000;

/** The watch policy of one reloader session. */
export class WatchPolicy {
  /** When the app is at work; the front and the supervisor record into it. */
  readonly activity: ActivityLog = new ActivityLog();
  readonly #options: Pick<ServeOptions, "watch" | "ext">;
  readonly #denoArgs: readonly string[];
  readonly #cwd: string;
  readonly #entry: AppEntry;
  readonly #loadGraph: typeof loadModuleGraph;
  readonly #ownOutput: string[];
  readonly #startupFiles: string[];
  readonly #history: DecisionRecord[] = [];
  /** Restart records whose restart has not finished. */
  readonly #openRestarts: DecisionRecord[] = [];
  readonly #quietPaths = new Set<string>();
  readonly #repeated = new RepeatedChanges();
  #graph: GraphState;
  #refreshing: Promise<void> | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #refreshAgain = false;
  #toldAboutAppWrites = false;
  /** From a restart until the graph is worked out again: it may miss new imports. */
  #graphStale = false;
  /** Files the app reported writing, with when (`Date.now()`). */
  readonly #appWrites = new Map<string, number>();
  #abort = new AbortController();
  #watching: Watching | undefined;
  /** The watch placed as the first start began, until `startWatching` takes it over. */
  #early: EarlyWatch | undefined;

  /**
   * @param options The session: entry, serve options, Deno arguments.
   */
  constructor(options: WatchPolicyOptions) {
    this.#options = options.options;
    this.#denoArgs = options.denoArgs;
    this.#cwd = options.cwd ?? Deno.cwd();
    this.#loadGraph = options.loadGraph ?? loadModuleGraph;
    this.#entry = options.entry;
    this.#graph = this.#entry.kind === "static" ? { kind: "none" } : { kind: "pending" };
    this.#ownOutput = ownOutputFiles();
    this.#startupFiles = startupFilesFrom(options.denoArgs, this.#cwd);
  }

  /**
   * Starts watching: the served directory in static-directory mode, else
   * the current directory, and the `--watch` paths; every file that is not
   * ignored is seen, and judged by {@linkcode WatchPolicy.decide}. Files
   * of the module graph outside them are added as the graph becomes known.
   *
   * @param options How to watch (ignores, debounce, polling).
   * @param onChange Receives each batch.
   * @returns The running watch.
   * @throws {Deno.errors.NotFound} When a `--watch` path does not exist.
   */
  async startWatching(
    options: Omit<WatchOptions, "roots" | "ext" | "allFiles" | "earlyWatch">,
    onChange: (batch: ChangeBatch) => void,
  ): Promise<Watching> {
    const early = this.#early;
    this.#early = undefined;
    this.#watching = await startWatching({
      ...options,
      roots: this.#roots(),
      ext: undefined,
      allFiles: true,
      ...(early === undefined ? {} : { earlyWatch: early }),
    }, onChange);
    this.#watchOutside(this.graph);
    return this.#watching;
  }

  /**
   * Watches, from now until {@linkcode WatchPolicy.startWatching} takes
   * over, the folders where the program is most likely edited: the roots
   * themselves (not their subfolders), the folders of the program's own
   * modules (as far as reading their imports tells), and of the files Deno
   * reads at start. One `Deno.watchFs` call, nothing is listed: the first
   * start calls it just before the program is read (see `early_watch.ts`).
   */
  watchEarly(): void {
    this.#early?.close();
    const entry = this.#entry;
    const modules = entry.kind === "static" ? [] : moduleFolders(entry.path, readSourceOrUndefined);
    this.#early = EarlyWatch.place([...this.#roots(), ...modules, ...this.#startupFiles]);
  }

  #roots(): string[] {
    const base = this.#entry.kind === "static" ? this.#entry.root : this.#cwd;
    return [...new Set([base, ...this.#watchPaths()])];
  }

  /**
   * Decides what a batch does, records it, and says what to print.
   *
   * @param batch The debounced batch.
   * @param appFailing Whether the app's last start failed (or it died since).
   * @returns The decision, the line to print, the files to pass on.
   */
  decide(batch: ChangeBatch, appFailing: boolean): PolicyAnswer {
    const decision = decideChanges(batch.changes, this.#knowledge(appFailing));
    this.#record(decision);
    const files = (action: string) =>
      decision.files.filter((file) => file.action === action).map((file) => file.path);
    const acted = files(decision.action);
    return {
      decision,
      line: this.#lineFor(decision),
      ...this.#hintFor(decision),
      files: acted.map((path) => shownPath(path, this.#cwd)),
      actedPaths: acted,
      reloadFiles: files("reload"),
      startupFileChanged: startupFileIn(decision),
    };
  }

  /**
   * What a change seen just now would do if its batch ended now, without
   * recording anything: a caller may begin the likely work early (a head
   * start) and let {@linkcode WatchPolicy.decide} confirm it.
   *
   * @param paths Absolute paths of files that changed a moment ago.
   * @param appFailing Whether the app's last start failed (or it died since).
   * @returns The decision, and whether a file Deno reads at start changed.
   */
  preview(
    paths: readonly string[],
    appFailing: boolean,
  ): { decision: ChangeDecision; startupFileChanged: boolean } {
    const now = Date.now();
    const changes = paths.map((path): FileChange => {
      const mtime = mtimeOf(path);
      const kind = mtime === undefined ? "deleted" : "modified";
      return { path, kind, ...changeWindow(mtime, now, EVENT_LATENCY_MS) };
    });
    const decision = decideChanges(changes, this.#knowledge(appFailing));
    return { decision, startupFileChanged: startupFileIn(decision) };
  }

  /** What the change decision knows of the app now. */
  #knowledge(appFailing: boolean): AppKnowledge {
    const graph = this.#graph;
    return {
      entry: this.#entry,
      graph: graph.kind === "known" ? graph.graph : undefined,
      ...(graph.kind === "unknown" ? { graphUnknownReason: graph.reason } : {}),
      appFailing,
      graphStale: this.#graphStale,
      appWrites: this.#appWrites,
      watchPaths: this.#watchPaths(),
      ext: this.#options.ext,
      startupFiles: this.#startupFiles,
      ownOutput: this.#ownOutput,
      activity: this.activity.spans(),
    };
  }

  /**
   * A restart begins (before the old child stops: its shutdown handlers
   * may write files too).
   *
   * @returns Call when it has ended, with how long it took (ms) and whether
   * the new child came up; then the module graph is worked out again.
   */
  restarting(): (ms: number, ok: boolean) => void {
    const end = this.activity.begin(RESTART_ACTIVITY);
    this.#graphStale = this.#entry.kind !== "static";
    clearTimeout(this.#refreshTimer); // a refresh waits for this restart to be over
    return (ms, ok) => {
      end();
      for (const record of this.#openRestarts.splice(0)) {
        record.restartMs = ms;
        record.ok = ok;
      }
      if (!ok || this.#abort.signal.aborted) return;
      clearTimeout(this.#refreshTimer);
      this.#refreshTimer = setTimeout(() => this.refreshGraph(), GRAPH_REFRESH_QUIET_MS);
    };
  }

  /**
   * A request is forwarded to the app.
   *
   * @param target Its request-target, e.g. `/notes?id=1`.
   * @returns Call when its response head has come back.
   */
  requestStarted(target: string): () => void {
    const path = target.startsWith("/") ? target.split("?")[0]! : target;
    return this.activity.begin(`the app was answering ${path}`);
  }

  /**
   * Works out the module graph again, in the background; a refresh asked
   * for while one runs follows it. Nothing for a static directory.
   *
   * @param priority `low` runs `deno info` at the lowest CPU priority (after
   * a restart, while the next child boots); `normal` when a start waits for it.
   * @returns When this refresh (and any it was merged with) is done.
   */
  refreshGraph(priority: "normal" | "low" = "low"): Promise<void> {
    if (this.#entry.kind === "static" || this.#abort.signal.aborted) return Promise.resolve();
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = this.#refreshLoop(priority).finally(() => this.#refreshing = undefined);
    return this.#refreshing;
  }

  async #refreshLoop(priority: "normal" | "low"): Promise<void> {
    const entry = this.#entry;
    if (entry.kind === "static") return;
    do {
      this.#refreshAgain = false;
      const end = this.activity.begin(GRAPH_ACTIVITY);
      try {
        const result = await this.#loadGraph(entry.path, {
          denoArgs: this.#denoArgs,
          cwd: this.#cwd,
          signal: this.#abort.signal,
          // After a restart the next child boots meanwhile: it goes first.
          priority,
        });
        if (this.#abort.signal.aborted) return;
        this.#graph = result.kind === "known"
          ? { kind: "known", graph: result.graph, ms: result.ms }
          : { kind: "unknown", reason: result.reason, ms: result.ms };
        if (result.kind === "known") this.#watchOutside(result.graph);
        if (!this.#refreshAgain) this.#graphStale = false;
      } finally {
        end();
      }
    } while (this.#refreshAgain && !this.#abort.signal.aborted);
  }

  /**
   * Takes the files the app reports it writes (see `serve/write_reports.ts`):
   * their changes are the app's own, never a person's edit.
   *
   * @param paths Absolute paths.
   * @param at When, `Date.now()`.
   */
  appWrote(paths: readonly string[], at: number): void {
    for (const path of paths) this.#appWrites.set(path, at);
    // Old reports say nothing about the next change: keep the map small.
    if (this.#appWrites.size > APP_WRITES_KEPT) {
      const oldest = [...this.#appWrites].sort((a, b) => a[1] - b[1]);
      for (const [path] of oldest.slice(0, this.#appWrites.size - APP_WRITES_KEPT)) {
        this.#appWrites.delete(path);
      }
    }
  }

  /**
   * What `/__devsrv` shows of the policy.
   *
   * @returns The module graph's state and the recent decisions, newest first.
   */
  status(): {
    moduleGraph: ModuleGraphStatus;
    decisions: DecisionRecord[];
    appIdleMs: number | null;
  } {
    const graph = this.#graph;
    const moduleGraph: ModuleGraphStatus = {
      state: graph.kind,
      files: graph.kind === "known" ? graph.graph.files.size : null,
      npmPackages: graph.kind === "known" ? graph.graph.npmPackages.length : null,
      reason: graph.kind === "unknown" ? graph.reason : null,
      ms: graph.kind === "known" || graph.kind === "unknown" ? graph.ms : null,
    };
    const decisions = this.#history.map((record) => ({ ...record, files: [...record.files] }))
      .reverse();
    return { moduleGraph, decisions, appIdleMs: this.#idleMs() };
  }

  /** The graph, when known (for tests and diagnostics). */
  get graph(): ModuleGraph | undefined {
    return this.#graph.kind === "known" ? this.#graph.graph : undefined;
  }

  /** Stops a running refresh; later ones do nothing. */
  close(): Promise<void> {
    clearTimeout(this.#refreshTimer);
    this.#abort.abort();
    const early = this.#early;
    early?.close();
    this.#early = undefined;
    return Promise.all([this.#refreshing, early?.finished]).then(() => {});
  }

  /** Watches the files of the graph that no root holds (imports from `../shared`). */
  #watchOutside(graph: ModuleGraph | undefined): void {
    // Every file the app is made of or Deno reads at start is watched, even
    // outside the roots, in an ignored folder (a gitignored .env, gen/) or
    // behind a symlinked folder; the tree skips those it counts already.
    const known = [...(graph?.files ?? []), ...(graph?.configFiles ?? []), ...this.#startupFiles];
    if (known.length > 0) this.#watching?.addFiles(known);
  }

  /** Milliseconds since the app was last at work; `null` while it is. */
  #idleMs(): number | null {
    const spans = this.activity.spans();
    if (spans.some((span) => span.endMs === null)) return null;
    const last = Math.max(0, ...spans.map((span) => span.endMs ?? 0));
    return last === 0 ? null : Date.now() - last;
  }

  #watchPaths(): string[] {
    return this.#options.watch.map((path) => resolve(this.#cwd, path));
  }

  #record(decision: ChangeDecision): void {
    const record: DecisionRecord = {
      at: new Date().toISOString(),
      action: decision.action,
      why: describeReason(decision.lead.reason, this.#cwd),
      files: decision.files.slice(0, FILES_PER_RECORD).map((file) => ({
        path: shownPath(file.path, this.#cwd),
        change: file.kind,
        action: file.action,
        why: describeReason(file.reason, this.#cwd),
      })),
      moreFiles: Math.max(0, decision.files.length - FILES_PER_RECORD),
      restartMs: null,
      ok: null,
    };
    this.#history.push(record);
    if (this.#history.length > DECISION_HISTORY_LENGTH) this.#history.shift();
    if (decision.action === "restart") this.#openRestarts.push(record);
  }

  /**
   * Restarts and reloads always say so. A file that does nothing is told
   * once (a person who saved it learns why nothing happened), unless it is
   * devsrv's own output; the app's own writes are told once per session.
   */
  /** Tells once about a file that keeps reloading the pages by itself. */
  #hintFor(decision: ChangeDecision): { hint?: string } {
    const { lead } = decision;
    if (decision.action !== "reload" || decision.files.length !== 1) return {};
    if (!this.#repeated.changed(lead.path, Date.now())) return {};
    const shown = shownPath(lead.path, this.#cwd);
    return {
      hint: `${shown} keeps changing (${REPEAT_COUNT} times within ${
        REPEAT_WINDOW_MS / 1000
      } s) and reloads the pages each time · if the app writes it, pass --ignore ${shown}, or write it with Deno's file API or node:fs's default export, which devsrv sees`,
    };
  }

  #lineFor(decision: ChangeDecision): string | undefined {
    const alone = decision.files.length === 1;
    if (decision.action === "reload" && alone && this.#repeated.told(decision.lead.path)) {
      return undefined; // it keeps changing by itself, and one line said so
    }
    if (decision.action !== "none") return decisionLine(decision, this.#cwd);
    const appWrite = decision.files.find((file) => file.reason.kind === "app-write");
    if (appWrite !== undefined && !this.#toldAboutAppWrites) {
      this.#toldAboutAppWrites = true;
      return `${shownPath(appWrite.path, this.#cwd)} ${
        describeReason(appWrite.reason, this.#cwd)
      } · no restart (what the app writes never restarts it or reloads its pages; /__devsrv lists every decision)`;
    }
    const fresh = decision.files.filter((file) =>
      file.reason.kind !== "app-write" && file.reason.kind !== "own-output" &&
      !this.#quietPaths.has(file.path)
    );
    if (fresh.length === 0 || this.#quietPaths.size >= MAX_QUIET_LINES) return undefined;
    for (const file of fresh) this.#quietPaths.add(file.path);
    return decisionLine({ ...decision, files: fresh, lead: fresh[0]! }, this.#cwd);
  }
}

/**
 * Where this process's stdout and stderr go, when that is a file (Linux:
 * `/proc/self/fd`). A log redirected into the project must not restart the
 * app that writes it.
 *
 * @returns Absolute paths, both as linked and as real paths.
 */
export function ownOutputFiles(): string[] {
  const files: string[] = [];
  for (const fd of [1, 2]) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    } catch (error) {
      if (!isUnreadable(error)) throw error;
      continue; // no /proc (macOS, Windows), or not permitted: the .log rule still holds
    }
    if (!target.startsWith("/")) continue; // a pipe, a socket, a terminal
    files.push(target);
    try {
      files.push(Deno.realPathSync(target));
      files.push(
        resolve(Deno.realPathSync(dirname(target)), target.slice(target.lastIndexOf("/") + 1)),
      );
    } catch (error) {
      if (!isUnreadable(error)) throw error; // deleted since: only the linked path
    }
  }
  return [...new Set(files)];
}

function isUnreadable(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.NotADirectory;
}

/** Whether a decision counts a file Deno reads at start (a configuration, an env file). */
function startupFileIn(decision: ChangeDecision): boolean {
  return decision.files.some((file) => file.reason.kind === "startup");
}

/** A file's mtime in ms since the epoch; `undefined` once it is gone. */
function mtimeOf(path: string): number | undefined {
  try {
    return Deno.statSync(path).mtime?.getTime();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}
