/**
 * Imports a user's app module and finds its request handler, following the
 * `deno serve` convention so that the same file runs unchanged in
 * production. Each way the import can fail becomes one clear line.
 *
 * @module
 */

import { filePath, fileUrl, shownPath } from "../paths.ts";
import { DevsrvError, firstLine, stripAnsi } from "../errors.ts";
import type { Handler } from "../options.ts";

/** Where in the user's code a load failure points to. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

/** A failed load, with what a person needs to fix it. */
export class AppLoadError extends DevsrvError {
  /** File and line the failure points to, when known. */
  readonly location: SourceLocation | undefined;
  /** The underlying error's stack or text. */
  readonly detail: string;

  /**
   * @param message The one-line problem.
   * @param fix What to do about it.
   * @param location Where it is.
   * @param detail The full original error text.
   */
  constructor(
    message: string,
    fix: string,
    location: SourceLocation | undefined,
    detail: string,
  ) {
    super(message, fix);
    this.name = "AppLoadError";
    this.location = location;
    this.detail = detail;
  }
}

/** The shapes of program devsrv serves, as the fix for a program that serves nothing. */
export const SERVABLE_SHAPES =
  'start a server (Deno.serve(handler), app.listen(port)) or export one: export default { fetch(req) { return new Response("Hello") } }';

/** How long a program may run without a server before the log says so, in ms. */
export const NO_SERVER_NOTICE_MS = 10_000;

/**
 * The log's notice for a program that has started no server after
 * {@linkcode NO_SERVER_NOTICE_MS}: it may still start one (after a database
 * connection, a timer), and is served as soon as it does.
 *
 * @param display The entry as shown.
 * @returns The line.
 */
export function noServerNotice(display: string): string {
  return `${display} has started no server after ${
    NO_SERVER_NOTICE_MS / 1000
  } s; devsrv serves it once it does (${SERVABLE_SHAPES})`;
}

/** A module that loaded but has no request handler to serve. */
export class NoHandlerError extends AppLoadError {}

const FILE_LOCATIONS = /(file:\/\/[^\s)'"]+?):(\d+):(\d+)/g;
/** devsrv's own source folder (`src/`), as a path. */
const DEVSRV_SOURCE_DIR = filePath(new URL("../", import.meta.url).href);

/**
 * Finds the first `file://...:line:col` in an error text that is not in
 * devsrv's own source.
 *
 * @param text Error message or stack, possibly with colour codes.
 * @returns The location, or `undefined`.
 *
 * @example A Deno file API that devsrv wraps threw at the app's top level
 * ```ts
 * import { findSourceLocation } from "./app_loader.ts";
 *
 * const wrapper = new URL("./write_reports.ts", import.meta.url).href;
 * const text = `AlreadyExists: File exists\n    at wrapped (${wrapper}:122:38)\n` +
 *   "    at file:///home/me/app/app.ts:1:6";
 * const location = findSourceLocation(text);
 * if (location?.file !== "/home/me/app/app.ts" || location.line !== 1) throw new Error();
 * ```
 */
export function findSourceLocation(text: string): SourceLocation | undefined {
  for (const match of stripAnsi(text).matchAll(FILE_LOCATIONS)) {
    const file = filePath(match[1]!);
    // devsrv's own wrappers (of Deno's file APIs, of Deno.serve) are not
    // where the user's code went wrong: the next frame is.
    if (file.startsWith(DEVSRV_SOURCE_DIR)) continue;
    return { file, line: Number(match[2]), column: Number(match[3]) };
  }
  return undefined;
}

function where(location: SourceLocation | undefined): string {
  if (!location) return "";
  return ` at ${shownPath(location.file)}:${location.line}:${location.column}`;
}

/**
 * Reads Deno's report of a `deno.json`, `package.json` or import map it
 * cannot read: `Failed deserializing config file '<url>'.` and, below it,
 * `Caused by: ... on line L column C`.
 */
function configProblem(
  message: string,
  text: string,
): { problem: string; location: SourceLocation | undefined } | undefined {
  const file = message.match(/config file '([^']+)'|(?:import map|package\.json)[^']*'([^']+)'/i);
  if (!file) return undefined;
  const url = file[1] ?? file[2] ?? "";
  const path = url.startsWith("file:") ? decodeURIComponent(new URL(url).pathname) : url;
  const cause = text.match(/Caused by:\s*\n?\s*(.+)/)?.[1]?.trim();
  const at = cause?.match(/line (\d+) column (\d+)/);
  const location = at ? { file: path, line: Number(at[1]), column: Number(at[2]) } : undefined;
  const shown = where(location) || ` in ${path}`;
  return { problem: `${cause ?? message}${shown.replace(/^ at /, " at ")}`, location };
}

