/**
 * How the reloader re-executes its own program as the child: the same
 * executable with the same arguments, so that permission flags, `--config`,
 * `--env-file`, `--unstable-*`, the script and its arguments all carry over.
 *
 * For a user's program (an app module) the child is the same `deno run`
 * with the same Deno flags, but with the program as Deno's main module and
 * devsrv's child code in front of it (`--preload`): the program then runs
 * exactly as `deno run main.ts` runs it (`import.meta.main` is `true`, and
 * Deno finds its `deno.json` or `package.json` from the program's folder).
 *
 * @module
 */

import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { INITIAL_CWD } from "../role.ts";
import { type ReadText, readTextOrUndefined, withoutDevsrvConfig } from "./devsrv_config.ts";

/** What the child's command line is built from. */
export interface ReexecInput {
  /** `Deno.execPath()`: the deno binary, or the compiled program. */
  execPath: string;
  /** `Deno.build.standalone`: running as a `deno compile`d binary. */
  standalone: boolean;
  /** `Deno.args`: the script's (or binary's) own arguments. */
  args: string[];
  /** The process's full argv from `/proc/self/cmdline`, when readable. */
  cmdline: string[] | undefined;
  /** `Deno.mainModule`, to rebuild the argv where `/proc` is missing. */
  mainModule: string;
  /** Permission flags rebuilt from `Deno.permissions`, for the same case. */
  permissionFlags: string[];
  /** The working directory the command line's relative paths start from. */
  cwd: string;
  /**
   * Reads the files that `--config` flags name, to leave devsrv's own
   * configuration (deno install's, or devsrv's deno.json) out of a program's
   * command; without it every `--config` is kept.
   */
  readText?: ReadText;
}

/** A user's program to run as the child's main module. */
export interface ProgramTarget {
  /** devsrv's child code, run first: a path or a URL. */
  preload: string;
  /** The program's entry module, an absolute path. */
  entry: string;
  /** The program's own arguments (its `Deno.args`). */
  args: string[];
}

/** A `deno run` command line taken apart. */
export interface RunCommandLine {
  /** Deno's flags between `run` and the script, e.g. `["-A", "--env-file=.env"]`. */
  denoFlags: string[];
  /** The script as typed. */
  script: string;
  /** The script's own arguments. */
  scriptArgs: string[];
}

/** A command to spawn. */
export interface ChildCommand {
  command: string;
  args: string[];
  /** The working directory; `undefined`: the parent's current one. */
  cwd?: string;
}

/**
 * Builds the child's command line.
 *
 * @param input Facts about this process.
 * @returns The executable and its arguments.
 *
 * @example Under `deno run`, with `/proc/self/cmdline`
 * ```ts
 * import { childCommand } from "./reexec.ts";
 *
 * const command = childCommand({
 *   execPath: "/usr/bin/deno",
 *   standalone: false,
 *   args: ["serve", "app.ts"],
 *   cmdline: ["deno", "run", "-A", "main.ts", "serve", "app.ts"],
 *   mainModule: "file:///work/main.ts",
 *   permissionFlags: [],
 *   cwd: "/work",
 * });
 * if (command.args.join(" ") !== "run -A main.ts serve app.ts") throw new Error();
 * ```
 */
export function childCommand(input: ReexecInput): ChildCommand {
  if (input.standalone) {
    // A compiled binary embeds its permissions and module; only its args vary.
    return { command: input.execPath, args: [...input.args], cwd: input.cwd };
  }
  if (input.cmdline && input.cmdline.length > 1) {
    return { command: input.execPath, args: input.cmdline.slice(1), cwd: input.cwd };
  }
  const script = input.mainModule.startsWith("file:")
    ? fileURLToPath(input.mainModule)
    : input.mainModule;
  return {
    command: input.execPath,
    args: ["run", ...input.permissionFlags, script, ...input.args],
    cwd: input.cwd,
  };
}

/**
 * Finds Deno's flags, the script and its arguments in this process's command
 * line: the script is the first argument that names the main module, so a
 * flag's separate value (`--config deno.json`) never passes for it.
 *
 * @param cmdline The full argv, `deno` first; `run` may be left out.
 * @param mainModule `Deno.mainModule`.
 * @param cwd Where relative paths start.
 * @returns The parts, or `undefined` when no argument names the main module.
 *
 * @example Take a command line apart
 * ```ts
 * import { splitRunCommandLine } from "./reexec.ts";
 *
 * const parts = splitRunCommandLine(
 *   ["deno", "run", "-A", "--config", "deno.json", "main.ts", "serve", "app.ts"],
 *   "file:///work/main.ts",
 *   "/work",
 * );
 * if (parts?.denoFlags.join(" ") !== "-A --config deno.json") throw new Error();
 * if (parts.scriptArgs.join(" ") !== "serve app.ts") throw new Error();
 * ```
 */
