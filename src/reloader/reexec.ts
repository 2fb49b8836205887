/**
 * How the reloader re-executes its own program as the child: the same
 * executable with the same arguments, so that permission flags, `--config`,
 * `--env-file`, `--unstable-*`, the script and its arguments all carry over.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

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
}

/** A command to spawn. */
export interface ChildCommand {
  command: string;
  args: string[];
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
 * });
 * if (command.args.join(" ") !== "run -A main.ts serve app.ts") throw new Error();
 * ```
 */
export function childCommand(input: ReexecInput): ChildCommand {
  if (input.standalone) {
    // A compiled binary embeds its permissions and module; only its args vary.
    return { command: input.execPath, args: [...input.args] };
  }
  if (input.cmdline && input.cmdline.length > 1) {
    return { command: input.execPath, args: input.cmdline.slice(1) };
  }
  const script = input.mainModule.startsWith("file:")
    ? fileURLToPath(input.mainModule)
    : input.mainModule;
  return {
    command: input.execPath,
    args: ["run", ...input.permissionFlags, script, ...input.args],
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
  try {
    return splitCmdline(Deno.readTextFileSync("/proc/self/cmdline"));
  } catch {
    return undefined;
  }
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
  };
}
