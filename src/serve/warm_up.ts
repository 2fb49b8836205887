/**
 * Deno sets up parts of its runtime on their first use, inside the call
 * that uses them: measured on Deno 2.9.6, the first `setTimeout` of a
 * process takes about 10 ms (it starts the Node compatibility layer that
 * timers are built on), the first `Response` about 5 ms, the first
 * `Request` about 2 ms and the first `Deno.serve` about 3 ms. A child that
 * waits to be told to start (the standby, or the first child while the
 * parent loads) pays them while it waits, so that neither the program's
 * load nor its first request does.
 *
 * @module
 */

/**
 * Uses each of these once: a timer, a request and a response, and (with
 * `http`) a server on a loopback port that closes at once.
 *
 * @param http Also the HTTP side (about 8 ms): for a standby, which waits
 *   for long; a child that is about to be told to start (the first, or a
 *   fresh one) would only delay its start with it.
 * @returns Once the server is closed.
 */
export async function warmUpRuntime(http: boolean): Promise<void> {
  clearTimeout(setTimeout(() => {}, 0));
  if (!http) return;
  new Request("http://127.0.0.1/");
  await new Response("").text();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(null),
  );
  await server.shutdown();
}
