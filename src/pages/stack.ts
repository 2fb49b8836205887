/**
 * Reads a JavaScript stack into frames, tells the user's frames from
 * devsrv's and Deno's own, and cuts the source lines around a frame.
 *
 * @module
 */

import { filePath } from "../paths.ts";
import { stripAnsi } from "../errors.ts";

/** One line of a stack trace. */
export interface StackFrame {
  /** The line as printed, trimmed. */
  text: string;
  /** Absolute file path, for frames in files. */
  file: string | undefined;
  line: number | undefined;
  column: number | undefined;
  /** Whether the frame belongs to the user's code (not devsrv's or Deno's). */
  isUser: boolean;
}

/** Source lines around a line, for the error page. */
export interface SourceExcerpt {
  file: string;
  line: number;
  column: number;
  lines: { number: number; text: string }[];
}

// devsrv's own files; frames from them are folded away. URLs when devsrv runs from one.
const DEVSRV_SOURCE_DIR = toPath(new URL("../", import.meta.url).href);
const DEVSRV_MAIN = toPath(new URL("../../main.ts", import.meta.url).href);
const FRAME_LOCATION = /(file:\/\/\S+?|\/\S+?):(\d+):(\d+)\)?$/;
/** Lines shown before and after the failing line. */
const EXCERPT_CONTEXT_LINES = 4;

function toPath(location: string): string {
  return filePath(location);
}

/**
 * Parses the frames (`at ...` lines) of a stack.
 *
 * @param stack An `Error.stack`.
 * @returns Its frames, in order.
 */
export function parseStack(stack: string): StackFrame[] {
  return stripAnsi(stack).split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("at "))
    .map((text) => {
      const match = text.match(FRAME_LOCATION);
      const file = match?.[1] ? toPath(match[1]) : undefined;
      const isUser = file !== undefined && file.startsWith("/") &&
        !file.startsWith(DEVSRV_SOURCE_DIR) && file !== DEVSRV_MAIN &&
        !file.includes("/node_modules/");
      return {
        text,
        file,
        line: match ? Number(match[2]) : undefined,
        column: match ? Number(match[3]) : undefined,
        isUser,
      };
    });
}

/**
 * Reads the lines around a frame's line from its file.
 *
 * @param frame A frame with a file and line.
 * @returns The excerpt, or `undefined` when the file cannot be read.
 */
export function readExcerpt(frame: StackFrame): SourceExcerpt | undefined {
  if (!frame.file || frame.line === undefined) return undefined;
  let source: string;
  try {
    source = Deno.readTextFileSync(frame.file);
  } catch {
    // Any error: an excerpt is extra, and whatever stops the read (moved,
    // not permitted, a name too long, a plain Error) must not fail the page.
    return undefined;
  }
  const all = source.replace(/\n$/, "").split("\n");
  const first = Math.max(1, frame.line - EXCERPT_CONTEXT_LINES);
  const last = Math.min(all.length, frame.line + EXCERPT_CONTEXT_LINES);
  const lines = [];
  for (let number = first; number <= last; number++) {
    lines.push({ number, text: all[number - 1] ?? "" });
  }
  return {
    file: frame.file,
    line: frame.line,
    column: frame.column ?? 1,
    lines,
  };
}
