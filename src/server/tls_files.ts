/**
 * Reads the `--cert` and `--key` files for HTTPS, with a clear error for
 * each way they can be wrong, before anything listens.
 *
 * @module
 */

import { DevsrvError } from "../errors.ts";

/** PEM texts for `Deno.serve` and `Deno.listenTls`. */
export interface TlsFiles {
  cert: string;
  key: string;
}

function readPem(flag: string, path: string, marker: RegExp): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "does not exist" : "cannot be read";
    throw new DevsrvError(
      `${flag} file "${path}" ${why}`,
      `give ${flag} a readable PEM file`,
    );
  }
  if (!marker.test(text)) {
    throw new DevsrvError(
      `${flag} file "${path}" is not a PEM ${flag === "--cert" ? "certificate" : "private key"}`,
      `give ${flag} a PEM file (it starts with "-----BEGIN")`,
    );
  }
  return text;
}

/**
 * Reads and checks the certificate and key files.
 *
 * @param cert Path of the certificate (`--cert`).
 * @param key Path of the private key (`--key`).
 * @returns Their PEM texts.
 * @throws {DevsrvError} For a missing, unreadable or non-PEM file, or a key
 * that does not belong to the certificate.
 */
export function readTlsFiles(cert: string, key: string): TlsFiles {
  const files = {
    cert: readPem("--cert", cert, /-----BEGIN CERTIFICATE-----/),
    key: readPem("--key", key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
  };
  checkKeyMatches(files, cert, key);
  return files;
}

function checkKeyMatches(
  files: TlsFiles,
  certPath: string,
  keyPath: string,
): void {
  // Listening once on an ephemeral loopback port makes rustls check the pair.
  let listener: Deno.TlsListener | undefined;
  try {
    listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: files.cert,
      key: files.key,
    });
  } catch (error) {
    const why = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new DevsrvError(
      `--key "${keyPath}" does not fit --cert "${certPath}" (${why})`,
      "give the private key that belongs to the certificate",
    );
  } finally {
    listener?.close();
  }
}
