/**
 * `--open`: shows the served URL in the user's browser, the way other
 * tools do: `$BROWSER` first, then the system's opener (`xdg-open`,
 * `open`, `cmd /c start`).
 *
 * The browser is started detached (its own session, so Ctrl+C in devsrv's
 * terminal does not close it). Its exit status is awaited, to report a
 * failure; devsrv ends with `Deno.exit`, which does not wait for it.
 * Failing to open a browser is never fatal: the URL is printed anyway.
 *
 * @module
 */

/** Where `$BROWSER` separates alternative commands, per operating system. */
const WINDOWS_LIST_SEPARATOR = ";";
const POSIX_LIST_SEPARATOR = ":";

/** Characters `cmd.exe` would act on in a URL, escaped with `^`. */
const CMD_METACHARACTERS = /[&|<>^()%!"]/g;

/**
 * The commands to try, in order, to open a URL.
 *
 * `$BROWSER` holds commands separated by `:` (`;` on Windows); in each,
 * `%s` stands for the URL (`%%` for a percent sign), and without `%s` the
 * URL is added as the last argument.
 *
 * @param url What to open.
 * @param options The value of `$BROWSER` and the operating system.
 * @returns Argument vectors, program first.
 *
 * @example `$BROWSER` names a program
 * ```ts
 * import assert from "node:assert/strict";
 * import { browserCommands } from "./open_browser.ts";
 *
 * assert.deepEqual(browserCommands("http://x/", { browser: "firefox", os: "linux" }), [
 *   ["firefox", "http://x/"],
 * ]);
 * ```
 */
export function browserCommands(
  url: string,
  options: { browser?: string | undefined; os: typeof Deno.build.os },
): string[][] {
  const separator = options.os === "windows" ? WINDOWS_LIST_SEPARATOR : POSIX_LIST_SEPARATOR;
  const fromEnv = (options.browser ?? "").split(separator)
    .map((entry) => entry.trim().split(/\s+/).filter((word) => word !== ""))
    .filter((words) => words.length > 0)
    .map((words) => withUrl(words, url));
  if (fromEnv.length > 0) return fromEnv;
  switch (options.os) {
    case "darwin":
      return [["open", url]];
    case "windows":
      // The empty argument is start's window title, else a quoted URL would be taken for it.
      return [["cmd", "/c", "start", "", url.replace(CMD_METACHARACTERS, "^$&")]];
    default:
      return [["xdg-open", url]];
  }
}

function withUrl(words: string[], url: string): string[] {
  if (!words.some((word) => word.includes("%s"))) return [...words, url];
  return words.map((word) => word.replace(/%([s%])/g, (_, kind) => kind === "s" ? url : "%"));
}

/** Runs one command; returns why it failed, or `undefined` when it worked. */
async function tryCommand(argv: string[]): Promise<string | undefined> {
  const [program = "", ...args] = argv;
  try {
    const child = new Deno.Command(program, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    const status = await child.status;
    return status.success ? undefined : `"${program}" exited with code ${status.code}`;
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? `"${program}" was not found`
      : `"${program}" could not start: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * Opens a URL and tells how it went; the promise settles once the command
 * that worked has exited (with a browser that blocks, when it closes).
 *
 * @param url What to open.
 * @returns `undefined` on success, else why no command worked.
 *
 * @example Open the dev server's page
 * ```ts
 * import { tryOpenBrowser } from "./open_browser.ts";
 *
 * // $BROWSER names the browser command; `true` stands in for one here.
 * const browser = Deno.env.get("BROWSER");
 * Deno.env.set("BROWSER", "true");
 * try {
 *   const failure = await tryOpenBrowser("http://127.0.0.1:8000/");
 *   if (failure !== undefined) throw new Error(failure);
 * } finally {
 *   if (browser === undefined) Deno.env.delete("BROWSER");
 *   else Deno.env.set("BROWSER", browser);
 * }
 * ```
 */
export async function tryOpenBrowser(url: string): Promise<string | undefined> {
  const commands = browserCommands(url, {
    browser: Deno.env.get("BROWSER"),
    os: Deno.build.os,
  });
  const failures: string[] = [];
  for (const argv of commands) {
    const failure = await tryCommand(argv);
    if (failure === undefined) return undefined;
    failures.push(failure);
  }
  return `Could not open a browser for "${url}" (${failures.join("; ")}); open it yourself`;
}

/**
 * Opens the default browser (honours `$BROWSER`; else `xdg-open`, `open`
 * or `cmd /c start`). Never throws; reports failure through `onError`.
 *
 * @param url What to open.
 * @param onError Told why, when no command worked.
 *
 * @example Open the dev server's page, told why when it fails
 * ```ts
 * import { openBrowser } from "./open_browser.ts";
 *
 * // $BROWSER names the browser command; `false` stands in for one that fails.
 * const browser = Deno.env.get("BROWSER");
 * Deno.env.set("BROWSER", "false");
 * const warned = Promise.withResolvers<string>();
 * try {
 *   openBrowser("http://127.0.0.1:8000/", (message) => warned.resolve(message));
 *   const message = await warned.promise;
 *   if (!message.startsWith("Could not open a browser")) throw new Error(message);
 * } finally {
 *   if (browser === undefined) Deno.env.delete("BROWSER");
 *   else Deno.env.set("BROWSER", browser);
 * }
 * ```
 */
export function openBrowser(url: string, onError: (message: string) => void): void {
  tryOpenBrowser(url).then(
    (failure) => {
      if (failure !== undefined) onError(failure);
    },
    (error) => onError(`Could not open a browser for "${url}": ${String(error)}`),
  );
}
