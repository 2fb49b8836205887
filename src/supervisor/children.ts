/**
 * The reloader's child processes: how each is started (the re-executed
 * command, its environment), the standby kept booted for the next restart,
 * every child alive by generation (so that the channel can tell whose
 * connection it is), and the old ones still finishing their requests while
 * the next one serves.
 *
 * @module
 */

import type { AppSource } from "../serve/app_source.ts";
import { programSettings, programSettingsEnv } from "../serve/program_settings.ts";
import { relayedColorEnv } from "../log.ts";
import type { ServeOptions } from "../options.ts";
import { AUTO_SERVE_ENV, NODE_CAPTURE_ENV } from "../role.ts";
import { type ChildChannel, ChildProcess } from "./child_process.ts";
import { childEnvironment } from "./env_files.ts";
import type { ChildCommand } from "./reexec.ts";

/**
 * Whether the child runs the user's program as Deno's main module, with
 * devsrv's code preloaded: an app module under `deno run`. A static
 * directory, a library user's handler and a compiled binary re-execute
 * devsrv itself.
 *
 * @param source What is served.
 * @returns `true` for a program.
 */
export function runsProgram(source: AppSource): boolean {
  return source.kind === "module" && source.path !== undefined && Deno.build.standalone !== true;
}

/**
 * How long after a child starts serving the next standby is spawned, in ms:
 * the held requests go to the new child first, and its first answers (a
 * page that live reload just reloaded) do not share the CPU with Deno's
 * start-up. A change sooner than that starts a fresh child, as it would
 * while the standby still boots.
 */
export const STANDBY_DELAY_MS = 100;

/** What the children of one session are started with. */
export interface ChildrenOptions {
  /** What is served. */
  source: AppSource;
  /** The serve options, which a program's child is told. */
  options: ServeOptions;
  /** The command that re-executes the program (see `reexec.ts`). */
  command: ChildCommand;
  /** What `--env-file` gave this process at its start, kept out of the children's environment. */
  fromEnvFiles: ReadonlyMap<string, string>;
  /** Where the children report to. */
  channel: ChildChannel;
  /**
   * Whether a child is to load Node's HTTP layer as it boots (known to be
   * needed), before it is told to start.
   */
  preloadsNode(): boolean;
  /** Marks a step in the log with `--verbose`. */
  phase(step: string): void;
}

/** The children of one reloader session. */
export class Children {
  readonly #options: ChildrenOptions;
  /** Generation numbers handed out, standby children included. */
  #spawned = 0;
  #standby: ChildProcess | undefined;
  /** The standby's spawn, while it waits for {@linkcode STANDBY_DELAY_MS}. */
  #standbyTimer: ReturnType<typeof setTimeout> | undefined;
  /** Every child alive, the standby included, by generation. */
  readonly #alive = new Map<number, ChildProcess>();
  /** Old children still finishing their requests while the next one serves. */
  readonly #retiring = new Set<ChildProcess>();

  /** @param options What the children are started with. */
  constructor(options: ChildrenOptions) {
    this.#options = options;
  }

  /** The standby, once it has booted and said hello (for `/__devsrv`). */
  get standbyPid(): number | null {
    const standby = this.#standby;
    return standby && !standby.exited && standby.linked ? standby.pid : null;
  }

  /**
   * The child of a generation, while it runs.
   *
   * @param generation Its generation number.
   * @returns The child, or `undefined` once it has exited.
   */
  byGeneration(generation: number): ChildProcess | undefined {
    return this.#alive.get(generation);
  }

  /**
   * The next child: the booted standby, unless it is gone or `fresh` is
   * asked for (a file Deno read when it booted has changed since); else a
   * fresh one.
   *
   * @param fresh Do not use the standby.
   * @returns The child.
   * @throws {Deno.errors.NotCapable} When this process may not start one.
   */
  next(fresh: boolean): ChildProcess {
    this.#cancelStandby();
    const standby = this.#standby;
    this.#standby = undefined;
    if (standby && !standby.exited && !fresh) return standby;
    standby?.signal("SIGTERM");
    return this.#spawn(false);
  }

