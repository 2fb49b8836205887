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
} from "../options.ts";

/**
 * Returns the help text for `devsrv --help` and `devsrv serve --help`.
 *
 * @returns The usage text, ending with a newline.
 */
export function usageText(): string {
  return `devsrv ${VERSION} — a development HTTP server for Deno that reloads on change

Usage:
  devsrv serve [ENTRY] [options] [-- PROGRAM ARGS]
  devsrv --help | --version

ENTRY is a program, run as "deno run ENTRY" would run it: one that starts
its own server (Deno.serve, Hono, Oak, Express, Koa, Fastify through
node:http) or a "deno serve" module (export default { fetch(req) { ... } };
a default-exported function or a named "fetch" or "handler" export work
too); or a directory to serve as static files. Without ENTRY, devsrv looks
in the current directory for app.ts, app.tsx, app.js, server.ts,
server.tsx, server.js, main.ts, then index.html or public/. What follows
"--" is the program's own arguments (its Deno.args).

Server:
  --host HOST            interface to bind (default: the loopback address the
                         program asks for, else ${DEFAULT_HOST}; anything beyond
                         loopback is reachable from the network and warns)
  -p, --port PORT        port to bind, 0 picks a free one (default: the port
                         the program asks for, else ${DEFAULT_PORT})
  --cert FILE            PEM certificate: serve HTTPS (needs --key)
  --key FILE             PEM private key for --cert
  --allowed-host NAME    accept this Host header too (repeatable; localhost,
                         *.localhost and IP addresses are always accepted)
  --dotfiles             serve dotfiles and key files from a static directory
  --cors ORIGIN          let pages from ORIGIN (e.g. http://localhost:5173)
                         load a static directory's files (repeatable; "*"
                         allows any origin, only when given by name)
  -q, --quiet            no access lines
  -v, --verbose          log where the time goes, phase by phase
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
  --poll                 poll file stats instead of OS events (on by itself
                         on network, FUSE and WSL /mnt mounts; --no-poll
                         turns that off)
  --interval MS          polling interval (default ${DEFAULT_POLL_INTERVAL_MS})
  --grace MS             time a stopping child has for in-flight requests
                         before it is killed (default ${DEFAULT_GRACE_MS})
  --no-head-start        load a change's code only once the debounce is over,
                         never beside the serving child before it
  --no-live-reload       do not inject the browser live-reload client

  --print-config         show every option's value and where it came from
  -h, --help             show this help
  -V, --version          show the version

Configuration, first that sets an option wins:
  1. flags
  2. the environment: DEVSRV_<OPTION> for every option, e.g. DEVSRV_PORT,
     DEVSRV_RELOAD=0, DEVSRV_POLL=1, DEVSRV_APP=main.ts (the ENTRY),
     DEVSRV_WATCH=a,b (lists separated by commas); PORT and HOST too
  3. the "devsrv" section of the nearest deno.json or deno.jsonc, by long
     flag name: { "devsrv": { "port": 3000, "watch": ["../shared"] } }
  4. the defaults
Colour: none when output is not a terminal, or with NO_COLOR; FORCE_COLOR
forces it.

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
