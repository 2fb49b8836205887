/**
 * Test helper: self-signed certificates made by openssl at test time, for
 * the tests of TLS (the front's, the CLI's `--cert`/`--key`). Where
 * openssl is missing, such tests are ignored outside CI
 * (`missingOutsideCi("openssl")` in `devsrv.ts`).
 *
 * @module
 */

import { join } from "node:path";

/** A certificate and its key: their files and their PEM text. */
export interface CertPair {
  /** The certificate's file. */
  cert: string;
  /** The key's file. */
  key: string;
  /** The certificate, PEM. */
  certPem: string;
  /** The key, PEM. */
  keyPem: string;
}

/**
 * Makes a self-signed certificate for `localhost`, `rebound.example` and
 * `127.0.0.1`, valid for a day, in `dir`.
 *
 * `basicConstraints=CA:FALSE` matters: without it openssl marks the
 * certificate as a CA, and rustls (Deno's fetch and connectTls) refuses a
 * CA certificate used as a server's own ("CaUsedAsEndEntity").
 *
 * @param dir Where the files go.
 * @param name The files' prefix: `<name>-cert.pem`, `<name>-key.pem`.
 * @param keyArgs openssl's key arguments. @default {["-newkey", "rsa:2048"]}
 * @returns The files and their text.
 * @throws {Error} When openssl fails, with its message.
 */
export async function makeCert(
  dir: string,
  name = "localhost",
  keyArgs = ["-newkey", "rsa:2048"],
): Promise<CertPair> {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  const { success, stderr } = await new Deno.Command("openssl", {
    args: [
      ...["req", "-x509", ...keyArgs, "-nodes", "-subj", "/CN=localhost", "-days", "1"],
      ...["-addext", "subjectAltName=DNS:localhost,DNS:rebound.example,IP:127.0.0.1"],
      ...["-addext", "basicConstraints=critical,CA:FALSE"],
      ...["-keyout", key, "-out", cert],
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`openssl failed: ${new TextDecoder().decode(stderr)}`);
  return {
    cert,
    key,
    certPem: await Deno.readTextFile(cert),
    keyPem: await Deno.readTextFile(key),
  };
}
