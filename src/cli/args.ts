/**
 * Turns the command line into a command: `serve` with its options, help or
 * version. Every bad input becomes a {@linkcode UsageError} that names the
 * flag and what it accepts.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { defaultServeOptions, type ServeOptions } from "./options.ts";
import { allowedHostProblem } from "../server/request_guard.ts";

/** What the command line asks for. */
export type Command =
  | { kind: "serve"; options: ServeOptions }
  | { kind: "help" }
  | { kind: "version" };

const FLAGS = {
  host: { type: "string" },
  port: { type: "string", short: "p" },
  reload: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  watch: { type: "string", multiple: true },
  ext: { type: "string", multiple: true },
  ignore: { type: "string", multiple: true },
  gitignore: { type: "boolean" },
  debounce: { type: "string" },
  poll: { type: "boolean" },
  interval: { type: "string" },
  grace: { type: "string" },
  dotfiles: { type: "boolean" },
  "live-reload": { type: "boolean" },
  open: { type: "boolean" },
  "allowed-host": { type: "string", multiple: true },
  cert: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

type ParsedFlags = ReturnType<typeof parseFlags>["values"];

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      options: FLAGS,
      allowPositionals: true,
      allowNegative: true,
      strict: true,
    });
  } catch (error) {
    throw toUsageError(error);
  }
}

function toUsageError(error: unknown): UsageError {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = message.match(/Unknown option '([^']+)'/);
  if (unknown) return new UsageError(`unknown flag "${unknown[1]}"`);
  const missing = message.match(
    /Option '(-\w, )?(--[\w-]+)[^']*' argument missing/,
  );
  if (missing) return new UsageError(`flag "${missing[2]}" needs a value`);
  const ambiguous = message.match(/Option '(-\w, )?(--[\w-]+)[^']*' argument is ambiguous/);
  if (ambiguous) {
    return new UsageError(
      `flag "${ambiguous[2]}" is followed by a value that starts with "-"`,
      `write it as ${ambiguous[2]}=VALUE if that is meant`,
    );
  }
  const stray = message.match(/Option '(--[\w-]+)' does not take an argument/);
  if (stray) return new UsageError(`flag "${stray[1]}" takes no value`);
  return new UsageError(message.replace(/\.$/, ""));
}

/**
 * Parses an integer flag value and checks its range.
 *
 * @param flag The flag's name, for the message.
 * @param text The value as typed.
 * @param min Smallest accepted value.
 * @param max Largest accepted value.
 * @returns The number.
 * @throws {UsageError} When the value is not a whole number in range.
 */
export function parseIntegerFlag(
  flag: string,
  text: string,
  min: number,
  max: number,
): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(
      `${flag} "${text}" is not a whole number`,
      `give ${flag} a number from ${min} to ${max}`,
    );
  }
  if (value < min || value > max) {
    throw new UsageError(
      `${flag} ${value} is out of range`,
      `give ${flag} a number from ${min} to ${max}`,
    );
  }
  return value;
}

function splitExtensions(values: string[]): string[] {
  const extensions = values.flatMap((value) => value.split(","))
    .map((ext) => ext.trim().replace(/^\./, "").toLowerCase())
    .filter((ext) => ext !== "");
  if (extensions.length === 0) {
    throw new UsageError(
      "--ext is empty",
      'give extensions like "--ext ts,html,css"',
    );
  }
  return extensions;
}

function checkHost(host: string): string {
  const trimmed = host.trim();
  if (trimmed === "" || /[\s/]/.test(trimmed)) {
    throw new UsageError(
      `--host "${host}" is not a host name or address`,
      'give an interface such as "--host 127.0.0.1" or "--host 0.0.0.0"',
    );
  }
  return trimmed.replace(/^\[(.*)\]$/, "$1");
}

function checkAllowedHosts(values: string[]): string[] {
  for (const value of values) {
    const problem = allowedHostProblem(value);
    if (problem) {
      throw new UsageError(
        `--allowed-host "${value}" ${problem}`,
        'give a name such as "--allowed-host dev.test", or ".dev.test" for its subdomains too',
      );
    }
  }
  return values;
}

function toServeOptions(
  values: ParsedFlags,
  entry: string | undefined,
): ServeOptions {
  const options = defaultServeOptions();
  options.entry = entry;
  if (values.host !== undefined) options.host = checkHost(values.host);
  if (values.port !== undefined) {
    options.port = parseIntegerFlag("--port", values.port, 0, 65535);
  }
  if (values.reload !== undefined) options.reload = values.reload;
  if (values.quiet !== undefined) options.quiet = values.quiet;
  if (values.watch) options.watch = values.watch;
  if (values.ext) options.ext = splitExtensions(values.ext);
  if (values.ignore) options.ignore = values.ignore;
  if (values.gitignore !== undefined) options.gitignore = values.gitignore;
  if (values.debounce !== undefined) {
    options.debounceMs = parseIntegerFlag(
      "--debounce",
      values.debounce,
      0,
      10_000,
    );
  }
  if (values.poll !== undefined) options.poll = values.poll;
  if (values.interval !== undefined) {
    options.intervalMs = parseIntegerFlag(
      "--interval",
      values.interval,
      10,
      60_000,
    );
  }
  if (values.grace !== undefined) {
    options.graceMs = parseIntegerFlag("--grace", values.grace, 0, 600_000);
  }
  if (values.dotfiles !== undefined) options.dotfiles = values.dotfiles;
  if (values["live-reload"] !== undefined) {
    options.liveReload = values["live-reload"];
  }
  if (values.open !== undefined) options.open = values.open;
  if (values["allowed-host"]) options.allowedHosts = checkAllowedHosts(values["allowed-host"]);
  options.cert = values.cert;
  options.key = values.key;
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new UsageError(
      options.cert === undefined
        ? "--key was given without --cert"
        : "--cert was given without --key",
      "HTTPS needs both: --cert cert.pem --key key.pem",
    );
  }
  return options;
}

/**
 * Parses devsrv's command line.
 *
 * @param args The arguments after the program, e.g. `["serve", "app.ts"]`.
 * @returns The command to run.
 * @throws {UsageError} For an unknown command or flag, a missing or bad value.
 *
 * @example Parse a serve command
 * ```ts
 * import { parseCommand } from "./args.ts";
 *
 * const command = parseCommand(["serve", "app.ts", "--port", "0"]);
 * if (command.kind !== "serve" || command.options.port !== 0) throw new Error();
 * ```
 */
export function parseCommand(args: string[]): Command {
  // What follows `--` is the program's own (its Deno.args), as with `deno run`.
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  const programArgs = split < 0 ? [] : args.slice(split + 1);
  const { values, positionals } = parseFlags(own);
  if (values.version) return { kind: "version" };
  if (values.help || positionals.length === 0) return { kind: "help" };
  const [command, ...rest] = positionals;
  if (command === "help") return { kind: "help" };
  if (command !== "serve") {
    throw new UsageError(
      `unknown command "${command}"`,
      `did you mean "devsrv serve ${command}"?`,
    );
  }
  if (rest.length > 1) {
    throw new UsageError(
      `serve takes one ENTRY but got ${rest.length}: ${rest.map((r) => `"${r}"`).join(", ")}`,
      "give one app module or directory, and --watch for more paths to watch",
    );
  }
  const options = toServeOptions(values, rest[0]);
  options.args = programArgs;
  return { kind: "serve", options };
}