export function splitRunCommandLine(
  cmdline: string[],
  mainModule: string,
  cwd: string,
): RunCommandLine | undefined {
  const mainPath = mainModule.startsWith("file:") ? fileURLToPath(mainModule) : undefined;
  const first = cmdline[1] === "run" ? 2 : 1;
  for (let i = first; i < cmdline.length; i++) {
    const arg = cmdline[i]!;
    const names = arg === mainModule ||
      (mainPath !== undefined && !arg.startsWith("-") && !URL.canParse(arg) &&
        resolve(cwd, arg) === mainPath) ||
      (mainPath !== undefined && arg.startsWith("file:") && URL.canParse(arg) &&
        fileURLToPath(arg) === mainPath);
    if (names) {
      return {
        denoFlags: cmdline.slice(first, i),
        script: arg,
        scriptArgs: cmdline.slice(i + 1),
      };
    }
  }
  return undefined;
}

/**
 * Builds the child's command line for a user's program: this process's Deno
 * flags (less a `--config` that configures devsrv itself, see
 * `devsrv_config.ts`), devsrv's child code as a preload module, then the
 * program and its arguments. A compiled binary cannot preload code from disk, so it
 * re-executes itself instead (see {@linkcode childCommand}).
 *
 * @param input Facts about this process.
 * @param target The program.
 * @returns The executable and its arguments.
 *
 * @example Under `deno run`
 * ```ts
 * import { programCommand } from "./reexec.ts";
 *
 * const command = programCommand({
 *   execPath: "/usr/bin/deno",
 *   standalone: false,
 *   args: ["serve", "app.ts"],
 *   cmdline: ["deno", "run", "-A", "main.ts", "serve", "app.ts"],
 *   mainModule: "file:///work/main.ts",
 *   permissionFlags: [],
 *   cwd: "/work",
 * }, { preload: "/work/src/serve/preload.ts", entry: "/work/app.ts", args: [] });
 * const expected = "run --preload=/work/src/serve/preload.ts -A /work/app.ts";
 * if (command.args.join(" ") !== expected) throw new Error();
 * ```
 */
export function programCommand(input: ReexecInput, target: ProgramTarget): ChildCommand {
  if (input.standalone) return childCommand(input);
  const parts = input.cmdline &&
    splitRunCommandLine(input.cmdline, input.mainModule, input.cwd);
  const flags = parts?.denoFlags ?? input.permissionFlags;
  const denoFlags = input.readText ? withoutDevsrvConfig(flags, input.cwd, input.readText) : flags;
  return {
    command: input.execPath,
    // devsrv's preload goes first, so it runs before any preload of the user's.
    // One token, so that readers of Deno's flags see no positional argument in it.
    args: ["run", `--preload=${target.preload}`, ...denoFlags, target.entry, ...target.args],
  };
}

/**
 * Splits the contents of `/proc/self/cmdline`.
 *
 * @param raw The file's text: arguments separated (and ended) by NUL.
 * @returns The arguments.
 */
export function splitCmdline(raw: string): string[] {
  const parts = raw.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

const PERMISSIONS = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "ffi",
  "sys",
  "import",
] as const;

/**
 * Rebuilds permission flags from what this process was granted.
 *
 * Only grants for everything show up (`--allow-read`, not
 * `--allow-read=.`): the permission API cannot list granted paths.
 *
 * @returns `["-A"]`, or the `--allow-*` flags granted in full.
 */
export function grantedPermissionFlags(): string[] {
  const granted = PERMISSIONS.filter((name) =>
    Deno.permissions.querySync({ name }).state === "granted"
  );
  if (granted.length === PERMISSIONS.length) return ["-A"];
  return granted.map((name) => `--allow-${name}`);
}

function readCmdline(): string[] | undefined {
  // Missing without /proc (macOS, Windows), or not readable without --allow-read.
  const raw = readTextOrUndefined("/proc/self/cmdline");
  return raw === undefined ? undefined : splitCmdline(raw);
}

/**
 * Collects the facts about this process that {@linkcode childCommand} needs.
 *
 * @returns The input for this process.
 */
export function currentReexecInput(): ReexecInput {
  const standalone = Deno.build.standalone === true;
  return {
    execPath: Deno.execPath(),
    standalone,
    args: Deno.args,
    cmdline: standalone ? undefined : readCmdline(),
    mainModule: Deno.mainModule,
    permissionFlags: standalone ? [] : grantedPermissionFlags(),
    cwd: INITIAL_CWD,
    readText: readTextOrUndefined,
  };
}
