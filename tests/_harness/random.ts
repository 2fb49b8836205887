/**
 * Test helper: seeded random numbers for the tests that try many generated
 * cases (hostile paths and headers, sequences of lifecycle events), so that
 * a failing run can be replayed from the seed its message names.
 *
 * @module
 */

/**
 * A small fast generator (mulberry32) of numbers in [0, 1).
 *
 * @param seed Any integer; the same seed gives the same numbers.
 * @returns The generator.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of this run: `DEVSRV_FUZZ_SEED` when set (to replay a failure),
 * else a new one. Name it in every failure message.
 *
 * @returns The seed.
 */
export function fuzzSeed(): number {
  return Number(Deno.env.get("DEVSRV_FUZZ_SEED") ?? Date.now() % 2 ** 31);
}

/**
 * Picks one element at random.
 *
 * @param random A generator from {@linkcode seededRandom}.
 * @param items A non-empty list.
 * @returns One of them.
 */
export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}
