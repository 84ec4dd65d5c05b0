/**
 * Test certificates made with openssl: a CA, and a server certificate for
 * 127.0.0.1 that it signs (rustls refuses a CA as the server's own).
 */

/** PEM files in `dir`: ca.pem (a test CA) and cert.pem/key.pem for 127.0.0.1, signed by it. */
export interface TestCertificates {
  ca: string;
  cert: string;
  key: string;
}

async function openssl(dir: string, args: string): Promise<void> {
  const r = await new Deno.Command("openssl", {
    args: args.split(" "),
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`openssl ${args}: ${new TextDecoder().decode(r.stderr)}`);
}

/** Makes the three files in `dir`. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    dir,
    "req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.pem",
  );
  await openssl(
    dir,
    "req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out server.csr",
  );
  await openssl(
    dir,
    "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 " +
      "-extfile san.cnf -out cert.pem",
  );
  return { ca: `${dir}/ca.pem`, cert: `${dir}/cert.pem`, key: `${dir}/key.pem` };
}
