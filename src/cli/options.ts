/**
 * The options of `devsrv serve`, as the CLI parses them and the library
 * accepts them, with their defaults in one place.
 *
 * @module
 */

/** Everything `devsrv serve` can be told. */
export interface ServeOptions {
  /** The app module or static directory; `undefined` means "look for one". */
  entry: string | undefined;
  /** Interface to bind. */
  host: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Run the reloader (parent + child) or a single process. */
  reload: boolean;
  /** Hide access lines. */
  quiet: boolean;
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
}

/** Debounce interval: an editor's atomic save arrives well within it. */
export const DEFAULT_DEBOUNCE_MS = 30;
/** Stat-polling interval, Werkzeug's is 1 s; half of it feels instant. */
export const DEFAULT_POLL_INTERVAL_MS = 500;
/** Grace period for a stopping child's in-flight requests. */
export const DEFAULT_GRACE_MS = 5000;
/** The port Flask, `deno serve` and most dev servers' users expect. */
export const DEFAULT_PORT = 8000;
/** Loopback only: a dev server is not for the network unless asked. */
export const DEFAULT_HOST = "127.0.0.1";

/**
 * Returns the defaults for every option.
 *
 * @returns A fresh {@linkcode ServeOptions} with no entry.
 */
export function defaultServeOptions(): ServeOptions {
  return {
    entry: undefined,
    host: DEFAULT_HOST,
    port: DEFAULT_PORT,
    reload: true,
    quiet: false,
    watch: [],
    ext: undefined,
    ignore: [],
    gitignore: true,
    debounceMs: DEFAULT_DEBOUNCE_MS,
    poll: false,
    intervalMs: DEFAULT_POLL_INTERVAL_MS,
    graceMs: DEFAULT_GRACE_MS,
    dotfiles: false,
    liveReload: true,
    open: false,
    allowedHosts: [],
    cert: undefined,
    key: undefined,
  };
}
