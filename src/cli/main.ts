/**
 * The `devsrv` command: parse, dispatch, and turn every failure into one
 * line and an exit code.
 *
 * @module
 */

import { DevsrvError, FAILURE_EXIT_CODE, firstLine, formatError, UsageError } from "../errors.ts";
import { createLogger, printToStderr, writeAllSync } from "../log.ts";
import { readMounts } from "../watch/mounts.ts";
import { isRunningFromReloader, readEnv } from "../role.ts";
import { runServe } from "../run.ts";
import { sourceFromEntry } from "../serve/app_source.ts";
import { VERSION } from "../version.ts";
import { parseCommand } from "./args.ts";
import { formatConfig, pollWhereEventsFail, resolveServeOptions } from "./config.ts";
import { resolveEntry } from "./entry.ts";
import { checkDevsrvVariables } from "./environment.ts";
import { describeOrigin } from "./layers.ts";
import { usageText } from "./help.ts";

function printToStdout(text: string): void {
  writeAllSync(Deno.stdout, text);
}

/** The environment's variable names; none where devsrv may not read it. */
function environmentNames(): string[] {
  try {
    return Object.keys(Deno.env.toObject());
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return [];
    throw error;
  }
}

async function dispatch(args: string[]): Promise<number> {
  const command = parseCommand(args);
  switch (command.kind) {
    case "help":
      printToStdout(usageText());
      return 0;
    case "version":
      printToStdout(`devsrv ${VERSION} (Deno ${Deno.version.deno})\n`);
      return 0;
    case "serve": {
      const cwd = Deno.cwd();
      checkDevsrvVariables(environmentNames());
      const config = resolveServeOptions(command, { cwd, env: readEnv });
      // Only the reloader watches; its child serves with the options it was started with.
      const polling = isRunningFromReloader()
        ? undefined
        : pollWhereEventsFail(config, cwd, readMounts());
      if (command.printConfig) {
        printToStdout(formatConfig(config, cwd));
        return 0;
      }
      if (polling) createLogger({ role: "reloader" }).info(polling);
      const { options } = config;
      const entry = resolveEntry(options.entry, cwd);
      if (entry.kind === "module" && options.cors.length > 0) {
        const origin = config.origins.cors;
        const from = origin.kind === "flag" ? "" : ` (from ${describeOrigin(origin, cwd)})`;
        throw new UsageError(
          `--cors${from} applies to a static directory, and "${entry.display}" is a program`,
          "let the program set Access-Control-Allow-Origin on its own responses",
        );
      }
      return await runServe(sourceFromEntry(entry, options), options);
    }
  }
}

/**
 * Runs the CLI.
 *
 * @param args The program's arguments.
 * @returns The exit code.
 */
export async function main(args: string[]): Promise<number> {
  try {
    return await dispatch(args);
  } catch (error) {
    if (error instanceof DevsrvError) {
      printToStderr(formatError(error));
      return error.exitCode;
    }
    if (error instanceof Deno.errors.NotCapable) {
      printToStderr(
        formatError(
          new DevsrvError(
            `devsrv is not allowed to do its work: ${firstLine(error)}`,
            "run it with -A (deno run -A main.ts serve ...), as a dev server reads, listens and starts processes",
          ),
        ),
      );
      return FAILURE_EXIT_CODE;
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    printToStderr(
      `error: devsrv failed unexpectedly: ${
        message.split("\n")[0]
      }; please report it with the command you ran`,
    );
    return FAILURE_EXIT_CODE;
  }
}
