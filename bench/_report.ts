/**
 * Printing the bench's figures: aligned tables, medians with their spread,
 * and each ratio beside its target with whether it meets it.
 *
 * @module
 */

import { quantile } from "./_load.ts";

const encoder = new TextEncoder();

/** Writes one line to stdout (the lint rules keep `console` out). */
export function print(line = ""): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** A number with fixed digits; `-` for a missing one. */
export function fmt(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || Number.isNaN(value) ? "-" : value.toFixed(digits);
}

/** The median of a list. */
export function median(values: readonly number[]): number {
  return quantile([...values], 0.5);
}

/** `p50 / p90` of a list. */
export function p50p90(values: readonly number[], digits = 1): string {
  return `${fmt(quantile([...values], 0.5), digits)} / ${fmt(quantile([...values], 0.9), digits)}`;
}

/** The middle half of a list, `p25–p75`: how much its values move. */
export function iqr(values: readonly number[], digits = 1): string {
  return `${fmt(quantile([...values], 0.25), digits)}–${fmt(quantile([...values], 0.75), digits)}`;
}

/** A target a ratio should meet. */
export interface Target {
  op: "≤" | "≥";
  value: number;
}

/** `0.22 (target ≤ 0.15: misses)`. */
export function ratio(value: number, target?: Target): string {
  if (target === undefined) return fmt(value, 2);
  const meets = target.op === "≤" ? value <= target.value : value >= target.value;
  // 0.697 misses ≥ 0.70: show the digit that says so.
  const digits = fmt(value, 2) === target.value.toFixed(2) && !meets ? 3 : 2;
  return `${fmt(value, digits)} (target ${target.op} ${target.value}: ${
    meets ? "meets" : "misses"
  })`;
}

/** Prints rows as columns: the first left-aligned, the others right-aligned. */
export function table(rows: string[][], indent = "  "): void {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  for (const row of rows) {
    const cells = row.map((cell, i) =>
      i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)
    );
    print(indent + cells.join("   ").trimEnd());
  }
}

/** `SSE ended by the server ×40, WebSocket closed 1001 ×20`. */
export function counts(map: ReadonlyMap<string, number>): string {
  return [...map].sort(([a], [b]) => a.localeCompare(b)).map(([what, n]) => `${what} ×${n}`)
    .join(", ") || "none";
}
