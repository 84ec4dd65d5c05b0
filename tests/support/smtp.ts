/**
 * A real SMTP server (Debian's aiosmtpd, tests/fixtures/smtp_server.py) on
 * 127.0.0.1, saving what it receives.
 */
import type { TestCertificates } from "./certs.ts";
import { REPO, waitFor } from "./supervisord.ts";

/** One message as the server received it. */
export interface ReceivedMail {
  mail_from: string;
  rcpt_tos: string[];
  /** The message as sent, CRLF line ends. */
  data: string;
  /** The session was encrypted (STARTTLS or implicit TLS). */
  tls: boolean;
  /** The user that logged in, if any. */
  login: string | null;
}

export interface SmtpServerOptions {
  port: number;
  /** Offer STARTTLS with this certificate and refuse mail without it. */
  starttls?: TestCertificates;
  /** Implicit TLS with this certificate. */
  smtps?: TestCertificates;
  /** Require AUTH with this user and password. */
  auth?: [string, string];
}

export class SmtpServer implements AsyncDisposable {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private child: Deno.ChildProcess,
    private stdout: ReadableStreamDefaultReader<string>,
  ) {}

  static async start(options: SmtpServerOptions): Promise<SmtpServer> {
    const dir = await Deno.makeTempDir({ prefix: "smtp-" });
    const tls = (flag: string, c?: TestCertificates) => c ? [flag, c.cert, c.key] : [];
    const child = new Deno.Command("/usr/bin/python3", {
      args: [
        `${REPO}tests/fixtures/smtp_server.py`,
        String(options.port),
        dir,
        ...tls("--starttls", options.starttls),
        ...tls("--smtps", options.smtps),
        ...(options.auth ? ["--auth", ...options.auth] : []),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const server = new SmtpServer(dir, options.port, child, reader);
    let said = "";
    while (!said.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) {
        await server.stop();
        throw new Error(`the SMTP server did not start: ${said}`);
      }
      said += value;
    }
    return server;
  }

  /** Every message received so far, in order. */
  async messages(): Promise<ReceivedMail[]> {
    const names: string[] = [];
    for await (const e of Deno.readDir(this.dir)) {
      if (e.name.endsWith(".json")) names.push(e.name);
    }
    names.sort((a, b) => parseInt(a) - parseInt(b));
    return await Promise.all(
      names.map(async (n) => JSON.parse(await Deno.readTextFile(`${this.dir}/${n}`))),
    );
  }

  /** The `n`th message (1-based), once it has arrived. */
  async waitMessage(n = 1): Promise<ReceivedMail> {
    return await waitFor(
      `mail #${n} at the SMTP server`,
      async () => (await this.messages())[n - 1],
    );
  }

  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone already */ }
    await this.stdout.cancel().catch(() => {});
    await this.child.status;
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}
