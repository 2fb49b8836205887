/**
 * `GET /__devsrv`: the state of both processes, as HTML for a person or
 * JSON when asked with `Accept: application/json`.
 *
 * @module
 */

import { acceptsHtml, escapeHtml, htmlPage } from "./html.ts";

/** The reserved path prefix for devsrv's own endpoints. */
export const DEVSRV_PATH = "/__devsrv";

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
  if (status.error) rows.push(row("error", status.error));
  return `<h1 style="color:#222">devsrv ${escapeHtml(status.version)}</h1><table>${
    rows.join("")
  }</table>`;
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
