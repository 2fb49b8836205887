/**
 * The `devsrv` command: parse, dispatch, and turn every failure into one
 * line and an exit code.
 *
 * @module
 */

import { DevsrvError, FAILURE_EXIT_CODE, formatError } from "../errors.ts";
import { printToStderr } from "../log.ts";
import { runServe } from "../run.ts";
import { sourceFromEntry } from "../server/app_source.ts";
import { VERSION } from "../version.ts";
import { parseCommand } from "./args.ts";
import { resolveEntry } from "./entry.ts";
import { usageText } from "./help.ts";

function printToStdout(text: string): void {
  Deno.stdout.writeSync(new TextEncoder().encode(text));
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
      const entry = resolveEntry(command.options.entry, Deno.cwd());
      return await runServe(
        sourceFromEntry(entry, command.options.dotfiles),
        command.options,
      );
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
            `devsrv is not allowed to do its work: ${error.message.split("\n")[0]}`,
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
