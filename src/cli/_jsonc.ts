/**
 * JSON with comments and trailing commas, as Deno reads `deno.json` and
 * `deno.jsonc`. Comments and trailing commas become spaces, so JSON.parse
 * reports positions in the file as written.
 *
 * Written here rather than taken from npm: any npm import loads Deno's Node
 * compatibility layer into the reloader (about 10 MB).
 *
 * @module
 */

/**
 * Parses JSONC: JSON plus `//` and `/* *\/` comments and trailing commas.
 *
 * @param text The file's text.
 * @returns The value.
 * @throws {SyntaxError} When the text is not JSONC, with the line and column.
 *
 * @example Read a deno.jsonc
 * ```ts
 * import { parseJsonc } from "./_jsonc.ts";
 *
 * const value = parseJsonc('{ // the port\n "port": 3000, }') as { port: number };
 * if (value.port !== 3000) throw new Error();
 * ```
 */
export function parseJsonc(text: string): unknown {
  const plain = stripJsonc(text);
  try {
    return JSON.parse(plain);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new SyntaxError(withLine(error.message, plain));
  }
}

/** Replaces comments and trailing commas with spaces, keeping every line break. */
function stripJsonc(text: string): string {
  const out = text.split("");
  let i = 0;
  let lastComma = -1;
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      i = endOfString(text, i);
      lastComma = -1;
    } else if (char === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      i = blank(out, i, end < 0 ? text.length : end);
    } else if (char === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      i = blank(out, i, end < 0 ? text.length : end + 2);
    } else if (char === ",") {
      lastComma = i++;
    } else if ((char === "}" || char === "]") && lastComma >= 0) {
      out[lastComma] = " ";
      lastComma = -1;
      i++;
    } else {
      if (!/\s/.test(char)) lastComma = -1;
      i++;
    }
  }
  return out.join("");
}

function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i + 1;
}

function blank(out: string[], from: number, to: number): number {
  for (let i = from; i < to; i++) if (out[i] !== "\n" && out[i] !== "\r") out[i] = " ";
  return to;
}

function withLine(message: string, text: string): string {
  if (/line \d+/.test(message)) return message;
  const position = Number(message.match(/position (\d+)/)?.[1]);
  if (!Number.isInteger(position)) return message;
  const before = text.slice(0, position).split("\n");
  return `${message} (line ${before.length} column ${before.at(-1)!.length + 1})`;
}
