/**
 * lib/smtp.ts through the Notifier: the flags' validation, and delivery to
 * a real SMTP server (Debian's aiosmtpd) on 127.0.0.1: plain, opportunistic
 * and required STARTTLS, implicit TLS, AUTH, and each failure logged.
 */
import assert from "node:assert/strict";
import { CHECKS } from "../../checks/mod.ts";
import { UsageError } from "../../lib/errors.ts";
import { parseHttpokArgs } from "../../commands/httpok.ts";
import { Logger } from "../../lib/log.ts";
import { Notifier, parseNotifyOptions, type RestartReport } from "../../lib/notify.ts";
import { jobsFromRunConfig } from "../../lib/run_config.ts";
import { freePorts, waitFor } from "../support/supervisord.ts";
import { makeCertificates, type TestCertificates } from "../support/certs.ts";
import { SmtpServer } from "../support/smtp.ts";

const REPORT: RestartReport = {
  check: "web_check",
  process: "web:web_1",
  group: "web",
  name: "web_1",
  pid: 4242,
  reason: "http unhealthy: HTTP 500",
  time: "2024-05-01T12:00:00.000Z",
  host: "box1",
  outcome: "restarted",
  detail: "stopped, started",
};
const PASSWORD = "Zq7-correct-horse";

let certificates: { dir: string; files: TestCertificates } | undefined;
async function certs(): Promise<TestCertificates> {
  if (!certificates) {
    const dir = await Deno.makeTempDir({ prefix: "smtp-certs-" });
    certificates = { dir, files: await makeCertificates(dir) };
  }
  return certificates.files;
}

/** Mails REPORT with these flag values; returns the log lines. */
async function mail(values: Record<string, unknown>): Promise<string[]> {
  const lines: string[] = [];
  const logger = new Logger("test", "debug", (line) => lines.push(line));
  const notifier = new Notifier(
    parseNotifyOptions({ email: ["ops@example.com"], ...values }),
    logger,
  );
  await notifier.notify(REPORT);
  return lines;
}

