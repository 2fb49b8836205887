/**
 * Waiting for the signals that end a devsrv process.
 *
 * @module
 */

/** The signals that stop devsrv gracefully: Ctrl+C, `kill`, and a closed terminal. */
export const SHUTDOWN_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** One of {@linkcode SHUTDOWN_SIGNALS}. */
export type ShutdownSignal = typeof SHUTDOWN_SIGNALS[number];

/**
 * Resolves on the first SIGINT or SIGTERM, then stops listening for them.
 *
 * @returns The signal received, and a function that stops waiting.
 */
export function onShutdownSignal(): {
  signal: Promise<ShutdownSignal>;
  cancel: () => void;
} {
  let cancel = () => {};
  const signal = new Promise<ShutdownSignal>((resolve) => {
    const listeners = SHUTDOWN_SIGNALS.map((name) => {
      const listener = () => {
        cancel();
        resolve(name);
      };
      Deno.addSignalListener(name, listener);
      return [name, listener] as const;
    });
    cancel = () => {
      for (const [name, listener] of listeners) {
        Deno.removeSignalListener(name, listener);
      }
    };
  });
  return { signal, cancel };
}
