/**
 * HTML escaping and the frame every devsrv page shares.
 *
 * @module
 */

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML content and attribute values.
 *
 * @param text Untrusted text.
 * @returns Text safe to put between tags or in a quoted attribute.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

const PAGE_STYLE = `
body{font:14px/1.5 system-ui,sans-serif;margin:0;background:#fafafa;color:#222}
main{max-width:960px;margin:0 auto;padding:24px}
h1{font-size:20px;margin:0 0 4px;color:#b00020}
.sub{color:#666;margin:0 0 16px}
pre{background:#1e1e1e;color:#eee;padding:12px;border-radius:6px;overflow:auto;font:12px/1.5 ui-monospace,monospace}
.hl{background:#5a1d1d;display:inline-block;min-width:100%}
details{margin:8px 0}
summary{cursor:pointer;color:#666}
table{border-collapse:collapse}td,th{padding:2px 12px 2px 0;text-align:left;vertical-align:top}
`;

/**
 * Wraps body HTML in a complete page.
 *
 * @param title The page title (plain text).
 * @param bodyHtml Already escaped HTML for the body.
 * @param scriptSrc A same-origin script to load (the live-reload client).
 * @returns A full HTML document.
 */
export function htmlPage(
  title: string,
  bodyHtml: string,
  scriptSrc?: string,
): string {
  const script = scriptSrc ? `<script src="${escapeHtml(scriptSrc)}" defer></script>` : "";
  return `<!doctype html><html><head><meta charset="utf-8"><title>${
    escapeHtml(title)
  }</title><style>${PAGE_STYLE}</style></head><body><main>${bodyHtml}</main>${script}</body></html>`;
}

/**
 * Tells whether a client prefers HTML (a browser) over plain text.
 *
 * @param request The request.
 * @returns `true` when `Accept` mentions `text/html`.
 */
export function acceptsHtml(request: Request): boolean {
  return (request.headers.get("accept") ?? "").includes("text/html");
}
