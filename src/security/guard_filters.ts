/**
 * The request guard as the serving processes apply it: the Host allow-list
 * in front of every request, and the rule for who may see error details.
 *
 * @module
 */

import { hostOrDefault, type ServeOptions } from "../options.ts";
import { isLoopbackHost } from "./authority.ts";
import { guardRequest, mayShowDetails } from "./request_guard.ts";

/**
 * A filter that answers 400/403 for requests whose Host is not allowed.
 *
 * @param allowedHosts `--allowed-host` values.
 * @returns The filter: a response to refuse a request, `undefined` to pass it.
 */
export function hostGuardFilter(
  allowedHosts: string[],
): (request: Request) => Response | undefined {
  return (request) => guardRequest(request, { allowedHosts }) ?? undefined;
}

/**
 * Decides who may see stacks, source and output on error pages.
 *
 * @param options The serve options (bind address, allow-list).
 * @param knowsClient Whether the request's peer is the real client: false
 * in the child and the parent's page server, whose peer is the front.
 * @returns A predicate for one request.
 */
export function detailsPolicy(
  options: Pick<ServeOptions, "host" | "allowedHosts">,
  knowsClient: boolean,
): (request: Request, info?: Deno.ServeHandlerInfo<Deno.NetAddr>) => boolean {
  const boundToLoopback = isLoopbackHost(hostOrDefault(options));
  return (request, info) =>
    mayShowDetails(request, {
      allowedHosts: options.allowedHosts,
      boundToLoopback,
      // Behind the front every peer is 127.0.0.1, which says nothing about the client.
      remoteHostname: knowsClient ? info?.remoteAddr.hostname : undefined,
    });
}
