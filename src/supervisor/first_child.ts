/**
 * What the reloader sets up before the rest of its code is loaded: the
 * children's command, the channel they report to, and the first child
 * itself. Deno boots that child while the parent loads its fronts, its
 * watcher and its pages (see `reloader.ts`), so this module's imports stay
 * few: no front, no watch, no page.
 *
 * @module
 */

import { ChannelListener, type ChildConnected } from "../channel/parent_end.ts";
import type { ServeOptions } from "../options.ts";
import type { AppSource } from "../serve/app_source.ts";
import { Children, runsProgram } from "./children.ts";
import { preloadSpecifier } from "./launch_program.ts";
import { type ChildCommand, childCommand, currentReexecInput, programCommand } from "./reexec.ts";

/** What {@linkcode ChildrenSetup} needs. */
export interface ChildrenSetupOptions {
  /** What is served. */
  source: AppSource;
  /** The serve options. */
  options: ServeOptions;
  /** How a child is started. */
  command: ChildCommand;
  /** What `--env-file` gave this process at its start, kept out of the children's environment. */
  fromEnvFiles: ReadonlyMap<string, string>;
  /** Marks a step in the log with `--verbose`. */
  phase(step: string): void;
}

/**
 * The children of a session and their channel, made before the supervisor
 * that drives them: what a child reports before the supervisor is there
 * waits for it.
 */
export class ChildrenSetup {
  /** Where the children report to. */
  readonly channel: ChannelListener;
  /** The children. */
  readonly children: Children;
  #onChild: ChildConnected | undefined;
  /** Children that said hello before {@linkcode ChildrenSetup.connect}. */
  readonly #early: Parameters<ChildConnected>[] = [];
  #preloadsNode: () => boolean = () => false;

  /** @param setup The command and what the children are started with. */
  constructor(setup: ChildrenSetupOptions) {
    this.channel = new ChannelListener((...child) => {
      if (this.#onChild) this.#onChild(...child);
      else this.#early.push(child);
    });
    this.children = new Children({
      source: setup.source,
      options: setup.options,
      command: setup.command,
      fromEnvFiles: setup.fromEnvFiles,
      channel: this.channel,
      preloadsNode: () => this.#preloadsNode(),
      phase: setup.phase,
    });
  }

  /**
   * Hands the children to the supervisor: every child's channel from now
   * on, and those that said hello before.
   *
   * @param onChild Receives each authenticated child.
   * @param preloadsNode Whether a child is to load Node's HTTP layer as it boots.
   */
  connect(onChild: ChildConnected, preloadsNode: () => boolean): void {
    this.#onChild = onChild;
    this.#preloadsNode = preloadsNode;
    for (const child of this.#early.splice(0)) onChild(...child);
  }
}

/**
 * How this process's children are started: the program under `deno run`
 * with devsrv's code preloaded, or this process's own command line again
 * (a static directory, the library, a compiled binary).
 *
 * @param source What is served.
 * @param options The serve options (the program's arguments).
 * @returns The command.
 */
export function reloaderCommand(source: AppSource, options: ServeOptions): ChildCommand {
  const input = currentReexecInput();
  return runsProgram(source)
    ? programCommand(input, {
      preload: preloadSpecifier(),
      entry: source.path!,
      args: options.args,
    })
    : childCommand(input);
}
