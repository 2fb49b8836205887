/**
 * The files a program writes, reported to the parent as it writes them, so
 * that the parent never takes the program's own writes (a JSON store, a
 * cache, a generated page, a log) for a person's edit: no restart, and no
 * page reload in a loop. Deno's file APIs are wrapped, and Node's `fs` too
 * once the program loads it (through `require("fs")` or its default
 * export; a named ESM import of `node:fs` is bound before devsrv can wrap
 * it, and the parent's timing rule covers what is missed).
 *
 * A path is reported before the write happens, so the report is there
 * before the file system's event.
 *
 * @module
 */

import { filePath } from "../paths.ts";

/** Where reported paths go, a batch at a time. */
export type WriteSink = (paths: string[]) => void;

type AnyFunction = (...args: unknown[]) => unknown;

/** Deno's calls that write to a path, and which arguments name paths. */
const DENO_WRITERS: Record<string, number[]> = {
  writeFile: [0],
  writeFileSync: [0],
  writeTextFile: [0],
  writeTextFileSync: [0],
  create: [0],
  createSync: [0],
  rename: [0, 1],
  renameSync: [0, 1],
  remove: [0],
  removeSync: [0],
  mkdir: [0],
  mkdirSync: [0],
  copyFile: [1],
  copyFileSync: [1],
  truncate: [0],
  truncateSync: [0],
  link: [1],
  linkSync: [1],
  symlink: [1],
  symlinkSync: [1],
};

/** Node's `fs` calls that write to a path, and which arguments name paths. */
const NODE_WRITERS: Record<string, number[]> = {
  writeFile: [0],
  writeFileSync: [0],
  appendFile: [0],
  appendFileSync: [0],
  createWriteStream: [0],
  rename: [0, 1],
  renameSync: [0, 1],
  unlink: [0],
  unlinkSync: [0],
  rm: [0],
  rmSync: [0],
  rmdir: [0],
  rmdirSync: [0],
  mkdir: [0],
  mkdirSync: [0],
  copyFile: [1],
  copyFileSync: [1],
  truncate: [0],
  truncateSync: [0],
  cp: [1],
  cpSync: [1],
};

/** Node's `open` flags that write. */
const WRITING_FLAGS = /[wa+]/;

function absolute(path: unknown): string | undefined {
  let text: string;
  if (typeof path === "string") text = path;
  else if (path instanceof URL) text = path.href;
  else if (path instanceof Uint8Array) text = new TextDecoder().decode(path);
  else return undefined;
  text = filePath(text);
  if (text.startsWith("/")) return text;
  const cwd = Deno.cwd();
  return `${cwd.endsWith("/") ? cwd : `${cwd}/`}${text.replace(/^\.\//, "")}`;
}

/** Collects paths and hands them over once per turn of the event loop. */
class WriteBatcher {
  #paths = new Set<string>();
  #sink: WriteSink;
  #scheduled = false;

  constructor(sink: WriteSink) {
    this.#sink = sink;
  }

  add(path: unknown): void {
    const full = absolute(path);
    if (full === undefined) return;
    this.#paths.add(full);
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      const paths = [...this.#paths];
      this.#paths.clear();
      this.#sink(paths);
    });
  }
}

function wrap(
  target: Record<string, unknown>,
  name: string,
  pathArguments: number[],
  batcher: WriteBatcher,
): void {
  const original = target[name];
  if (typeof original !== "function") return;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    for (const index of pathArguments) batcher.add(args[index]);
    return (original as AnyFunction).apply(this, args);
  };
  Object.defineProperty(target, name, { value: wrapped, writable: true, configurable: true });
}

/**
 * Reports the paths the program writes through Deno's APIs, from now on.
 *
 * @param sink Receives each batch of absolute paths.
 * @returns A function that adds Node's `fs` (call it once `node:fs` may be used).
 */
export function reportWrites(sink: WriteSink): { addNodeFs(): Promise<void> } {
  const batcher = new WriteBatcher(sink);
  const deno = Deno as unknown as Record<string, unknown>;
  for (const [name, paths] of Object.entries(DENO_WRITERS)) wrap(deno, name, paths, batcher);
  for (const name of ["open", "openSync"]) {
    const original = deno[name] as AnyFunction;
    const wrapped = function (this: unknown, path: unknown, options?: Deno.OpenOptions) {
      if (options?.write || options?.append || options?.create || options?.truncate) {
        batcher.add(path);
      }
      return original.call(this, path, options);
    };
    Object.defineProperty(Deno, name, { value: wrapped, writable: true, configurable: true });
  }
  return {
    addNodeFs: async () => {
      const fs = (await import("node:fs")).default as unknown as Record<string, unknown>;
      for (const [name, paths] of Object.entries(NODE_WRITERS)) wrap(fs, name, paths, batcher);
      const promises = fs.promises as Record<string, unknown> | undefined;
      if (promises) {
        for (const [name, paths] of Object.entries(NODE_WRITERS)) {
          wrap(promises, name, paths, batcher);
        }
      }
      for (const target of [fs, promises]) {
        if (!target) continue;
        const open = target.open as AnyFunction | undefined;
        if (typeof open !== "function") continue;
        const wrapped = function (
          this: unknown,
          path: unknown,
          flags?: unknown,
          ...rest: unknown[]
        ) {
          if (typeof flags === "string" && WRITING_FLAGS.test(flags)) batcher.add(path);
          return open.call(this, path, flags, ...rest);
        };
        Object.defineProperty(target, "open", {
          value: wrapped,
          writable: true,
          configurable: true,
        });
      }
      const openSync = fs.openSync as AnyFunction;
      Object.defineProperty(fs, "openSync", {
        value: function (this: unknown, path: unknown, flags?: unknown, ...rest: unknown[]) {
          if (typeof flags === "string" && WRITING_FLAGS.test(flags)) batcher.add(path);
          return openSync.call(this, path, flags, ...rest);
        },
        writable: true,
        configurable: true,
      });
    },
  };
}
