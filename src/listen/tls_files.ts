/**
 * Reads the `--cert` and `--key` files for HTTPS, with a clear error for
 * each way they can be wrong, before anything listens.
 *
 * @module
 */

import { DevsrvError, firstLine } from "../errors.ts";

/** PEM texts for `Deno.serve` and `Deno.listenTls`. */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** PEM files are a few kB; anything this large is the wrong file. */
const MAX_PEM_BYTES = 1024 * 1024;
const CERT_MARKER = /-----BEGIN CERTIFICATE-----/;
const KEY_MARKER = /-----BEGIN (?:RSA |EC |)PRIVATE KEY-----/;
const ENCRYPTED_KEY_MARKER = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/;
/** What rustls says when the key's public half is not the certificate's. */
const KEY_MISMATCH = /KeyMismatch|keys may not be consistent/i;

type Flag = "--cert" | "--key";

function readFile(flag: Flag, path: string): string {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DevsrvError(`${flag} file "${path}" does not exist`, `give ${flag} a PEM file`);
    }
    throw unreadable(flag, path);
  }
  // A FIFO or a device would block or never end; a directory cannot be read.
  if (!info.isFile) {
    throw new DevsrvError(`${flag} "${path}" is not a file`, `give ${flag} a PEM file`);
  }
  if (info.size > MAX_PEM_BYTES) {
    throw new DevsrvError(
      `${flag} file "${path}" is too large to be a PEM file`,
      `give ${flag} a PEM file`,
    );
  }
  try {
    return Deno.readTextFileSync(path);
  } catch {
    // Any error: after the stat, every way this read fails (permissions, gone
    // since, an I/O error) means the file cannot be read, which is reported.
    throw unreadable(flag, path);
  }
}

function unreadable(flag: Flag, path: string): DevsrvError {
  return new DevsrvError(
    `${flag} file "${path}" cannot be read`,
    `check its permissions, or give ${flag} a readable PEM file`,
  );
}

function readCert(path: string): string {
  const text = readFile("--cert", path);
  if (CERT_MARKER.test(text)) return text;
  if (KEY_MARKER.test(text) || ENCRYPTED_KEY_MARKER.test(text)) {
    throw new DevsrvError(
      `--cert file "${path}" holds a private key, not a certificate`,
      "did you swap --cert and --key?",
    );
  }
  throw new DevsrvError(
    `--cert file "${path}" is not a PEM certificate`,
    'give --cert a PEM file with a "-----BEGIN CERTIFICATE-----" block',
  );
}

function readKey(path: string): string {
  const text = readFile("--key", path);
  if (ENCRYPTED_KEY_MARKER.test(text)) {
    throw new DevsrvError(
      `--key file "${path}" is encrypted`,
      `devsrv needs an unencrypted key: "openssl pkey -in ${path} -out key.pem"`,
    );
  }
  if (KEY_MARKER.test(text)) return text;
  if (CERT_MARKER.test(text)) {
    throw new DevsrvError(
      `--key file "${path}" holds a certificate, not a private key`,
      "did you swap --cert and --key?",
    );
  }
  throw new DevsrvError(
    `--key file "${path}" is not a PEM private key`,
    'give --key a PEM file with a "-----BEGIN PRIVATE KEY-----" block',
  );
}

/**
 * Reads and checks the certificate and key files.
 *
 * @param cert Path of the certificate (`--cert`).
 * @param key Path of the private key (`--key`).
 * @returns Their PEM texts.
 * @throws {DevsrvError} For a missing, unreadable, non-PEM or encrypted
 * file, a damaged certificate or key, or a key that does not belong to the
 * certificate.
 */
export function readTlsFiles(cert: string, key: string): TlsFiles {
  const files = { cert: readCert(cert), key: readKey(key) };
  checkPair(files, cert, key);
  return files;
}

function checkPair(files: TlsFiles, certPath: string, keyPath: string): void {
  // Listening once on an ephemeral loopback port makes rustls parse both
  // files and check that they belong together.
  let listener: Deno.TlsListener | undefined;
  try {
    listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...files });
  } catch (error) {
    if (error instanceof Deno.errors.PermissionDenied) throw error;
    const why = firstLine(error);
    if (KEY_MISMATCH.test(why)) {
      throw new DevsrvError(
        `--key "${keyPath}" does not fit --cert "${certPath}"`,
        "give the private key that belongs to the certificate",
      );
    }
    const culprit = /private key|key data/i.test(why)
      ? `--key "${keyPath}"`
      : `--cert "${certPath}"`;
    throw new DevsrvError(
      `${culprit} cannot be used for HTTPS (${why})`,
      "check that --cert is a PEM certificate and --key its unencrypted PEM private key",
    );
  } finally {
    listener?.close();
  }
}
