/**
 * How far apart two names are, for "did you mean" in the errors about an
 * unknown option (a flag, a variable, a key of deno.json).
 *
 * @module
 */

/**
 * How many single-character edits (insert, delete, replace) turn one name
 * into the other: the Levenshtein distance, in O(a × b) time, fine for
 * names a few dozen characters long.
 *
 * @param a One name.
 * @param b The other.
 * @returns The number of edits, 0 for equal names.
 *
 * @example
 * ```ts
 * import { editDistance } from "./edit_distance.ts";
 *
 * if (editDistance("prot", "port") !== 2 || editDistance("port", "port") !== 0) throw new Error();
 * ```
 */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
