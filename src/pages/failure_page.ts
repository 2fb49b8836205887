/**
 * The 503 page of an app that cannot be served: its heading says what
 * happened ("App failed to load", "App crashed", "App exited"), and the
 * development error page below it shows the error, the source around it
 * and the child's last output.
 *
 * @module
 */

import type { FailureReport } from "../channel/messages.ts";
import { errorResponse } from "./error_page.ts";

/** The app's failure, as the 503 page shows it. */
export interface AppFailure extends FailureReport {
  /** The child's latest output. */
  output: string;
}

/**
 * Turns a failure report into an error whose stack points at the user's
 * file, so the page can show the source around it.
 *
 * @param failure The child's report.
 * @returns An Error for {@linkcode errorResponse}.
 */
export function failureAsError(failure: AppFailure): Error {
  const error = new Error(
    failure.fix ? `${failure.message}; ${failure.fix}` : failure.message,
  );
  error.name = failureTitle(failure);
  const location = failure.file &&
      !failure.detail.includes(`${failure.file.split("/").pop()}:${failure.line}:${failure.column}`)
    ? `\n    at ${failure.file}:${failure.line ?? 1}:${failure.column ?? 1}`
    : "";
  error.stack = `${error.name}: ${error.message}${location}\n${failure.detail}`;
  return error;
}

/**
 * The 503 page's heading: what happened to the app.
 *
 * @param failure The child's report.
 * @returns "App failed to load", "App crashed" or "App exited".
 */
export function failureTitle(failure: AppFailure): string {
  switch (failure.kind) {
    case "crash":
      return "App crashed";
    case "exit":
      return "App exited";
    default:
      return "App failed to load";
  }
}

/**
 * The 503 page every request gets while the app cannot be served: what
 * happened to it, or that it is (re)starting.
 *
 * @param request The request it answers.
 * @param failure The app's failure, or `undefined` while it starts.
 * @param options Whether the request may see details; the live-reload
 *   script the page loads, if any.
 * @returns The response, with `Retry-After: 1`.
 *
 * @example A load failure, shown as text
 * ```ts
 * import { failureResponse } from "./failure_page.ts";
 *
 * const failure = { message: "Expression expected", detail: "", output: "" };
 * const response = failureResponse(new Request("http://localhost/"), failure, {
 *   showDetails: true,
 * });
 * if (response.status !== 503) throw new Error();
 * if (!(await response.text()).includes("App failed to load")) throw new Error();
 * ```
 */
export function failureResponse(
  request: Request,
  failure: AppFailure | undefined,
  options: { showDetails: boolean; scriptSrc?: string | undefined },
): Response {
  const page: Parameters<typeof errorResponse>[2] = {
    status: 503,
    title: failure ? failureTitle(failure) : "App is starting",
    showDetails: options.showDetails,
  };
  if (failure?.output) page.output = failure.output;
  if (options.scriptSrc) page.scriptSrc = options.scriptSrc;
  const error = failure
    ? failureAsError(failure)
    : new Error("The app is (re)starting; this page reloads once it is ready");
  const response = errorResponse(error, request, page);
  response.headers.set("retry-after", "1");
  return response;
}