  /**
   * Takes the standby for a head start, if it has booted and said hello:
   * only then can it be told to load the app at once.
   *
   * @returns The standby, or `undefined` (none, still booting, or gone).
   */
  takeBooted(): ChildProcess | undefined {
    const standby = this.#standby;
    if (!standby || standby.exited || !standby.linked) return undefined;
    this.#standby = undefined;
    return standby;
  }

  /**
   * Spawns the session's first child at once, before the supervisor asks
   * for it: the first restart takes it as it would take a standby. Whatever
   * stops this spawn stops that restart's too, which reports it.
   */
  spawnFirst(): void {
    if (this.#standby || this.#spawned > 0) return;
    this.#spawnStandby(false);
  }

  /**
   * Boots the next child ahead of time, so a restart skips Deno's start-up:
   * spawned {@linkcode STANDBY_DELAY_MS} from now. Only for an app module,
   * which the child imports when told to start: a library user's script is
   * the program itself, and would run (with the code of the moment) as the
   * standby boots.
   */
  prepareStandby(): void {
    if (this.#standby || this.#standbyTimer || this.#options.source.kind !== "module") return;
    this.#standbyTimer = setTimeout(() => {
      this.#standbyTimer = undefined;
      this.#spawnStandby(true);
    }, STANDBY_DELAY_MS);
  }

  #cancelStandby(): void {
    clearTimeout(this.#standbyTimer);
    this.#standbyTimer = undefined;
  }

  /** @param waits It waits for a restart; the first child is told to start at once. */
  #spawnStandby(waits: boolean): void {
    if (this.#standby) return;
    try {
      this.#standby = this.#spawn(waits);
    } catch {
      // Whatever stops this spawn stops the next restart's too, which reports
      // it (a bug included): a standby only saves time, so none is no error.
    }
  }

  /**
   * Stops an old child gracefully; it counts as retiring until it has exited.
   *
   * @param child The child.
   * @param graceMs How long it has before SIGKILL.
   * @returns Whether it had to be killed, once it has exited.
   */
  retire(child: ChildProcess, graceMs: number): Promise<{ killed: boolean }> {
    this.#retiring.add(child);
    return child.stop(graceMs).then(({ killed }) => {
      this.#retiring.delete(child);
      return { killed };
    });
  }

  /**
   * Waits until every child still stopping has exited.
   *
   * @returns Once none is left (at once when none is stopping).
   */
  async retired(): Promise<void> {
    await Promise.all([...this.#retiring].map((child) => child.status));
  }

  /**
   * Stops every child at the end of the session and waits for each one's
   * whole process tree: what the app started must be gone before devsrv is.
   *
   * @param current The current child, if any.
   * @param graceMs How long they have before SIGKILL.
   */
  async stopAll(current: ChildProcess | undefined, graceMs: number): Promise<void> {
    this.#cancelStandby();
    const standby = this.#standby;
    this.#standby = undefined;
    const final = { waitForTree: true };
    await Promise.all([
      current?.stop(graceMs, final),
      standby?.stop(graceMs, final),
      ...[...this.#retiring].map((child) => child.stop(graceMs, final)),
    ]);
  }

  /** @param standby It waits for a restart (else it is told to start at once). */
  #spawn(standby: boolean): ChildProcess {
    const { source, options, command, fromEnvFiles, channel } = this.#options;
    const env = childEnvironment(Deno.env.toObject(), fromEnvFiles);
    Object.assign(env, relayedColorEnv());
    if (runsProgram(source)) {
      // Known to be needed: the child loads Node's HTTP layer as it boots,
      // before "start" (a standby, off the restart's path). Else "start" says.
      const node = this.#options.preloadsNode();
      Object.assign(
        env,
        programSettingsEnv({
          ...programSettings(options, source.display, "child", node),
          standby,
        }),
        { [AUTO_SERVE_ENV]: "1" },
        node ? { [NODE_CAPTURE_ENV]: "1" } : {},
      );
    }
    const child = new ChildProcess(command, channel, ++this.#spawned, env);
    this.#options.phase(`child ${child.generation} spawned (pid ${child.pid})`);
    this.#alive.set(child.generation, child);
    child.status.then(() => this.#alive.delete(child.generation));
    return child;
  }
}
