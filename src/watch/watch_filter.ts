/**
 * Which files the reloader watches: a pure decision about one path relative
 * to its watch root. A directory is either ignored (never descended into, so
 * it costs no OS watch and no stat) or kept; a file is ignored, counted (a
 * change to it restarts the app) or not counted.
 *
 * Three sources of ignore rules meet here, all in `.gitignore` syntax and
 * matched by {@linkcode GitignoreRules}: {@linkcode DEFAULT_IGNORES}, the
 * `.gitignore` files found in the root and below it, and the `--ignore`
 * globs. Later sources win over earlier ones, the way a later line wins in
 * one `.gitignore` file: a `.gitignore` can re-include a default ignore with
 * `!name`, and `--ignore '!build/'` re-includes one from the command line.
 * The file system is not read here; the caller hands over the text of each
 * `.gitignore` it finds.
 *
 * @module
 */

import { SOURCE_EXTENSIONS } from "../paths.ts";
import { GitignoreRules } from "./gitignore_rules.ts";

/** The file extensions (without dot) that a Deno web app is made of. */
export const DEFAULT_EXTENSIONS: readonly string[] = Object.freeze([
  // code and configuration
  ...SOURCE_EXTENSIONS,
  "json",
  "jsonc",
  // markup, styles, content
  "html",
  "htm",
  "css",
  "scss",
  "sass",
  "less",
  "md",
  "mdx",
  "txt",
  "svg",
  // environment and settings (`.env` and `.env.*` count too)
  "env",
  "yaml",
  "yml",
  "toml",
  // components and templates
  "vue",
  "svelte",
  "astro",
  "eta",
  "ejs",
  "hbs",
  "njk",
  "liquid",
  "pug",
]);

/**
 * What is never watched unless a `.gitignore` or an `--ignore '!pattern'`
 * re-includes it: version control and tool folders, build output, OS
 * litter and the temporary and backup files that editors write next to the
 * file being saved. Directory patterns end with `/`.
 */
export const DEFAULT_IGNORES: readonly string[] = Object.freeze([
  // version control
  ".git/",
  ".hg/",
  ".svn/",
  // dependencies, caches and build output
  "node_modules/",
  "dist/",
  "build/",
  "out/",
  "coverage/",
  ".cache/",
  ".deno/",
  ".next/",
  ".nuxt/",
  ".turbo/",
  ".vite/",
  "target/",
  "__pycache__/",
  // editor state folders
  ".idea/",
  ".vscode/",
  // OS litter
  ".DS_Store",
  "Thumbs.db",
  "desktop.ini",
  // Vim: swap files, the write-permission probe, backups
  "*.swp",
  "*.swo",
  "*.swn",
  "*.swx",
  "*.swpx",
  "4913",
  "*~",
  // Emacs: lock links and auto-save files (`#` opens a comment, so escape it)
  ".#*",
  "\\#*#",
  // JetBrains safe write, gedit, Kate, Chrome's file system access
  "*___jb_tmp___",
  "*___jb_old___",
  ".goutputstream-*",
  "*.kate-swp",
  "*.crswap",
  // generic temporary, backup and merge leftovers
  "*.tmp",
  "*.temp",
  "*.bak",
  "*.orig",
  "*.rej",
]);

/** The extension that also counts `.env.local`, `.env.production` and so on. */
const ENV_EXTENSION = "env";

/** Options for {@linkcode WatchFilter}. */
export interface WatchFilterOptions {
  /**
   * Extensions (without dot) whose files count; `undefined` means
   * {@linkcode DEFAULT_EXTENSIONS}. A leading `.` or `*.` is tolerated.
   */
  ext: readonly string[] | undefined;
  /** Static-directory mode: every file that is not ignored counts. @default {false} */
  allFiles?: boolean;
  /** Extra patterns in `.gitignore` syntax, relative to the root. */
  ignore: readonly string[];
  /**
   * Match case-insensitively, as the file systems of macOS and Windows do.
   * @default {true on macOS and Windows, false elsewhere}
   */
  ignoreCase?: boolean;
}

/** The verdict on one file: see {@linkcode WatchFilter.classifyFile}. */
export type FileVerdict = "ignored" | "counted" | "not-counted";

/** The compiled rules. */
type Matcher = GitignoreRules;

/**
 * Decides which directories and files under one watch root are watched.
 * Paths are relative to the root, with `/` separators and no leading `./`.
 *
 * @example Classify paths in a root
 * ```ts
 * import { WatchFilter } from "./watch_filter.ts";
 *
 * const filter = new WatchFilter({ ext: undefined, ignore: ["*.gen.ts"] });
 * filter.addGitignore("", "secret/\n");
 * if (!filter.isIgnoredDir("node_modules")) throw new Error();
 * if (filter.classifyFile("src/app.ts") !== "counted") throw new Error();
 * if (filter.classifyFile("src/routes.gen.ts") !== "ignored") throw new Error();
 * if (filter.classifyFile("secret/key.json") !== "ignored") throw new Error();
 * if (filter.classifyFile("logo.png") !== "not-counted") throw new Error();
 * ```
 */
export class WatchFilter {
  readonly #extensions: readonly string[];
  readonly #allFiles: boolean;
  readonly #userRules: readonly string[];
  readonly #ignoreCase: boolean;
  /** Rebased rules per `.gitignore` folder. */
  readonly #gitRules = new Map<string, string[]>();
  #matcher: Matcher | undefined;

