/**
 * Which file system a watched folder is on, from `/proc/mounts`: on network
 * and FUSE mounts and WSL's Windows drives (`/mnt/c`), changes made
 * elsewhere (by the other machine, by Windows, by the FUSE server) send no
 * OS file events, so the reloader polls there instead.
 *
 * @module
 */

import { resolve } from "node:path";

/** One line of `/proc/mounts`. */
export interface Mount {
  /** What is mounted, e.g. `server:/export` or `C:\134`. */
  source: string;
  /** Where, an absolute path. */
  point: string;
  /** The file system type, e.g. `ext4`, `nfs4`, `9p`, `fuse.sshfs`. */
  type: string;
}

/**
 * File system types whose changes may come from elsewhere without an OS
 * file event: network file systems, FUSE (sshfs, rclone, bindfs, ...),
 * WSL's drives (9p on WSL 2, drvfs on WSL 1) and VM shared folders.
 */
const EVENTLESS_TYPES =
  /^(nfs|nfs4|cifs|smb3|smbfs|ncpfs|afs|ceph|glusterfs|lustre|9p|drvfs|vboxsf|vmhgfs|fuse|fuseblk|fuse\..+)$/;

/**
 * Parses `/proc/mounts`.
 *
 * @param text The file's text.
 * @returns The mounts, in the file's order (a later one covers an earlier one at the same point).
 *
 * @example A WSL drive
 * ```ts
 * import { parseMounts } from "./mounts.ts";
 *
 * const [mount] = parseMounts("C:\\134 /mnt/c 9p rw,noatime 0 0\n");
 * if (mount?.point !== "/mnt/c" || mount.type !== "9p") throw new Error();
 * ```
 */
export function parseMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const [source, point, type] = line.split(" ");
    if (source === undefined || point === undefined || type === undefined) continue;
    mounts.push({ source, point: unescapeMountField(point), type });
  }
  return mounts;
}

/** `/proc/mounts` writes space, tab, newline and backslash as octal escapes. */
function unescapeMountField(field: string): string {
  return field.replace(
    /\\([0-7]{3})/g,
    (_, octal: string) => String.fromCharCode(parseInt(octal, 8)),
  );
}

/**
 * Finds the mount a path is on: the last mounted at the longest mount point
 * that contains it.
 *
 * @param path An absolute path.
 * @param mounts The mounts.
 * @returns The mount, or `undefined` when none contains it.
 */
export function mountOf(path: string, mounts: Mount[]): Mount | undefined {
  let best: Mount | undefined;
  for (const mount of mounts) {
    const point = mount.point;
    const inside = point === "/" || path === point || path.startsWith(`${point}/`);
    if (inside && (best === undefined || point.length >= best.point.length)) best = mount;
  }
  return best;
}

/**
 * Tells whether a path is on a file system whose changes may arrive without
 * OS file events.
 *
 * @param path A path; symbolic links are followed when it exists.
 * @param mounts The mounts.
 * @returns The mount when it is such a file system, else `undefined`.
 *
 * @example A project on an NFS mount
 * ```ts
 * import { eventlessMount, parseMounts } from "./mounts.ts";
 *
 * const mounts = parseMounts("/dev/vda / ext4 rw 0 0\nnas:/home /home nfs4 rw 0 0\n");
 * if (eventlessMount("/home/me/app", mounts)?.type !== "nfs4") throw new Error();
 * if (eventlessMount("/srv/app", mounts) !== undefined) throw new Error();
 * ```
 */
export function eventlessMount(path: string, mounts: Mount[]): Mount | undefined {
  const mount = mountOf(realPathOrSame(resolve(path)), mounts);
  return mount && EVENTLESS_TYPES.test(mount.type) ? mount : undefined;
}

function realPathOrSame(path: string): string {
  try {
    return Deno.realPathSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      return path;
    }
    throw error;
  }
}

/**
 * Reads this machine's mounts.
 *
 * @returns The mounts, or `undefined` where `/proc/mounts` cannot be read
 * (not Linux, or no permission).
 */
export function readMounts(): Mount[] | undefined {
  try {
    return parseMounts(Deno.readTextFileSync("/proc/mounts"));
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      return undefined;
    }
    throw error;
  }
}
