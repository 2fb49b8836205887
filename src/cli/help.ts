/**
 * The usage text of `devsrv` and `devsrv serve`.
 *
 * @module
 */

import { VERSION } from "../version.ts";
import {
  DEFAULT_DEBOUNCE_MS,
  DEFAULT_GRACE_MS,
  DEFAULT_HOST,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_PORT,
} from "./options.ts";

/**
 * Returns the help text for `devsrv --help` and `devsrv serve --help`.
 *
 * @returns The usage text, ending with a newline.
 */
export function usageText(): string {
  return `devsrv ${VERSION} — a development HTTP server for Deno that reloads on change

Usage:
  devsrv serve [ENTRY] [options]
  devsrv --help | --version

ENTRY is an app module (export default { fetch(req) { ... } }, as for
"deno serve"; a default-exported function or a named "fetch" or "handler"
export work too) or a directory to serve as static files. Without ENTRY,
devsrv looks in the current directory for app.ts, app.tsx, app.js, server.ts,
server.tsx, server.js, main.ts, then index.html or public/.

Server:
  --host HOST            interface to bind (default ${DEFAULT_HOST}; anything else
                         is reachable from the network and prints a warning)
  -p, --port PORT        port to bind, 0 picks a free one (default ${DEFAULT_PORT})
  --cert FILE            PEM certificate: serve HTTPS (needs --key)
  --key FILE             PEM private key for --cert
  --allowed-host NAME    accept this Host header too (repeatable; localhost,
                         *.localhost and IP addresses are always accepted)
  --dotfiles             serve dotfiles and key files from a static directory
  -q, --quiet            no access lines
  --open                 open the default browser once the server is ready

Reloading:
  --no-reload            one process, no watching: what production would run
  --watch PATH           restart when this file or directory changes
                         (repeatable; watched even outside the current
                         directory)
  --ext LIST             restart when a file with one of these extensions
                         changes, comma-separated, e.g. "sql,yaml"; for a
                         static directory: reload the pages only for these
  --ignore GLOB          never react to matching paths, module graph
                         included (repeatable, .gitignore syntax)
  --no-gitignore         do not honour .gitignore files
  --debounce MS          quiet period that makes a burst one restart (default ${DEFAULT_DEBOUNCE_MS})
  --poll                 poll file stats instead of OS events (network
                         mounts, some container and WSL mounts)
  --interval MS          polling interval (default ${DEFAULT_POLL_INTERVAL_MS})
  --grace MS             time a stopping child has for in-flight requests
                         before it is killed (default ${DEFAULT_GRACE_MS})
  --no-live-reload       do not inject the browser live-reload client

  -h, --help             show this help
  -V, --version          show the version

What a change does: a file of the app's module graph (what its entry
imports at any depth, as "deno info" sees it), a new or deleted source file,
deno.json, package.json, deno.lock, an import map or .env file, and --watch
and --ext files restart the app. HTML, CSS, templates and images reload the
open pages. Anything else does nothing, and so does every file the app
writes itself while it starts or answers a request. For a static directory,
only that directory is watched and a change reloads the pages.

While it runs, type "rs" and Enter to restart the app. Status and the last
decisions: /__devsrv
`;
}
