/**
 * The HTML page the static file server shows for a directory without an
 * `index.html`: folders first, then files, each name HTML-escaped and each
 * link percent-encoded. Only entries that the server would serve are
 * listed, so dotfiles, key material and symlinks that lead out of the root
 * stay hidden.
 *
 * @module
 */

import { escapeHtml } from "../pages/html.ts";

import { join } from "node:path";
import { type PathPolicy, refusalForName, servableSegmentsBelow } from "./path_safety.ts";

/** One row of a directory listing. */
export interface ListingEntry {
  /** The file name, as on disk. */
  name: string;
  /** Whether it is (or its symlink leads to) a directory. */
  isDirectory: boolean;
  /** Size in bytes; `null` for directories. */
  size: number | null;
  /** Last modification time, when the platform reports one. */
  modified: Date | null;
}

const SIZE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** Orders names the same way everywhere, with numbers in numeric order. */
const nameOrder = new Intl.Collator("en", { numeric: true });

/**
 * Reads the entries of a directory that may be listed, folders first.
 *
 * Entries that vanish or cannot be read while listing are left out.
 *
 * @param directory The directory's real path.
 * @param root The served root's real path.
 * @param policy Whether dotfiles and key material are listed.
 * @returns The listable entries, sorted.
 * @throws {Deno.errors.NotFound} When the directory itself is gone.
 *
 * @example List a temporary directory
 * ```ts
 * import { readListing } from "./dir_listing.ts";
 *
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * try {
 *   await Deno.writeTextFile(`${root}/a.txt`, "a");
 *   await Deno.writeTextFile(`${root}/.env`, "SECRET=1");
 *   const names = (await readListing(root, root)).map((entry) => entry.name);
 *   if (names.join() !== "a.txt") throw new Error();
 * } finally {
 *   await Deno.remove(root, { recursive: true });
 * }
 * ```
 */
export async function readListing(
  directory: string,
  root: string,
  policy: PathPolicy = {},
): Promise<ListingEntry[]> {
  const entries: ListingEntry[] = [];
  for await (const { name } of Deno.readDir(directory)) {
    if (refusalForName(name, policy)) continue;
    const entry = await readEntry(join(directory, name), root, policy);
    if (entry) entries.push({ ...entry, name });
  }
  return entries.sort(directoriesFirst);
}

async function readEntry(
  path: string,
  root: string,
  policy: PathPolicy,
): Promise<Omit<ListingEntry, "name"> | undefined> {
  try {
    // A symlink is listed only where the server would follow it.
    const real = await Deno.realPath(path);
    if (!servableSegmentsBelow(root, real, policy)) return undefined;
    const info = await Deno.stat(real);
    if (!info.isDirectory && !info.isFile) return undefined;
    return {
      isDirectory: info.isDirectory,
      size: info.isFile ? info.size : null,
      modified: info.mtime,
    };
  } catch (error) {
    if (isVanishedOrHidden(error)) return undefined;
    throw error;
  }
}

/** Errors that mean "this entry cannot be served", not "listing failed". */
function isVanishedOrHidden(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound ||
    error instanceof Deno.errors.NotADirectory ||
    error instanceof Deno.errors.FilesystemLoop ||
    error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable;
}

function directoriesFirst(a: ListingEntry, b: ListingEntry): number {
  if (a.isDirectory !== b.isDirectory) return a.isDirectory ? -1 : 1;
  return nameOrder.compare(a.name, b.name);
}

/**
 * Renders a directory listing page.
 *
 * Links are relative (`./name`), so the page works wherever it is
 * mounted; the `./` keeps a name like `x:y` from reading as a URL scheme.
 *
 * @param segments The decoded names from the root down to the directory.
 * @param entries The entries to show, already sorted.
 * @returns A complete HTML document.
 *
 * @example Escape names and encode links
 * ```ts
 * import { renderListing } from "./dir_listing.ts";
 *
 * const html = renderListing(["docs"], [
 *   { name: "<b>.txt", isDirectory: false, size: 3, modified: null },
 * ]);
 * if (!html.includes(`<a href="./%3Cb%3E.txt">&lt;b&gt;.txt</a>`)) {
 *   throw new Error();
 * }
 * ```
 */
export function renderListing(
  segments: readonly string[],
  entries: readonly ListingEntry[],
): string {
  const title = escapeHtml(
    `Index of /${segments.map((s) => s + "/").join("")}`,
  );
  const parentRow = segments.length > 0
    ? `<tr><td><a href="../">../</a></td><td></td><td></td></tr>\n`
    : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; }
table { border-collapse: collapse; }
td, th { padding: 0.2rem 1.2rem 0.2rem 0; text-align: left; }
td:nth-child(2) { text-align: right; }
</style>
</head>
<body>
<h1>${title}</h1>
<table>
<thead><tr><th>Name</th><th>Size</th><th>Modified</th></tr></thead>
<tbody>
${parentRow}${entries.map(renderRow).join("")}</tbody>
</table>
</body>
</html>
`;
}

function renderRow(entry: ListingEntry): string {
  const slash = entry.isDirectory ? "/" : "";
  const href = `./${encodeURIComponent(entry.name)}${slash}`;
  const label = escapeHtml(entry.name + slash);
  const size = entry.size === null ? "" : formatSize(entry.size);
  const modified = entry.modified ? formatDate(entry.modified) : "";
  return `<tr><td><a href="${href}">${label}</a></td><td>${size}</td>` +
    `<td>${modified}</td></tr>\n`;
}

function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : 1;
  return `${value.toFixed(digits)} ${SIZE_UNITS[unit]}`;
}

function formatDate(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