function fails(values: Record<string, unknown>, pattern: RegExp) {
  assert.throws(() => parseNotifyOptions(values), (e) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("smtp flags: defaults, and every bad value names its flag", async () => {
  const { smtp } = parseNotifyOptions({ smtp_host: "mail.example.com" });
  assert.equal(smtp?.host, "mail.example.com");
  assert.equal(smtp?.port, 25);
  assert.equal(smtp?.tls, "auto");
  assert.equal(smtp?.timeoutMs, 10_000);
  assert.match(smtp?.from ?? "", /^supervisor-checks@/);
  assert.equal(parseNotifyOptions({ smtp_host: "m.example", smtp_tls: "tls" }).smtp?.port, 465);
  assert.equal(parseNotifyOptions({ smtp_host: "m.example:587" }).smtp?.port, 587);
  assert.equal(parseNotifyOptions({ smtp_host: "m.example", smtp_port: "2525" }).smtp?.port, 2525);
  const v6 = parseNotifyOptions({ smtp_host: "[::1]:2525" }).smtp;
  assert.deepEqual([v6?.host, v6?.port], ["::1", 2525]);
  assert.equal(parseNotifyOptions({}).smtp, undefined);

  fails({ smtp_host: "m.example:99999" }, /^--smtp-host: '99999' is not a port/);
  fails({ smtp_host: "m.example:x" }, /^--smtp-host: 'x' is not a port/);
  fails({ smtp_host: "a b" }, /^--smtp-host: 'a b' is not a host name/);
  fails({ smtp_host: "::1" }, /^--smtp-host: .*\[addr\]/);
  fails({ smtp_host: "" }, /^--smtp-host: must not be empty/);
  fails({ smtp_host: "m:25", smtp_port: "26" }, /^--smtp-port: the port is in --smtp-host/);
  fails({ smtp_host: "m", smtp_port: "0" }, /^--smtp-port: '0' is not a port/);
  fails({ smtp_host: "m", smtp_tls: "ssl" }, /^--smtp-tls: 'ssl' is not one of auto, starttls/);
  fails({ smtp_tls: "tls" }, /^--smtp-tls: needs --smtp-host/);
  fails({ smtp_host: "m", smtp_user: "u" }, /^--smtp-user: needs a password/);
  fails({ smtp_host: "m", smtp_password_env: "HOME" }, /^--smtp-password-env: needs --smtp-user/);
  fails(
    { smtp_host: "m", smtp_user: "u", smtp_password_env: "SC_TEST_NO_SUCH_VAR" },
    /^--smtp-password-env: environment variable SC_TEST_NO_SUCH_VAR is not set/,
  );
  fails(
    { smtp_host: "m", smtp_user: "u", smtp_password_file: "/nonexistent/pw" },
    /^--smtp-password-file: cannot read \/nonexistent\/pw/,
  );
  fails(
    { smtp_host: "m", smtp_user: "u", smtp_password_env: "HOME", smtp_password_file: "/x" },
    /^--smtp-password-file: give only one of --smtp-password-env, --smtp-password-file/,
  );
  fails({ smtp_host: "m", smtp_from: "nobody" }, /^--smtp-from: 'nobody' is not a mail address/);
  fails({ smtp_host: "m", smtp_timeout: "0" }, /^--smtp-timeout: must be greater than 0/);
  fails({ smtp_host: "m", smtp_timeout: "0.00001" }, /^--smtp-timeout: must be at least 0\.001/);
  fails({ smtp_host: "m", smtp_timeout: "99999999" }, /^--smtp-timeout: must be at most 604800/);
  fails({ smtp_host: "m", smtp_ca_file: "/nonexistent/ca" }, /^--smtp-ca-file: cannot read/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/notpem`, "hello\n");
    fails({ smtp_host: "m", smtp_ca_file: `${dir}/notpem` }, /^--smtp-ca-file: .* holds no PEM/);
    await Deno.writeTextFile(
      `${dir}/bad.pem`,
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    fails({ smtp_host: "m", smtp_ca_file: `${dir}/bad.pem` }, /^--smtp-ca-file: .*bad\.pem: /);
    const ca = (await certs()).ca;
    assert.ok(parseNotifyOptions({ smtp_host: "m", smtp_ca_file: ca }).smtp?.ca);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("smtp keys in run --config: numbers accepted, errors name the entry", () => {
  const config = (extra: Record<string, unknown>) => ({
    smtp_host: "127.0.0.1",
    smtp_port: 2525,
    checks: [{ name: "web", group: "web", tcp: { port: 80 }, smtp_timeout: 3, ...extra }],
  });
  const [job] = jobsFromRunConfig(config({}), Object.values(CHECKS), "x.yaml");
  assert.equal(job.settings.notify.smtp?.port, 2525);
  assert.equal(job.settings.notify.smtp?.timeoutMs, 3000);
  assert.throws(
    () => jobsFromRunConfig(config({ smtp_tls: "ssl" }), Object.values(CHECKS), "x.yaml"),
    /: x\.yaml: checks\[0\]\.smtp_tls: 'ssl' is not one of/,
  );
});

Deno.test("smtp flags in httpok, with its own -m", () => {
  const config = parseHttpokArgs([
    "-m",
    "ops@example.com",
    "--smtp-host",
    "mail.example.com:587",
    "--smtp-tls=starttls",
    "http://127.0.0.1:8080/",
  ]);
  assert.ok(config !== "help");
  assert.deepEqual(config.notify.email, ["ops@example.com"]);
  assert.deepEqual([config.notify.smtp?.host, config.notify.smtp?.port], ["mail.example.com", 587]);
  assert.throws(
    () => parseHttpokArgs(["--smtp-port", "25", "http://127.0.0.1:8080/"]),
    /--smtp-port: needs --smtp-host/,
  );
});

Deno.test("smtp: plain delivery, the same message as sendmail gets plus From and Date", async () => {
  const [port] = freePorts(1);
  await using server = await SmtpServer.start({ port });
  const lines = await mail({ smtp_host: `127.0.0.1:${port}`, smtp_from: "sc@example.com" });
  assert.match(lines.join("\n"), /mailed "supervisor-checks \[web_check\]: web:web_1 restarted"/);
  const [received] = await server.messages();
  assert.equal(received.mail_from, "sc@example.com");
  assert.deepEqual(received.rcpt_tos, ["ops@example.com"]);
  assert.equal(received.tls, false);
  const data = received.data.replaceAll("\r\n", "\n");
  assert.match(data, /^From: sc@example\.com\nDate: \w{3}, \d\d \w{3} \d{4} [\d:]{8} \+0000\nTo:/);
  assert.match(data, /^Subject: supervisor-checks \[web_check\]: web:web_1 restarted$/m);
  assert.match(data, /\n\ncheck: {3}web_check\nprocess: web:web_1\n/);
  assert.match(data, /^detail: {2}stopped, started$/m);
});

Deno.test("smtp: a recipient refused while others get it is logged, not lost", async () => {
  const [port] = freePorts(1);
  await using server = await SmtpServer.start({ port });
  const lines = await mail({
    email: ["ops@example.com", "nobody@example.com"],
    smtp_host: `127.0.0.1:${port}`,
  });
  assert.match(
    lines.join("\n"),
    /ERROR .*not sent: smtp:.*: refused for nobody@example\.com \(550 5\.1\.1 no such user\); accepted for ops@example\.com/,
  );
  assert.deepEqual((await server.messages())[0].rcpt_tos, ["ops@example.com"]);
});

Deno.test("smtp: auto uses STARTTLS when offered, any certificate; starttls checks it", async () => {
  const [port] = freePorts(1);
  const c = await certs();
  await using server = await SmtpServer.start({ port, starttls: c });
  const host = `127.0.0.1:${port}`;
  await mail({ smtp_host: host });
  const [first] = await server.messages();
  assert.equal(first.tls, true, "opportunistic STARTTLS");

  const plain = await mail({ smtp_host: host, smtp_tls: "none" });
  assert.match(plain.join("\n"), /ERROR .*not sent: smtp:.*\(none\): .*STARTTLS/, "none: no TLS");
  const unverified = await mail({ smtp_host: host, smtp_tls: "starttls" });
  assert.match(
    unverified.join("\n"),
    /ERROR .*mail to ops@example\.com not sent: smtp:\/\/127\.0\.0\.1:\d+ \(starttls\): .*certificate/,
  );
  await mail({ smtp_host: host, smtp_tls: "starttls", smtp_ca_file: c.ca });
  const all = await server.messages();
  assert.equal(all.length, 2, "the unverified attempt delivered nothing");
  assert.equal(all[1].tls, true);
});

Deno.test("smtp: STARTTLS and AUTH; a wrong password is logged, never shown", async () => {
  // guarantee: Mail over SMTP
  const [port] = freePorts(1);
  const c = await certs();
  await using server = await SmtpServer.start({ port, starttls: c, auth: ["alice", PASSWORD] });
  Deno.env.set("SC_TEST_SMTP_PASSWORD", PASSWORD);
  Deno.env.set("SC_TEST_SMTP_WRONG", `${PASSWORD}-not`);
  try {
    const flags = { smtp_host: `127.0.0.1:${port}`, smtp_user: "alice", smtp_ca_file: c.ca };
    const ok = await mail({ ...flags, smtp_password_env: "SC_TEST_SMTP_PASSWORD" });
    assert.match(ok.join("\n"), /INFO .*mailed "/);
    const [received] = await server.messages();
    assert.equal(received.login, "alice");
    assert.equal(received.tls, true, "auto with a user means STARTTLS");

    const wrong = (await mail({ ...flags, smtp_password_env: "SC_TEST_SMTP_WRONG" })).join("\n");
    assert.match(
      wrong,
      /ERROR .*mail to ops@example\.com not sent: smtp:\/\/127\.0\.0\.1:\d+ \(auto, as alice\): .*535/,
    );
    assert.ok(!wrong.includes(PASSWORD), wrong);
    assert.equal((await server.messages()).length, 1);
  } finally {
    Deno.env.delete("SC_TEST_SMTP_PASSWORD");
    Deno.env.delete("SC_TEST_SMTP_WRONG");
  }
});

Deno.test("smtp: credentials never go over a plain connection unless --smtp-tls none", async () => {
  // guarantee: Mail over SMTP
  const [port] = freePorts(1);
  const dir = await Deno.makeTempDir();
  await using server = await SmtpServer.start({ port, auth: ["alice", PASSWORD] });
  try {
    await Deno.writeTextFile(`${dir}/pw`, `${PASSWORD}\n`);
    const flags = {
      smtp_host: `127.0.0.1:${port}`,
      smtp_user: "alice",
      smtp_password_file: `${dir}/pw`,
    };
    const refused = (await mail(flags)).join("\n");
    assert.match(refused, /ERROR .*not sent: .*STARTTLS/);
    assert.equal((await server.messages()).length, 0);
    await mail({ ...flags, smtp_tls: "none" });
    const [received] = await server.messages();
    assert.deepEqual([received.login, received.tls], ["alice", false]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("smtp: implicit TLS with --smtp-tls tls", async () => {
  const [port] = freePorts(1);
  const c = await certs();
  await using server = await SmtpServer.start({ port, smtps: c });
  const lines = await mail({ smtp_host: `127.0.0.1:${port}`, smtp_tls: "tls", smtp_ca_file: c.ca });
  assert.match(lines.join("\n"), /mailed "/);
  assert.equal((await server.messages())[0].tls, true);
});

Deno.test("smtp: no server, or one that never finishes answering: logged, within the timeout", async () => {
  // guarantee: Mail over SMTP
  const [down] = freePorts(1);
  const refused = (await mail({ smtp_host: `127.0.0.1:${down}` })).join("\n");
  assert.match(refused, /ERROR .*mail to ops@example\.com not sent: smtp:.*ECONNREFUSED/);

  // greets, then answers EHLO with a reply that never ends: a line every 100 ms (at most 100),
  // so no inactivity timeout fires and only the delivery's own deadline can end it
  const slow = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let linesSent = 0;
  const serving = (async () => {
    for await (const conn of slow) {
      conns.push(conn);
      const say = (text: string) => conn.write(new TextEncoder().encode(text));
      await say("220 slow.example ESMTP\r\n");
      await conn.read(new Uint8Array(512));
      for (; linesSent < 100; linesSent++) {
        await say("250-still thinking\r\n");
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })().catch(() => {}); // the client hung up: writing fails
  try {
    const lines = await mail({ smtp_host: `127.0.0.1:${slow.addr.port}`, smtp_timeout: "0.5" });
    assert.match(lines.join("\n"), /ERROR .*not sent: .*no complete answer within 0\.5s/);
    await waitFor("the client to hang up", () => conns[0]?.read(new Uint8Array(512)) ?? false);
    // (the read sees the hang-up) before the server had said all it would
    assert.ok(linesSent < 100, `the client hung up only after ${linesSent} lines`);
  } finally {
    slow.close();
    for (const conn of conns) conn.close();
    await serving;
  }
});

Deno.test({
  name: "smtp: remove the test certificates",
  fn: async () => {
    if (certificates) await Deno.remove(certificates.dir, { recursive: true });
  },
});
