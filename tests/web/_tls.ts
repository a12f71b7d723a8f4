/**
 * Test-only TLS material, made fresh by `openssl` for each test process: a
 * CA and a leaf certificate it signed for `127.0.0.1` and `localhost`
 * (P-256, valid 10 years). Nothing is committed; the keys live in a
 * temporary directory.
 *
 * @module
 */
import { join } from "node:path";

/** The files `testCerts` writes, by name. */
export interface TestCerts {
  /** The directory holding them (grant it with `--allow-read` / `allowRead`). */
  dir: string;
  /** The CA certificate, PEM: what a client trusts. */
  ca: string;
  /** The leaf certificate, PEM: `Deno.serve`'s `cert`. */
  cert: string;
  /** The leaf's private key, PEM (PKCS#8): `Deno.serve`'s `key`. */
  key: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  let out;
  try {
    out = await new Deno.Command("openssl", {
      args,
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new Error(
      `the TLS tests make their certificates with openssl, which did not run: ${e}`,
    );
  }
  if (out.code !== 0) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

let made: Promise<TestCerts> | undefined;

/** A test CA and a leaf for 127.0.0.1/localhost, made once per process. */
export function testCerts(): Promise<TestCerts> {
  return made ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "falco-deno-tls" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "3650",
      "-subj",
      "/CN=falco-deno test CA (test only)",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign",
    ], dir);
    await openssl([
      "req",
      ...ec,
      "-nodes",
      "-keyout",
      "key.pem",
      "-out",
      "leaf.csr",
      "-subj",
      "/CN=localhost",
    ], dir);
    await Deno.writeTextFile(
      join(dir, "leaf.ext"),
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "cert.pem",
      "-days",
      "3650",
      "-extfile",
      "leaf.ext",
    ], dir);
    const read = (f: string) => Deno.readTextFile(join(dir, f));
    return {
      dir,
      ca: await read("ca.pem"),
      cert: await read("cert.pem"),
      key: await read("key.pem"),
    };
  })();
}
