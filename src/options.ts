/**
 * The words the CLI, the library and every role share: the options of
 * `devsrv serve` ({@linkcode ServeOptions}, as the CLI parses them and the
 * library accepts them, with their defaults in one place) and the request
 * {@linkcode Handler} that `serve()` and a static directory give.
 *
 * @module
 */

/** A request handler, called like `Deno.serve`'s. */
export type Handler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** Everything `devsrv serve` can be told. */
export interface ServeOptions {
  /** The app module or static directory; `undefined` means "look for one". */
  entry: string | undefined;
  /**
   * Interface to bind (`--host`); `undefined`: loopback, or the loopback
   * address a program asks for.
   */
  host: string | undefined;
  /**
   * Port to bind (`--port`), 0 for any free one; `undefined`: the port a
   * program asks for, else {@linkcode DEFAULT_PORT}.
   */
  port: number | undefined;
  /** Arguments for the program (its `Deno.args`): what follows `--`. */
  args: string[];
  /** Run the reloader (parent + child) or a single process. */
  reload: boolean;
  /** Hide access lines. */
  quiet: boolean;
  /** Log where the time goes, phase by phase (start-up, each restart). */
  verbose: boolean;
  /**
   * Files and directories whose changes restart the app, watched too (the
   * current directory, or a static directory, is always watched).
   */
  watch: string[];
  /**
   * Extensions whose files restart the app when they change, beyond its
   * module graph; for a static directory, the only ones that reload the
   * pages. `undefined`: none beyond the rules of `change_decision.ts`.
   */
  ext: string[] | undefined;
  /** Globs to ignore, on top of the default ignores. */
  ignore: string[];
  /** Honour `.gitignore` files in the watch roots. */
  gitignore: boolean;
  /** Quiet period that turns a burst of events into one restart, in ms. */
  debounceMs: number;
  /** Use the stat-polling watcher instead of OS events. */
  poll: boolean;
  /** Interval of the stat-polling watcher, in ms. */
  intervalMs: number;
  /** How long a stopping child may take before it is killed, in ms. */
  graceMs: number;
  /**
   * Let the booted standby begin loading a change's code before the
   * debounce ends (see `supervisor/head_start.ts`).
   */
  headStart: boolean;
  /** Serve dotfiles and dot-folders from a static directory. */
  dotfiles: boolean;
  /** Inject the live-reload client into HTML responses. */
  liveReload: boolean;
  /** Open the default browser once the server is ready. */
  open: boolean;
  /** Host names accepted in the `Host` header, besides localhost and IPs. */
  allowedHosts: string[];
  /** PEM certificate file for HTTPS. */
  cert: string | undefined;
  /** PEM private key file for HTTPS. */
  key: string | undefined;
  /**
   * Origins (`http://localhost:5173`) whose pages may load a static
   * directory's files cross-origin; `"*"` for any, only when named.
   */
  cors: string[];
}

/**
 * Debounce interval: the quiet period after the last change. An editor's
 * save (truncate and write, or a temporary file renamed over, then a chmod)
 * arrives within a few ms; a save split by a busy machine still restarts
 * once, since a newer change abandons a start under way.
 */
export const DEFAULT_DEBOUNCE_MS = 10;
/** Stat-polling interval, Werkzeug's is 1 s; half of it feels instant. */
export const DEFAULT_POLL_INTERVAL_MS = 500;
/** Grace period for a stopping child's in-flight requests. */
export const DEFAULT_GRACE_MS = 5000;
/** The port Flask, `deno serve` and most dev servers' users expect. */
export const DEFAULT_PORT = 8000;
/** Loopback only: a dev server is not for the network unless asked. */
export const DEFAULT_HOST = "127.0.0.1";

/**
 * The interface to bind when no program chooses: `--host` or loopback.
 *
 * @param options The serve options.
 * @returns The host.
 */
export function hostOrDefault(options: Pick<ServeOptions, "host">): string {
  return options.host ?? DEFAULT_HOST;
}

/**
 * The port to bind when no program chooses: `--port` or 8000.
 *
 * @param options The serve options.
 * @returns The port.
 */
export function portOrDefault(options: Pick<ServeOptions, "port">): number {
  return options.port ?? DEFAULT_PORT;
}

/**
 * Returns the defaults for every option.
 *
 * @returns A fresh {@linkcode ServeOptions} with no entry.
 */
export function defaultServeOptions(): ServeOptions {
  return {
    entry: undefined,
    host: undefined,
    port: undefined,
    args: [],
    reload: true,
    quiet: false,
    verbose: false,
    watch: [],
    ext: undefined,
    ignore: [],
    gitignore: true,
    debounceMs: DEFAULT_DEBOUNCE_MS,
    poll: false,
    intervalMs: DEFAULT_POLL_INTERVAL_MS,
    graceMs: DEFAULT_GRACE_MS,
    headStart: true,
    dotfiles: false,
    liveReload: true,
    open: false,
    allowedHosts: [],
    cert: undefined,
    key: undefined,
    cors: [],
  };
}
