/**
 * `GET /__devsrv`: the state of both processes, as HTML for a person or
 * JSON when asked with `Accept: application/json`.
 *
 * @module
 */

import { acceptsHtml, escapeHtml, htmlPage } from "./html.ts";

/** The last restart, and why it happened. */
export interface RestartRecord {
  /** ISO time it finished. */
  at: string;
  /** "change", "rs", "exit code 3", "start". */
  reason: string;
  /** Changed files, relative to the current directory. */
  files: string[];
  /** From the decision to restart to the new child's ready report. */
  ms: number;
  /** Whether the new child came up. */
  ok: boolean;
}

/** The app's module graph, as the reloader knows it. */
export interface ModuleGraphStatus {
  /**
   * `known`; `unknown` when `deno info` failed (see `reason`; the rule
   * before the graph was known applies); `pending` until it is first
   * worked out, after the app's first start; `none` for a static directory.
   */
  state: "known" | "unknown" | "pending" | "none";
  /** Local files in the graph, the entry included; `null` unless known. */
  files: number | null;
  /** npm packages in the graph; `null` unless known. */
  npmPackages: number | null;
  /** Why the graph is unknown; `null` otherwise. */
  reason: string | null;
  /** How long `deno info` took, in ms; `null` before it first ran. */
  ms: number | null;
}

/** One decision on a batch of file changes. */
export interface DecisionRecord {
  /** ISO time of the decision. */
  at: string;
  /** `restart`, `reload` (the open pages) or `none`. */
  action: "restart" | "reload" | "none";
  /** Why, for the file that decided, e.g. `imported by main.ts`. */
  why: string;
  /** The files (at most 50), relative to the current directory, each with its own verdict. */
  files: {
    path: string;
    change: "created" | "modified" | "deleted";
    action: "restart" | "reload" | "none";
    why: string;
  }[];
  /** How many more files the batch had. */
  moreFiles: number;
  /** For a restart: from the start of the restart to the new child's ready report, in ms; `null` while it runs and for other actions. */
  restartMs: number | null;
  /** For a restart: whether the new child came up; `null` while it runs and for other actions. */
  ok: boolean | null;
}

/** Everything `/__devsrv` shows. */
export interface DevsrvStatus {
  version: string;
  /** `reloader` (parent + child) or `single` (`--no-reload`). */
  mode: "reloader" | "single";
  /** The reloader's pid; `null` in single mode. */
  parentPid: number | null;
  /** The serving process's pid; `null` while no child runs. */
  childPid: number | null;
  /** The booted child waiting for the next restart; `null` when there is none. */
  standbyPid: number | null;
  /** The child loading a change's code before its batch is decided (a head start), if any. */
  headStartPid?: number | null;
  /** How many children have been started. */
  generation: number;
  /** `starting`, `ready`, `restarting`, `failed`. */
  state: string;
  /** What is served. */
  entry: string;
  /** `watchfs`, `poll` or `none`. */
  reloader: string;
  watchRoots: string[];
  watchedFiles: number;
  lastRestart: RestartRecord | null;
  /** The current failure, when the app is broken. */
  error: string | null;
  /** The app's module graph (reloader only). */
  moduleGraph?: ModuleGraphStatus;
  /** The last 20 decisions on changed files, newest first (reloader only). */
  decisions?: DecisionRecord[];
  /** Milliseconds since the app was last at work (starting, answering); `null` while it is (reloader only). */
  appIdleMs?: number | null;
}

const ACTION_WORDS: Record<DecisionRecord["action"], string> = {
  restart: "restart",
  reload: "reload pages",
  none: "nothing",
};

function graphText(graph: ModuleGraphStatus): string {
  switch (graph.state) {
    case "known":
      return `${graph.files} files, ${graph.npmPackages} npm packages (deno info: ${graph.ms} ms)`;
    case "unknown":
      return `unknown: ${graph.reason} (sources and the default extensions restart)`;
    case "pending":
      return "worked out after the app's first start";
    case "none":
      return "none (a static directory)";
  }
}

function decisionsHtml(decisions: readonly DecisionRecord[]): string {
  if (decisions.length === 0) return "<p>No file has changed yet.</p>";
  const cell = (text: string) => `<td>${escapeHtml(text)}</td>`;
  const rows = decisions.map((record) => {
    const files = record.files.map((file) => `${file.path} (${file.change})`).join(", ") +
      (record.moreFiles > 0 ? ` and ${record.moreFiles} more` : "");
    const took = record.action !== "restart"
      ? ""
      : record.ok === null
      ? "running"
      : record.ok
      ? `${record.restartMs} ms`
      : `failed after ${record.restartMs} ms`;
    return `<tr>${cell(record.at)}${cell(files)}${cell(ACTION_WORDS[record.action])}${
      cell(record.why)
    }${cell(took)}</tr>`;
  });
  return `<table><tr><th>when</th><th>files</th><th>decision</th><th>why</th><th>restart took</th></tr>${
    rows.join("")
  }</table>`;
}

function row(name: string, value: string): string {
  return `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`;
}

function statusHtml(status: DevsrvStatus): string {
  const last = status.lastRestart;
  const rows = [
    row(
      "mode",
      status.mode === "reloader" ? "reloader (parent) + child" : "single process (--no-reload)",
    ),
    row(
      "parent pid",
      status.parentPid === null ? "none" : String(status.parentPid),
    ),
    row(
      "child pid",
      status.childPid === null ? "none" : String(status.childPid),
    ),
    row("standby pid", status.standbyPid === null ? "none" : String(status.standbyPid)),
    ...(status.headStartPid ? [row("head start pid", String(status.headStartPid))] : []),
    row("generation", String(status.generation)),
    row("state", status.state),
    row("serving", status.entry),
    row("reloader", status.reloader),
    row(
      "watching",
      `${status.watchRoots.join(", ") || "nothing"} (${status.watchedFiles} files)`,
    ),
    row(
      "last restart",
      last
        ? `${last.at} · ${last.reason}${last.files.length ? ` (${last.files.join(", ")})` : ""} · ${
          last.ok ? `ready in ${last.ms} ms` : "failed"
        }`
        : "none",
    ),
  ];
  if (status.moduleGraph) rows.push(row("module graph", graphText(status.moduleGraph)));
  if (status.error) rows.push(row("error", status.error));
  const decisions = status.decisions === undefined
    ? ""
    : `<h2 style="color:#222">Recent decisions</h2>${decisionsHtml(status.decisions)}`;
  return `<h1 style="color:#222">devsrv ${escapeHtml(status.version)}</h1><table>${
    rows.join("")
  }</table>${decisions}`;
}

/**
 * Renders the status.
 *
 * @param request The request, for content negotiation.
 * @param status The current state.
 * @returns HTML for browsers, JSON otherwise.
 */
export function statusResponse(
  request: Request,
  status: DevsrvStatus,
): Response {
  const headers = { "cache-control": "no-store" };
  if (
    acceptsHtml(request) &&
    !(request.headers.get("accept") ?? "").includes("application/json")
  ) {
    return new Response(htmlPage("devsrv status", statusHtml(status)), {
      headers: { ...headers, "content-type": "text/html; charset=utf-8" },
    });
  }
  return Response.json(status, { headers });
}
