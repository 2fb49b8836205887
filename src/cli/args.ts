/**
 * Turns the command line into a command: `serve` with its options, help or
 * version. Every bad input becomes a {@linkcode UsageError} that names the
 * flag and what it accepts.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { type Layer, setLayer, type Setting } from "./layers.ts";
import {
  OPTION_SPECS,
  type OptionSpec,
  parseInteger,
  valueFromText,
  type Where,
} from "./option_table.ts";

/** What the command line asks for. */
export type Command =
  | {
    kind: "serve";
    /** The options the command line sets (ENTRY and flags), with their origins. */
    flags: Layer;
    /** The program's own arguments: what follows `--`. */
    args: string[];
    /** `--print-config`: show the options and where each came from, then exit. */
    printConfig: boolean;
  }
  | { kind: "help" }
  | { kind: "version" };

type FlagConfig = { type: "string" | "boolean"; short?: string; multiple?: boolean };

/** parseArgs' description of every flag, from the option table. */
const FLAGS: Record<string, FlagConfig> = {
  ...Object.fromEntries(
    OPTION_SPECS.filter((spec) => spec.flag !== false).map((spec) => [spec.name, {
      type: spec.kind === "boolean" ? "boolean" : "string",
      ...(spec.short ? { short: spec.short } : {}),
      ...(spec.kind === "list" ? { multiple: true } : {}),
    }]),
  ),
  "print-config": { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
};

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
  return parseInteger(text, min, max, flagWhere(flag));
}

function flagWhere(flag: string): Where {
  return { name: flag, show: (shown) => `${flag} ${shown}` };
}

function flagValue(spec: OptionSpec, value: string | boolean | (string | boolean)[]): Setting {
  const flag = `--${spec.name}`;
  const origin = { kind: "flag", name: flag } as const;
  if (typeof value === "boolean") return { value, origin };
  const texts = (Array.isArray(value) ? value : [value]).map(String);
  return { value: valueFromText(spec, texts, flagWhere(flag)), origin };
}

function flagLayer(values: ParsedFlags, entry: string | undefined): Layer {
  const layer: Layer = {};
  if (entry !== undefined) setLayer(layer, "entry", entry, { kind: "flag", name: "ENTRY" });
  for (const spec of OPTION_SPECS) {
    const value = values[spec.name];
    if (value !== undefined && spec.flag !== false) layer[spec.key] = flagValue(spec, value);
  }
  return layer;
}

/**
 * Parses devsrv's command line. It gives only what the command line sets;
 * {@linkcode resolveServeOptions} adds the environment, deno.json and the
 * defaults.
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
 * if (command.kind !== "serve" || command.flags.port?.value !== 0) throw new Error();
 * ```
 */
export function parseCommand(args: string[]): Command {
  // What follows `--` is the program's own (its Deno.args), as with `deno run`.
  const split = args.indexOf("--");
  const own = split < 0 ? args : args.slice(0, split);
  const programArgs = split < 0 ? [] : args.slice(split + 1);
  const { values, positionals } = parseFlags(own);
  if (values.version) return { kind: "version" };
  const printConfig = values["print-config"] === true;
  if ((values.help && !printConfig) || positionals.length === 0) return { kind: "help" };
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
  return { kind: "serve", flags: flagLayer(values, rest[0]), args: programArgs, printConfig };
}