function toLoadError(error: unknown, display: string): AppLoadError {
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : "Error";
  return classifyLoadFailure({ name, message: firstLine(stripAnsi(message)), text }, display);
}

/** A failure to load, as text: from an error object or from Deno's output. */
export interface LoadFailureText {
  /** The error's name, e.g. `"TypeError"`. */
  name: string;
  /** Its message's first line, e.g. `"Module not found ..."`. */
  message: string;
  /** The whole text (stack, source excerpt), where the location is found. */
  text: string;
}

/**
 * Turns a load failure into the one-line problem and fix a person sees: a
 * syntax error, a module that cannot be found, or an exception at the top
 * level, each with the file and line it points to.
 *
 * @param failure The failure's name, message and full text.
 * @param display The entry as the person gave it.
 * @returns The error to report.
 */
export function classifyLoadFailure(failure: LoadFailureText, display: string): AppLoadError {
  const location = findSourceLocation(failure.text);
  // Deno ends some messages with a period; devsrv's line goes on with "; fix".
  const plain = stripAnsi(failure.message).trim().replace(/\.$/, "");
  const detail = stripAnsi(failure.text);
  if (
    plain.startsWith("SyntaxError:") || failure.name === "SyntaxError" ||
    /could not be parsed/.test(plain)
  ) {
    return new AppLoadError(
      `app "${display}" has a syntax error${where(location)}: ${
        plain.replace(/^SyntaxError: /, "")
      }`,
      "fix it and save; devsrv reloads",
      location,
      detail,
    );
  }
  const config = configProblem(plain, detail);
  if (config) {
    return new AppLoadError(
      `the project configuration cannot be read: ${config.problem}`,
      "fix the file and save; devsrv reloads",
      config.location,
      detail,
    );
  }
  if (
    /^(Module not found|Import ".*" not a dependency)/.test(plain) ||
    /Relative import path/.test(plain)
  ) {
    return new AppLoadError(
      `app "${display}" imports a module that cannot be found${where(location)}: ${plain}`,
      "fix the import path (or the import map in deno.json) and save",
      location,
      detail,
    );
  }
  return new AppLoadError(
    `app "${display}" threw while loading${where(location)}: ${failure.name}: ${plain}`,
    "fix the error at the top level of the module and save",
    location,
    detail,
  );
}

function describeExports(module: Record<string, unknown>): string {
  const names = Object.keys(module);
  return names.length === 0 ? "it has no exports" : `its exports: ${names.join(", ")}`;
}

/**
 * The error for a module that started no server and exports no handler.
 *
 * @param module The module namespace.
 * @param display The entry as the person gave it.
 * @returns The error, listing what the module does export.
 */
export function noHandlerError(module: Record<string, unknown>, display: string): NoHandlerError {
  return new NoHandlerError(
    `app "${display}" starts no server and exports no request handler (${describeExports(module)})`,
    SERVABLE_SHAPES,
    undefined,
    "",
  );
}

/**
 * Picks the handler out of a module's exports: a default export with a
 * `fetch` method (`deno serve`), a default-exported function, or a named
 * `fetch` or `handler` function.
 *
 * @param module The module namespace.
 * @returns The handler, or `undefined` when there is none.
 */
export function findHandler(
  module: Record<string, unknown>,
): Handler | undefined {
  const main = module.default;
  if (
    main && typeof main === "object" && "fetch" in main &&
    typeof main.fetch === "function"
  ) {
    return main.fetch.bind(main) as Handler;
  }
  if (typeof main === "function") return main as Handler;
  for (const name of ["fetch", "handler"]) {
    const candidate = module[name];
    if (typeof candidate === "function") return candidate as Handler;
  }
  return undefined;
}

/**
 * Imports the app module and returns its handler.
 *
 * @param path Absolute path of the module.
 * @param display The path as the person gave it, for messages.
 * @returns The request handler.
 * @throws {AppLoadError} For a syntax error, a missing import, an exception
 * at import time, or a module without a usable handler.
 */
export async function loadHandler(
  path: string,
  display: string,
): Promise<Handler> {
  let module: Record<string, unknown>;
  try {
    module = await import(fileUrl(path));
  } catch (error) {
    throw toLoadError(error, display);
  }
  const handler = findHandler(module);
  if (handler) return handler;
  throw new NoHandlerError(
    `app "${display}" starts no server and exports no request handler (${describeExports(module)})`,
    SERVABLE_SHAPES,
    undefined,
    "",
  );
}
