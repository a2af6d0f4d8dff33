/**
 * Checks a TLS certificate and key before a listener is opened with them:
 * that the key is the certificate's, and whether the certificate is a CA
 * certificate, which rustls clients (`chat join` among them) refuse as a
 * server's. Deno's `node:crypto` reads the X.509 and the key.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

/** What {@linkcode inspectTlsPair} found out about a certificate. */
export interface TlsCertificateFacts {
  /** The subject of the leaf (first) certificate, on one line: `CN=chat.example.org`. */
  subject: string;
  /** Whether it is a CA certificate (basicConstraints CA:TRUE). */
  ca: boolean;
}

/** What {@linkcode inspectTlsPair} refuses: an unreadable certificate or key, or a key that is not the certificate's. */
export class TlsPairError extends RangeError {
  /** Which is wrong: the certificate, the key, or their pairing. */
  readonly part: "certificate" | "key" | "mismatch";

  constructor(part: TlsPairError["part"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsPairError";
    this.part = part;
  }
}

/**
 * Reads the first certificate of the PEM chain `cert` and the PEM private
 * key `key`, and checks that the key belongs to the certificate. Throws a
 * {@linkcode TlsPairError} saying which of the two is unreadable, or that
 * they do not match.
 *
 * @example
 * ```ts ignore
 * import { inspectTlsPair } from "./tls_certificate.ts";
 * const facts = inspectTlsPair({
 *   cert: await Deno.readTextFile("cert.pem"),
 *   key: await Deno.readTextFile("key.pem"),
 * });
 * assert.deepEqual([facts.subject, facts.ca], ["CN=chat.example.org", false]);
 * ```
 */
export function inspectTlsPair(pair: { cert: string; key: string }): TlsCertificateFacts {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pair.cert);
  } catch (error) {
    throw new TlsPairError("certificate", `Cannot read the TLS certificate: ${reason(error)}`, {
      cause: error,
    });
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(pair.key);
  } catch (error) {
    throw new TlsPairError("key", `Cannot read the TLS private key: ${reason(error)}`, {
      cause: error,
    });
  }
  const subject = certificate.subject.split("\n").join(", ");
  if (!certificate.checkPrivateKey(key)) {
    throw new TlsPairError(
      "mismatch",
      `The TLS private key is not the key of the certificate ${subject}`,
    );
  }
  return { subject, ca: certificate.ca };
}

/**
 * The warning for a CA certificate given as the server's, with how to make
 * a leaf certificate instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { caCertificateWarning } from "./tls_certificate.ts";
 * assert.match(
 *   caCertificateWarning("CN=localhost"),
 *   /^The TLS certificate CN=localhost is a CA certificate \(basicConstraints CA:TRUE\)/,
 * );
 * ```
 */
export function caCertificateWarning(subject: string): string {
  return `The TLS certificate ${subject} is a CA certificate (basicConstraints CA:TRUE): ` +
    "chat join and other rustls clients refuse a CA certificate as a server's. Use a leaf " +
    "certificate (CA:FALSE) issued for this server; for a self-signed one, add " +
    "-addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth to " +
    "openssl req -x509 (see TLS in docs/operations.md)";
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
