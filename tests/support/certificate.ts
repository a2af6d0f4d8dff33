/**
 * A self-signed certificate for localhost made by `openssl req -x509` in a
 * temporary directory, for TLS tests.
 *
 * @module
 */

/** PEM files of a certificate for localhost and 127.0.0.1, and its key. */
export interface TestCertificate extends AsyncDisposable {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * Runs openssl to make a fresh EC certificate valid for a day; remove it
 * with `await using`. With `ca`, the certificate is a CA certificate
 * (basicConstraints CA:TRUE, as `openssl req -x509` makes by default).
 */
export async function makeCertificate(options: { ca?: boolean } = {}): Promise<TestCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "chat-tls-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const { code, stderr } = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      // req -x509 makes a CA by default; rustls refuses a CA as a server's certificate.
      ...(options.ca
        ? ["-addext", "basicConstraints=critical,CA:TRUE"]
        : ["-addext", "basicConstraints=critical,CA:FALSE"]),
      "-addext",
      "extendedKeyUsage=serverAuth",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`openssl failed (${code}): ${new TextDecoder().decode(stderr)}`);
  }
  return {
    dir,
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The `chat serve` flags of a TLS listener on `port` (0: any free one) with `cert`. */
export function tlsFlags(cert: TestCertificate, port = 0): string[] {
  return ["--tls-cert", cert.certFile, "--tls-key", cert.keyFile, "--tls-port", String(port)];
}
