/**
 * The child's life, as a pure state machine: where the app is
 * ({@linkcode Phase}), which restart is under way and which waits, what
 * can happen ({@linkcode LifecycleEvent}), and what the supervisor must do
 * about it ({@linkcode Effect}). {@linkcode transition} decides; it starts
 * no process, sets no timer and prints nothing, so every case is tested
 * without a child (`tests/unit/lifecycle_test.ts`). The supervisor applies
 * the effects to real processes, the channel and the fronts, and turns
 * what they report back into events.
 *
 * A restart is stop, then start (as in watchexec): the old child is
 * stopped (`stop`), then the next one is taken (`spawn`: the booted
 * standby, or a fresh process) and told to load the app, until it is
 * serving (`ready`) or cannot be (`startFailed`). One restart runs at a
 * time; those asked for meanwhile are merged into one that follows, and a
 * restart asked for while a child is still starting abandons that start
 * (its code is already old). A restart may come with a child that already
 * loads the changed code (a head start, see `head_start.ts`): it takes the
 * place of the spawned one, and its outcome is the restart's. Each
 * transition first checks the state, and
 * does nothing when there is nothing to do: a report from a child that is
 * no longer the current one changes nothing.
 *
 * @module
 */

import type { StoppingReport } from "../channel/messages.ts";
import type { AppFailure } from "../pages/failure_page.ts";
import { RESTART_EXIT_CODE } from "../role.ts";

/** Why a restart happens. */
export interface RestartRequest {
  /** What asked for it: `"start"`, `"change"`, `"rs"`, `"exit code 3"`. */
  reason: string;
  /** The changed files that caused it, as the log shows them. */
  files: string[];
  /**
   * A file Deno reads at process start changed: a standby booted before
   * it would run with the old configuration or environment.
   *
   * @default {false}
   */
  startupFileChanged?: boolean;
}

/**
 * Where the child is in its life. `C` is the supervisor's handle of a
 * child process.
 */
export type Phase<C> =
  | { kind: "idle" }
  /** Told to load the app; `abandoned` once a newer change made that pointless. */
  | { kind: "starting"; child: C; abandoned: boolean }
  | { kind: "ready"; child: C }
  | { kind: "stopping"; child: C }
  /** The app cannot be served; its child may still run (a program that may start a server late). */
  | { kind: "failed"; failure: AppFailure; child?: C }
  | { kind: "shutdown" };

/** The whole state: the phase, and the restarts under way and waiting. */
export interface Lifecycle<C> {
  readonly phase: Phase<C>;
  /** The restart under way: from the old child's stop until the next one serves or fails. */
  readonly restart: RestartRequest | undefined;
  /** What was asked for while a restart was under way, merged into one. */
  readonly pending: RestartRequest | undefined;
  /** The next child was asked for (`spawn`) and is not there yet. */
  readonly spawning: boolean;
  /**
   * The restart under way started the next child while the old one was
   * still stopping (see {@linkcode startsBeforeExit}). @default {false}
   */
  readonly overlapped?: boolean;
  /** The restart under way already tried again after an overlapped start failed. @default {false} */
  readonly retried?: boolean;
  /**
   * A child that already loads the restart's code (a head start), taken
   * instead of spawning one once the old child is out of the way.
   */
  readonly prepared?: C;
}

/** What can happen to the lifecycle. */
export type LifecycleEvent<C> =
  /**
   * A restart is asked for: the start of the session, a change, `rs`;
   * `prepared` is a child already loading the changed code (a head start).
   */
  | { kind: "restart"; request: RestartRequest; prepared?: C }
  /**
   * The old child is stopped, or stops far enough for the next one to
   * start; `early` when it still runs (it finishes requests meanwhile).
   */
  | { kind: "stopped"; child: C; early?: boolean }
  /** The next child is there (the standby, or a fresh process). */
  | { kind: "spawned"; child: C }
  /** No child could be started; `failure` is what to show, if anything. */
  | { kind: "spawnFailed"; failure: AppFailure | undefined }
  /** A child's first server listens: a starting one, or a failed one that started late. */
  | { kind: "ready"; child: C }
  /**
   * A starting child cannot serve: it failed to load, or exited; `alive` if
   * it still runs; `retryable` when the old child may have caused it (see
   * `mayBeOldChildsFault()`).
   */
  | { kind: "startFailed"; child: C; failure: AppFailure; alive: boolean; retryable?: boolean }
  /** A serving child exited by itself; `failure` says how, for a code other than 3. */
  | { kind: "exited"; child: C; code: number; failure: AppFailure }
  /** An abandoned child has exited. */
  | { kind: "gone"; child: C }
  /** The session ends (a signal, or a problem no change can fix). */
  | { kind: "shutdown" };

