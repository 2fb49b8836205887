/**
 * Where the request handler comes from: an app module, a static directory,
 * or a handler function given to the library's `serve()`. Loading happens
 * in the serving process only.
 *
 * @module
 */

import type { Handler } from "../options.ts";
import { loadHandler } from "./app_loader.ts";

/** What `devsrv serve ENTRY` serves, with absolute paths (see `cli/entry.ts`). */
export type Entry =
  | { kind: "module"; path: string; display: string }
  | { kind: "static"; root: string; display: string };

/** Something that can produce the handler, and how to name it. */
export interface AppSource {
  /** What the logs call it: `app.ts`, `public/`, `handler`. */
  readonly display: string;
  /** `static` serves files; the others run user code. */
  readonly kind: "module" | "static" | "function";
  /** Static root, for static sources. */
  readonly root?: string;
  /** The app module's absolute path, for module sources. */
  readonly path?: string;
  /** Imports (or builds) the handler. */
  load(): Promise<Handler>;
}

/** How a static directory is served. */
export interface StaticServing {
  /** Serve dotfiles and key files. */
  dotfiles: boolean;
  /** Origins whose pages may load the files cross-origin (`--cors`). */
  cors: string[];
}

/**
 * Makes the source for a CLI entry.
 *
 * @param entry The resolved ENTRY.
 * @param serving How a static directory is served (dotfiles, CORS).
 * @returns The source.
 */
export function sourceFromEntry(entry: Entry, serving: StaticServing): AppSource {
  if (entry.kind === "module") {
    return {
      display: entry.display,
      kind: "module",
      path: entry.path,
      load: () => loadHandler(entry.path, entry.display),
    };
  }
  const root = entry.root;
  return {
    display: entry.display.endsWith("/") ? entry.display : `${entry.display}/`,
    kind: "static",
    root,
    load: async () => {
      // Imported only here so that app mode never loads the static server.
      const { serveStatic } = await import("../static/static_files.ts");
      const { withCors } = await import("../static/cors.ts");
      const { dotfiles, cors } = serving;
      return withCors((request) => serveStatic(request, { root, dotfiles }), cors);
    },
  };
}

/**
 * Makes the source for a handler given to the library.
 *
 * @param handler The user's handler.
 * @param display A name for the logs.
 * @returns The source.
 */
export function sourceFromHandler(
  handler: Handler,
  display: string,
): AppSource {
  return { display, kind: "function", load: () => Promise.resolve(handler) };
}
