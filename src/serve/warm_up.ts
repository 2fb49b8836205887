/**
 * Deno sets up parts of its runtime on their first use, inside the call
 * that uses them: measured on Deno 2.9.6, the first `setTimeout` of a
 * process takes about 10 ms (it starts the Node compatibility layer that
 * timers are built on), the first `Response` about 5 ms, the first
 * `Request` about 2 ms and the first `Deno.serve` about 3 ms. The standby,
 * which waits for a restart, pays them while it waits, so that neither the
 * program's load nor its first request does. A child told to start at once
 * (the first, or a fresh one) pays only what the program itself uses: a
 * program with no timer never starts the Node layer.
 *
 * @module
 */

/**
 * Uses each of these once: a timer, a request and a response, and a server
 * on a loopback port that closes at once.
 *
 * @returns Once the server is closed.
 */
export async function warmUpRuntime(): Promise<void> {
  clearTimeout(setTimeout(() => {}, 0));
  new Request("http://127.0.0.1/");
  await new Response("").text();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(null),
  );
  await server.shutdown();
}