  /**
   * Creates a filter for one root.
   *
   * @param options Extensions, static-directory mode and `--ignore` globs.
   */
  constructor(options: WatchFilterOptions) {
    this.#extensions = normalizeExtensions(options.ext ?? DEFAULT_EXTENSIONS);
    this.#allFiles = options.allFiles ?? false;
    this.#userRules = [...options.ignore];
    this.#ignoreCase = options.ignoreCase ?? Deno.build.os !== "linux";
  }

  /**
   * Sets the rules of a `.gitignore` file, replacing those read before from
   * the same folder. Its patterns apply to the paths below its folder and
   * win over the rules of the folders above it, whatever the order in which
   * the files are added.
   *
   * @param dir The directory holding the file, relative to the root (`""`
   * for the root itself).
   * @param content The text of the file.
   */
  addGitignore(dir: string, content: string): void {
    this.#gitRules.set(dir, rebaseGitignore(dir, content));
    this.#matcher = undefined; // rebuilt on the next question
  }

  /**
   * Tells whether a directory is ignored, by itself or through an ancestor.
   *
   * @param dir The directory, relative to the root; `""` is the root.
   * @returns `true` when the directory must not be watched or descended.
   */
  isIgnoredDir(dir: string): boolean {
    return dir !== "" && this.#match().ignores(`${dir}/`);
  }

  /**
   * Classifies a file.
   *
   * @param file The file, relative to the root.
   * @returns `"ignored"` when an ignore rule (or an ignored ancestor) covers
   * it, `"counted"` when a change to it counts, `"not-counted"` when its
   * extension does not.
   */
  classifyFile(file: string): FileVerdict {
    if (file === "" || this.#match().ignores(file)) return "ignored";
    if (this.#allFiles) return "counted";
    const name = file.slice(file.lastIndexOf("/") + 1);
    return hasCountedExtension(name, this.#extensions) ? "counted" : "not-counted";
  }

  /**
   * Tells whether a change to a file counts: shorthand for
   * `classifyFile(file) === "counted"`.
   *
   * @param file The file, relative to the root.
   * @returns `true` when a change to it should trigger a reload.
   */
  counts(file: string): boolean {
    return this.classifyFile(file) === "counted";
  }

  /** One matcher for all rules; a later rule wins, so deeper folders come later. */
  #match(): Matcher {
    this.#matcher ??= new GitignoreRules({ ignoreCase: this.#ignoreCase })
      .add([...DEFAULT_IGNORES])
      .add(byDepth(this.#gitRules))
      .add([...this.#userRules]);
    return this.#matcher;
  }
}

/** The rules of all `.gitignore` files, shallower folders first. */
function byDepth(rules: ReadonlyMap<string, string[]>): string[] {
  const depth = (dir: string) => dir === "" ? 0 : dir.split("/").length;
  return [...rules.keys()]
    .sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0))
    .flatMap((dir) => rules.get(dir) ?? []);
}

/**
 * Lower-cases extensions and strips a leading `.` or `*.`, dropping empty ones.
 *
 * @param extensions Extensions as a user may write them.
 * @returns Bare, lower-case extensions.
 */
export function normalizeExtensions(
  extensions: readonly string[],
): string[] {
  return extensions
    .map((ext) => ext.trim().replace(/^\*?\./, "").toLowerCase())
    .filter((ext) => ext !== "");
}

/**
 * Tells whether a file name ends with one of the extensions. Multi-part
 * extensions such as `d.ts` work; `.env` and `.env.*` count when `env` is
 * listed.
 *
 * @param name A file name, without directory.
 * @param extensions Bare, lower-case extensions.
 * @returns `true` when the name has one of them.
 */
export function hasCountedExtension(
  name: string,
  extensions: readonly string[],
): boolean {
  const lower = name.toLowerCase();
  if (extensions.some((ext) => lower.endsWith(`.${ext}`))) return true;
  return extensions.includes(ENV_EXTENSION) &&
    lower.startsWith(`.${ENV_EXTENSION}.`);
}

/**
 * Rewrites the patterns of a nested `.gitignore` so that they match paths
 * relative to the watch root, which lets one matcher hold the rules of
 * every level: a pattern with a slash before its end is anchored to the
 * file's folder (`dir/pattern`), one without matches at any depth below it
 * (`dir/**\/pattern`).
 *
 * @param dir The folder of the `.gitignore`, relative to the root (`""` for
 * the root).
 * @param content The text of the file.
 * @returns The patterns, blank lines and comments dropped.
 */
export function rebaseGitignore(dir: string, content: string): string[] {
  const rules: string[] = [];
  for (const rawLine of content.split("\n")) {
    const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === "" || line.startsWith("#")) continue;
    rules.push(dir === "" ? line : rebaseRule(dir, line));
  }
  return rules;
}

function rebaseRule(dir: string, line: string): string {
  const negated = line.startsWith("!");
  const pattern = negated ? line.slice(1) : line;
  const beforeTrailingSlash = pattern.endsWith("/") ? pattern.slice(0, -1) : pattern;
  const anchored = beforeTrailingSlash.includes("/");
  const base = escapeForPattern(dir);
  const rebased = anchored ? `${base}/${pattern.replace(/^\//, "")}` : `${base}/**/${pattern}`;
  return negated ? `!${rebased}` : rebased;
}

/** Escapes a literal path so that `[id]` or `*` in folder names match themselves. */
function escapeForPattern(path: string): string {
  return path.replace(/[\\*?[\]]/g, "\\$&").replace(/^[#!]/, "\\$&");
}