/** What the supervisor does about a transition, in order. */
export type Effect<C> =
  /** A restart begins: the app is at work (its shutdown may write files); time it. */
  | { kind: "restartBegun"; request: RestartRequest }
  /**
   * Stop the child gracefully; report `stopped` once the next one may
   * start, or, with `untilExit`, once it and every child still stopping
   * have exited.
   */
  | { kind: "stop"; child: C; untilExit?: boolean }
  /**
   * A start that overlapped the old child's stop failed: the old child may
   * have held what the app needs (a port of its own, a lock). It is tried
   * again once every old child has exited, once per restart.
   */
  | { kind: "retryAfterOverlap"; child: C; failure: AppFailure }
  /** End a starting child at once: its start is pointless. Its outcome still comes. */
  | { kind: "abandon"; child: C }
  /** An abandoned child reported its outcome: report `gone` once it has exited. */
  | { kind: "awaitExit"; child: C }
  /** Take the next child (the standby unless `fresh`), report `spawned` or `spawnFailed`. */
  | { kind: "spawn"; fresh: boolean }
  /** Tell the new child to load the app; report `ready` or `startFailed`. */
  | { kind: "launch"; child: C }
  /**
   * A head start becomes the restart's child: it was told to load the app
   * before the restart; report its `ready` or `startFailed` (it may have
   * come already).
   */
  | { kind: "adopt"; child: C }
  /** End a head start that no restart takes (a restart is already under way). */
  | { kind: "discard"; child: C }
  /** The child serves: route to it, reload the pages, watch for its exit, boot a standby. */
  | { kind: "serve"; child: C }
  /** The app cannot be served: show the failure (`child`: whose it is, if any). */
  | { kind: "fail"; failure: AppFailure; child: C | undefined }
  /** A serving child asked for a restart with exit code 3. */
  | { kind: "restartAsked"; child: C }
  /** The restart under way is over; `ok` if a child serves. */
  | { kind: "restartEnded"; request: RestartRequest; ok: boolean }
  /** The session ends: stop the child (if any), the standby and the retiring ones. */
  | { kind: "stopAll"; child: C | undefined };

/** A transition's result: the next state and what to do. */
export interface Transition<C> {
  state: Lifecycle<C>;
  effects: Effect<C>[];
}

/**
 * The state of a session before anything happened.
 *
 * @returns Idle, with no restart under way or waiting.
 */
export function initialLifecycle<C>(): Lifecycle<C> {
  return { phase: { kind: "idle" }, restart: undefined, pending: undefined, spawning: false };
}

/**
 * The child a phase holds, if any.
 *
 * @param phase A phase.
 * @returns Its child.
 */
export function childOf<C>(phase: Phase<C>): C | undefined {
  return "child" in phase ? phase.child : undefined;
}

/**
 * Whether the next child may start while the old one is still stopping,
 * rather than once it has exited: when the old child said what its stop
 * waits for, and that is only devsrv's own work (requests in flight
 * finish, streams end), which the next child does not clash with. Else the
 * next child waits for the exit, so that the app never runs twice at once:
 * - an app that handles SIGTERM or SIGINT itself, or saves as it ends (an
 *   `unload` listener, Node's `exit`), may be flushing what its next start
 *   reads;
 * - an app's subprocesses, or a server of its own on a Unix socket, hold
 *   what its next start binds;
 * - a session in which a start beside the old child failed, and a fresh
 *   one then served, has an app that holds something of its own (a port, a
 *   lock): see `overlap.ts`.
 *
 * @param report What the old child said its stop waits for; `undefined`
 *   when it exited (or said nothing) first.
 * @param old What else is known of the old child and the session.
 * @returns `true` when the next child may start at once.
 *
 * @example An app without a signal handler of its own
 * ```ts
 * import { startsBeforeExit } from "./lifecycle.ts";
 *
 * const old = { subprocesses: 0, servesUnixSocket: false, exitFirst: false };
 * if (!startsBeforeExit({ type: "stopping", requests: 0, handler: null }, old)) throw new Error();
 * if (startsBeforeExit({ type: "stopping", requests: 0, handler: "SIGTERM" }, old)) throw new Error();
 * ```
 */
export function startsBeforeExit(
  report: StoppingReport | undefined,
  old: OldChild,
): boolean {
  return report !== undefined && report.handler === null && !report.hook &&
    old.subprocesses === 0 && !old.servesUnixSocket && !old.exitFirst;
}

/** What {@linkcode startsBeforeExit} knows of the old child besides its report. */
export interface OldChild {
  /** How many subprocesses it had when told to stop. */
  subprocesses: number;
  /** It runs a server of its own on a Unix socket, which devsrv does not front. */
  servesUnixSocket: boolean;
  /** The session has learned that the next child must wait for the exit (`overlap.ts`). */
  exitFirst: boolean;
}

