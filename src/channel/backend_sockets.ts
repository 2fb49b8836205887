/**
 * The private directory where the children's `Deno.serve` servers listen
 * on Unix sockets: the parent reaches them without the kernel's loopback
 * TCP path, and no other user can connect (the directory is `0700`). Made
 * when the first child is told to start; a child's files are removed when
 * it ends (a killed child cannot remove them), the directory when the
 * session ends. On Windows, or where the path would be too long for a
 * socket, there is none and the children listen on loopback ports.
 *
 * @module
 */

/**
 * A socket file in the parent's directory, named after the child's process
 * so that the parent can remove what a killed child left.
 *
 * @param dir The directory.
 * @param sequence The child's count of sockets so far, from 1.
 * @returns The path.
 *
 * @example
 * ```ts
 * import { socketFile } from "./backend_sockets.ts";
 *
 * if (!socketFile("/tmp/devsrv-x", 1).endsWith(`/${Deno.pid}-1.sock`)) throw new Error();
 * ```
 */
export function socketFile(dir: string, sequence: number): string {
  return `${dir}/${Deno.pid}-${sequence}.sock`;
}

/** Longest socket path the platforms take (`sun_path` is 104 bytes on macOS), with room for the file name. */
const MAX_DIR_LENGTH = 80;

/** The session's socket directory. */
export class BackendSockets {
  /** `undefined`: not made yet; `null`: none (loopback ports). */
  #dir: string | null | undefined;

  /**
   * The directory, made on first use.
   *
   * @returns Its path, or `null` when the children listen on loopback ports.
   */
  dir(): string | null {
    if (this.#dir !== undefined) return this.#dir;
    if (Deno.build.os === "windows") return this.#dir = null;
    let dir: string;
    try {
      dir = Deno.makeTempDirSync({ prefix: "devsrv-" });
    } catch (error) {
      // devsrv may not write the temp directory (--allow-write=.): loopback ports then.
      if (error instanceof Deno.errors.NotCapable) return this.#dir = null;
      throw error;
    }
    Deno.chmodSync(dir, 0o700);
    if (dir.length > MAX_DIR_LENGTH || !mayUseSockets(dir)) {
      removeQuietly(dir);
      return this.#dir = null;
    }
    return this.#dir = dir;
  }

  /**
   * Removes the socket files a child left (it was killed, or exited without
   * shutting its servers down).
   *
   * @param pid The child's process id.
   */
  sweep(pid: number): void {
    const dir = this.#dir;
    if (!dir) return;
    try {
      for (const entry of Deno.readDirSync(dir)) {
        if (entry.name.startsWith(`${pid}-`)) removeQuietly(`${dir}/${entry.name}`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  /** Removes the directory and whatever is left in it. */
  remove(): void {
    if (this.#dir) removeQuietly(this.#dir);
  }
}

/**
 * Whether this process may listen on and connect to sockets in a directory:
 * Deno asks for read and write access to a socket's path.
 *
 * @param dir The directory.
 * @returns `true` when both are granted.
 */
export function mayUseSockets(dir: string): boolean {
  return (["read", "write"] as const).every((name) =>
    Deno.permissions.querySync({ name, path: dir }).state === "granted"
  );
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
