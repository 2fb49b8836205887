/**
 * Decides what `devsrv serve` serves: an app module or a static directory,
 * given on the command line or found by convention in the current
 * directory.
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { DevsrvError } from "../errors.ts";
import { shownPath, SOURCE_EXTENSIONS } from "../paths.ts";
import type { Entry } from "../serve/app_source.ts";

export type { Entry } from "../serve/app_source.ts";

/** App files looked for, in order, when no ENTRY is given. */
export const CONVENTIONAL_APP_FILES = [
  "app.ts",
  "app.tsx",
  "app.js",
  "server.ts",
  "server.tsx",
  "server.js",
  "main.ts",
] as const;

/**
 * Extensions of the modules `deno run` runs as code, with their dot. A
 * file without an extension (a script with a shebang) is run too, as
 * JavaScript.
 */
export const MODULE_EXTENSIONS: readonly string[] = SOURCE_EXTENSIONS.map((ext) => `.${ext}`);

/** Whether `deno run` runs a file as a module: a known extension, or none (a script). */
function isModulePath(path: string): boolean {
  const name = basename(path);
  return MODULE_EXTENSIONS.some((ext) => name.endsWith(ext)) || !name.slice(1).includes(".");
}

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    if (error instanceof Deno.errors.NotADirectory) return undefined;
    throw error;
  }
}

function moduleEntry(path: string, cwd: string): Entry {
  if (!isModulePath(path)) {
    throw new DevsrvError(
      `entry "${shownPath(path, cwd)}" is not a module devsrv can serve`,
      `give a ${MODULE_EXTENSIONS.join(", ")} module, or a directory to serve its files`,
    );
  }
  return { kind: "module", path, display: shownPath(path, cwd) };
}

function findConventionalEntry(cwd: string): Entry | undefined {
  for (const name of CONVENTIONAL_APP_FILES) {
    const path = join(cwd, name);
    if (statOrUndefined(path)?.isFile) return moduleEntry(path, cwd);
  }
  if (statOrUndefined(join(cwd, "index.html"))?.isFile) {
    return { kind: "static", root: cwd, display: "." };
  }
  const publicDir = join(cwd, "public");
  if (statOrUndefined(publicDir)?.isDirectory) {
    return { kind: "static", root: publicDir, display: "public" };
  }
  return undefined;
}

/**
 * Resolves the ENTRY argument (or its absence) to what devsrv serves.
 *
 * @param entry ENTRY as typed, or `undefined`.
 * @param cwd The directory relative paths start from.
 * @returns The app module or static directory, with absolute paths.
 * @throws {DevsrvError} When ENTRY does not exist, is not servable, or
 * nothing conventional is found.
 */
export function resolveEntry(entry: string | undefined, cwd: string): Entry {
  if (entry === undefined) {
    const found = findConventionalEntry(cwd);
    if (found) return found;
    throw new DevsrvError(
      `no app found in "${cwd}": looked for ${
        CONVENTIONAL_APP_FILES.join(", ")
      }, index.html and public/`,
      'name one, e.g. "devsrv serve app.ts" or "devsrv serve ./site"',
    );
  }
  const path = resolve(cwd, entry);
  const info = statOrUndefined(path);
  if (!info) {
    throw new DevsrvError(
      `entry "${entry}" does not exist`,
      "check the path, or give an app module or a directory",
    );
  }
  if (info.isDirectory) {
    return { kind: "static", root: path, display: shownPath(path, cwd) };
  }
  return moduleEntry(path, cwd);
}