/**
 * Decides what an event does.
 *
 * @param state The state now.
 * @param event What happened.
 * @returns The next state and the effects to apply, in order; the same
 *   state and no effects when there is nothing to do.
 *
 * @example A restart at the start of the session, until the child serves
 * ```ts
 * import { initialLifecycle, transition } from "./lifecycle.ts";
 *
 * const child = { pid: 1 };
 * let { state, effects } = transition(initialLifecycle<typeof child>(), {
 *   kind: "restart",
 *   request: { reason: "start", files: [] },
 * });
 * if (effects.map((effect) => effect.kind).join() !== "restartBegun,spawn") throw new Error();
 * ({ state, effects } = transition(state, { kind: "spawned", child }));
 * if (state.phase.kind !== "starting" || effects[0]?.kind !== "launch") throw new Error();
 * ({ state, effects } = transition(state, { kind: "ready", child }));
 * if (state.phase.kind !== "ready") throw new Error();
 * if (effects.map((effect) => effect.kind).join() !== "serve,restartEnded") throw new Error();
 * ```
 */
export function transition<C>(state: Lifecycle<C>, event: LifecycleEvent<C>): Transition<C> {
  const phase = state.phase;
  if (phase.kind === "shutdown") return unchanged(state);
  switch (event.kind) {
    case "restart":
      if (event.prepared !== undefined) {
        return requestPrepared(state, event.request, event.prepared);
      }
      return requestRestart(state, event.request, []);
    case "stopped":
      if (phase.kind !== "stopping" || phase.child !== event.child || state.spawning) {
        return unchanged(state);
      }
      return spawnNext({ ...state, overlapped: event.early === true });
    case "spawned":
      if (!state.spawning) return unchanged(state);
      return {
        state: {
          ...state,
          phase: { kind: "starting", child: event.child, abandoned: false },
          spawning: false,
        },
        effects: [{ kind: "launch", child: event.child }],
      };
    case "spawnFailed": {
      if (!state.spawning) return unchanged(state);
      const failure = event.failure;
      const spawned = { ...state, spawning: false };
      if (failure === undefined) return endRestart(spawned, false, []);
      const failed: Phase<C> = { kind: "failed", failure };
      return endRestart<C>({ ...spawned, phase: failed }, false, [
        { kind: "fail", failure, child: undefined },
      ]);
    }
    case "ready":
      if (phase.kind === "failed" && phase.child === event.child) {
        // A server that starts after the program was reported as serving nothing.
        return {
          state: { ...state, phase: { kind: "ready", child: event.child } },
          effects: [{ kind: "serve", child: event.child }],
        };
      }
      if (phase.kind !== "starting" || phase.child !== event.child) return unchanged(state);
      if (phase.abandoned) return { state, effects: [{ kind: "awaitExit", child: event.child }] };
      return endRestart({ ...state, phase: { kind: "ready", child: event.child } }, true, [
        { kind: "serve", child: event.child },
      ]);
    case "startFailed": {
      if (phase.kind !== "starting" || phase.child !== event.child) return unchanged(state);
      if (phase.abandoned) return { state, effects: [{ kind: "awaitExit", child: event.child }] };
      if (state.overlapped === true && state.retried !== true && event.retryable === true) {
        return {
          state: {
            ...state,
            phase: { kind: "stopping", child: event.child },
            overlapped: false,
            retried: true,
          },
          effects: [
            { kind: "retryAfterOverlap", child: event.child, failure: event.failure },
            { kind: "stop", child: event.child, untilExit: true },
          ],
        };
      }
      const failed: Phase<C> = event.alive
        ? { kind: "failed", failure: event.failure, child: event.child }
        : { kind: "failed", failure: event.failure };
      return endRestart({ ...state, phase: failed }, false, [
        { kind: "fail", failure: event.failure, child: event.child },
      ]);
    }
    case "exited":
      if (phase.kind !== "ready" || phase.child !== event.child) return unchanged(state);
      if (event.code === RESTART_EXIT_CODE) {
        return requestRestart(state, { reason: `exit code ${RESTART_EXIT_CODE}`, files: [] }, [
          { kind: "restartAsked", child: event.child },
        ]);
      }
      return {
        state: { ...state, phase: { kind: "failed", failure: event.failure } },
        effects: [{ kind: "fail", failure: event.failure, child: event.child }],
      };
    case "gone":
      if (phase.kind !== "starting" || phase.child !== event.child || !phase.abandoned) {
        return unchanged(state);
      }
      return endRestart(state, false, []);
    case "shutdown":
      return {
        state: {
          phase: { kind: "shutdown" },
          restart: undefined,
          pending: undefined,
          spawning: false,
        },
        effects: [
          ...(state.prepared === undefined
            ? []
            : [{ kind: "discard" as const, child: state.prepared }]),
          { kind: "stopAll", child: childOf(phase) },
        ],
      };
  }
}

