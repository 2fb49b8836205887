/**
 * File paths and `file:` URLs, the few conversions the serving child needs.
 * They stand in for `node:path` and `node:url` there: the first `node:`
 * module a process imports starts Deno's Node compatibility layer, about
 * 12 ms, on the path of every start of the app.
 *
 * @module
 */

/**
 * The extensions (without the dot) of the modules Deno runs as code:
 * TypeScript and JavaScript, ES modules and CommonJS, with JSX.
 */
export const SOURCE_EXTENSIONS: readonly string[] = Object.freeze([
  "ts",
  "tsx",
  "mts",
  "cts",
  "js",
  "jsx",
  "mjs",
  "cjs",
]);

/**
 * Turns a `file:` URL into a path; anything else is returned as it is.
 *
 * @param location A URL or a path.
 * @returns The path.
 *
 * @example
 * ```ts
 * import { filePath } from "./paths.ts";
 *
 * if (filePath("file:///app/my%20app/main.ts") !== "/app/my app/main.ts") throw new Error();
 * if (filePath("https://example.com/x.ts") !== "https://example.com/x.ts") throw new Error();
 * ```
 */
export function filePath(location: string): string {
  if (!location.startsWith("file:")) return location;
  const url = URL.parse(location);
  return url ? decodeURIComponent(url.pathname) : location;
}

/**
 * Turns an absolute path into a `file:` URL, every character that a URL
 * would read otherwise (`%`, `#`, `?`, spaces) escaped.
 *
 * @param path An absolute path.
 * @returns The URL.
 *
 * @example
 * ```ts
 * import { fileUrl } from "./paths.ts";
 *
 * if (fileUrl("/app/50% #1.ts") !== "file:///app/50%25%20%231.ts") throw new Error(fileUrl("/app/50% #1.ts"));
 * ```
 */
export function fileUrl(path: string): string {
  const url = new URL("file:///");
  url.pathname = path.replaceAll("%", "%25").replaceAll("#", "%23").replaceAll("?", "%3F");
  return url.href;
}

/**
 * Shows a path the way a person typed it: relative to the current
 * directory when it is inside it (`.` for the directory itself), else
 * absolute. Every line and page that names a file shows it this way.
 *
 * @param path An absolute path.
 * @param cwd The directory it is shown from.
 * @returns The path to show.
 *
 * @example
 * ```ts
 * import { shownPath } from "./paths.ts";
 *
 * if (shownPath("/app/lib/db.ts", "/app") !== "lib/db.ts") throw new Error();
 * if (shownPath("/elsewhere/x.ts", "/app") !== "/elsewhere/x.ts") throw new Error();
 * if (shownPath("/app", "/app") !== ".") throw new Error();
 * ```
 */
export function shownPath(path: string, cwd: string = Deno.cwd()): string {
  const base = cwd.endsWith("/") ? cwd : `${cwd}/`;
  if (path === cwd || path === base) return ".";
  return path.startsWith(base) ? path.slice(base.length) : path;
}
