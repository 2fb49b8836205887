/**
 * The development error page: what a handler threw, with its stack and the
 * source around the failing line, HTML for browsers and text otherwise.
 *
 * @module
 */

import { shownPath } from "../paths.ts";
import { stripAnsi } from "../errors.ts";
import { acceptsHtml, escapeHtml, htmlPage } from "./html.ts";
import { parseStack, readExcerpt, type SourceExcerpt, type StackFrame } from "./stack.ts";

/** Options for {@linkcode errorResponse}. */
export interface ErrorPageOptions {
  /** HTTP status. @default {500} */
  status?: number;
  /** Headline, e.g. "Internal Server Error". */
  title?: string;
  /** Show message, stack and source; off for clients that must not see them. */
  showDetails: boolean;
  /** Extra plain text shown under the stack (e.g. a child's last output). */
  output?: string;
  /** Same-origin script for the page (the live-reload client). */
  scriptSrc?: string;
}

function describe(
  error: unknown,
): { name: string; message: string; stack: string } {
  if (error instanceof Error) {
    return {
      name: error.name,
      message: stripAnsi(error.message),
      stack: stripAnsi(error.stack ?? ""),
    };
  }
  return {
    name: "Error",
    message: `non-Error thrown: ${String(error)}`,
    stack: "",
  };
}

function excerptHtml(excerpt: SourceExcerpt): string {
  const width = String(excerpt.lines.at(-1)?.number ?? 0).length;
  const rows = excerpt.lines.map(({ number, text }) => {
    const row = `${String(number).padStart(width)} | ${escapeHtml(text)}`;
    return number === excerpt.line ? `<span class="hl">${row}</span>` : row;
  });
  return `<p>${escapeHtml(shownPath(excerpt.file))}:${excerpt.line}:${excerpt.column}</p><pre>${
    rows.join("\n")
  }</pre>`;
}

function framesHtml(frames: StackFrame[]): string {
  const html: string[] = [];
  let folded: StackFrame[] = [];
  const flush = () => {
    if (folded.length === 0) return;
    html.push(
      `<details><summary>${folded.length} frame${
        folded.length === 1 ? "" : "s"
      } from devsrv and Deno internals</summary><pre>${
        escapeHtml(folded.map((f) => f.text).join("\n"))
      }</pre></details>`,
    );
    folded = [];
  };
  for (const frame of frames) {
    if (frame.isUser) {
      flush();
      html.push(`<pre>${escapeHtml(frame.text)}</pre>`);
    } else {
      folded.push(frame);
    }
  }
  flush();
  return html.join("");
}

/**
 * Builds the HTML body of an error page.
 *
 * @param error What was thrown.
 * @param options What to show.
 * @returns Body HTML.
 */
export function errorDetailsHtml(error: unknown, output?: string): string {
  const { name, message, stack } = describe(error);
  const frames = parseStack(stack);
  const userFrame = frames.find((frame) => frame.isUser);
  const excerpt = userFrame ? readExcerpt(userFrame) : undefined;
  return [
    `<p class="sub"><b>${escapeHtml(name)}</b>: ${escapeHtml(message)}</p>`,
    excerpt ? excerptHtml(excerpt) : "",
    frames.length > 0 ? `<h2>Stack</h2>${framesHtml(frames)}` : "",
    output ? `<h2>Output</h2><pre>${escapeHtml(stripAnsi(output))}</pre>` : "",
  ].join("");
}

function errorText(error: unknown, output?: string): string {
  const { name, message, stack } = describe(error);
  const frames = parseStack(stack).filter((frame) => frame.isUser);
  const lines = [
    `${name}: ${message}`,
    ...frames.map((frame) => `    ${frame.text}`),
  ];
  if (output) lines.push("", "Output:", stripAnsi(output));
  return lines.join("\n") + "\n";
}

/**
 * Renders the error page for a failed request.
 *
 * @param error What was thrown.
 * @param request The request, for content negotiation.
 * @param options Status, title and how much to show.
 * @returns A response: HTML for browsers, plain text otherwise.
 */
export function errorResponse(
  error: unknown,
  request: Request,
  options: ErrorPageOptions,
): Response {
  const status = options.status ?? 500;
  const title = options.title ?? "Internal Server Error";
  const headers = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  };
  if (!acceptsHtml(request)) {
    const body = options.showDetails
      ? `${status} ${title}\n\n${errorText(error, options.output)}`
      : `${status} ${title}\n`;
    return new Response(body, {
      status,
      headers: { ...headers, "content-type": "text/plain; charset=utf-8" },
    });
  }
  const details = options.showDetails
    ? errorDetailsHtml(error, options.output)
    : `<p class="sub">Details are shown only on the machine that runs devsrv.</p>`;
  const html = htmlPage(
    `${status} ${title}`,
    `<h1>${status} ${escapeHtml(title)}</h1>${details}`,
    options.scriptSrc,
  );
  return new Response(html, {
    status,
    headers: { ...headers, "content-type": "text/html; charset=utf-8" },
  });
}