function unchanged<C>(state: Lifecycle<C>): Transition<C> {
  return { state, effects: [] };
}

/** Two requests as one: the first reason, the files of both. */
function merge(first: RestartRequest | undefined, later: RestartRequest): RestartRequest {
  if (first === undefined) return { ...later, files: [...later.files] };
  const merged: RestartRequest = {
    reason: first.reason,
    files: [...new Set([...first.files, ...later.files])],
  };
  if (first.startupFileChanged === true || later.startupFileChanged === true) {
    merged.startupFileChanged = true;
  }
  return merged;
}

/**
 * Takes a request: it waits (merged) while a restart is under way, and
 * makes a start under way pointless; else the restart begins.
 */
function requestRestart<C>(
  state: Lifecycle<C>,
  request: RestartRequest,
  before: Effect<C>[],
): Transition<C> {
  const pending = merge(state.pending, request);
  if (state.restart === undefined) return beginRestart({ ...state, pending }, before);
  const phase = state.phase;
  if (phase.kind === "starting" && !phase.abandoned) {
    return {
      state: { ...state, phase: { ...phase, abandoned: true }, pending },
      effects: [...before, { kind: "abandon", child: phase.child }],
    };
  }
  return { state: { ...state, pending }, effects: before };
}

/**
 * Takes a restart that comes with a head start: it begins as any restart
 * does, and the head start is its next child. While another restart is
 * under way the head start is out of date before it is used: discarded,
 * and the request waits as any other.
 */
function requestPrepared<C>(
  state: Lifecycle<C>,
  request: RestartRequest,
  prepared: C,
): Transition<C> {
  if (state.restart !== undefined || state.pending !== undefined || state.prepared !== undefined) {
    return requestRestart(state, request, [{ kind: "discard", child: prepared }]);
  }
  return beginRestart(
    { ...state, pending: { ...request, files: [...request.files] }, prepared },
    [],
  );
}

/** Begins the waiting restart: stop the child there is, else start the next one at once. */
function beginRestart<C>(state: Lifecycle<C>, before: Effect<C>[]): Transition<C> {
  const request = state.pending!;
  const effects: Effect<C>[] = [...before, { kind: "restartBegun", request }];
  const phase = state.phase;
  const child = childOf(phase);
  if (child !== undefined && phase.kind !== "stopping") {
    return {
      state: { ...state, phase: { kind: "stopping", child }, restart: request, pending: undefined },
      effects: [...effects, { kind: "stop", child }],
    };
  }
  const next = spawnNext({ ...state, restart: request, pending: undefined });
  return { state: next.state, effects: [...effects, ...next.effects] };
}

/**
 * The old child is out of the way: start the next one. What was asked for
 * while it stopped is on disk now, so the child about to start reads it and
 * it needs no restart of its own.
 */
function spawnNext<C>(state: Lifecycle<C>): Transition<C> {
  const restart = state.pending === undefined
    ? state.restart!
    : merge(state.restart, state.pending);
  const prepared = state.prepared;
  if (prepared !== undefined && state.pending !== undefined) {
    // Changed again while the old child stopped: the head start's code is old.
    const { prepared: _, ...rest } = state;
    const next = spawnNext(rest);
    return { state: next.state, effects: [{ kind: "discard", child: prepared }, ...next.effects] };
  }
  if (prepared !== undefined) {
    // It loaded while the old child still served: a failure it reports may
    // be the old child's doing, so it is retried as an overlapped start is.
    const { prepared: _, ...rest } = state;
    return {
      state: {
        ...rest,
        restart,
        pending: undefined,
        phase: { kind: "starting", child: prepared, abandoned: false },
        overlapped: true,
      },
      effects: [{ kind: "adopt", child: prepared }],
    };
  }
  return {
    state: { ...state, restart, pending: undefined, spawning: true },
    effects: [{ kind: "spawn", fresh: restart.startupFileChanged === true }],
  };
}

/** Ends the restart under way, then begins the one waiting, if any. */
function endRestart<C>(state: Lifecycle<C>, ok: boolean, before: Effect<C>[]): Transition<C> {
  const effects: Effect<C>[] = [...before, { kind: "restartEnded", request: state.restart!, ok }];
  const ended = { ...state, restart: undefined, overlapped: false, retried: false };
  if (ended.pending === undefined) return { state: ended, effects };
  return beginRestart(ended, effects);
}
