/**
 * lib/notify.ts: mail through a fake sendmail script, webhooks through a
 * local receiver, and failures of both (logged, never thrown).
 */
import assert from "node:assert/strict";
import { UsageError } from "../../lib/errors.ts";
import { Logger } from "../../lib/log.ts";
import {
  DEFAULT_SENDMAIL,
  mailMessage,
  Notifier,
  parseNotifyOptions,
  reportBody,
  type RestartReport,
  webhookPayload,
} from "../../lib/notify.ts";
import { SUBJECT_CHARS, TEXT_CHARS } from "../../lib/redact.ts";
import { waitFor } from "../support/supervisord.ts";

const REPORT: RestartReport = {
  check: "web_check",
  process: "web:web_1",
  group: "web",
  name: "web_1",
  pid: 4242,
  reason: "http unhealthy: GET http://127.0.0.1:8080/ping: HTTP 500",
  time: "2024-05-01T12:00:00.000Z",
  host: "box1",
  outcome: "restarted",
  detail: "stopped, started",
};

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger("test", "debug", (line) => lines.push(line)), lines };
}

/** A temp dir with an executable shell script `name`; removed by the returned dispose. */
async function script(body: string): Promise<{ dir: string; path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "notify-test-" });
  const path = `${dir}/fake`;
  await Deno.writeTextFile(path, `#!/bin/sh\n${body}\n`);
  await Deno.chmod(path, 0o755);
  return {
    dir,
    path,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A local receiver on 127.0.0.1 collecting what is POSTed to it. */
function receiver(status = 200) {
  const received: { contentType: string | null; body: string; path: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      received.push({
        contentType: req.headers.get("content-type"),
        body: await req.text(),
        path: new URL(req.url).pathname,
      });
      return new Response("ok", { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Whether a pid runs (a zombie, killed but not reaped yet, does not). */
async function alive(pid: string): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** A port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("parseNotifyOptions validates and names the flag", () => {
  assert.deepEqual(parseNotifyOptions({}), {
    email: [],
    sendmail: DEFAULT_SENDMAIL,
    webhook: [],
  });
  assert.deepEqual(
    parseNotifyOptions({
      email: ["ops@example.com", "a.b+c@mail.example.org"],
      sendmail_program: "/usr/bin/msmtp -t",
      webhook: "https://hooks.example.com/x",
    }),
    {
      email: ["ops@example.com", "a.b+c@mail.example.org"],
      sendmail: "/usr/bin/msmtp -t",
      webhook: ["https://hooks.example.com/x"],
    },
  );
  const fails = (values: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(() => parseNotifyOptions(values), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, pattern);
      return true;
    });
  fails({ email: ["ops"] }, /^--email: 'ops' is not a mail address/);
  fails({ email: ["a@b.com, c@d.com"] }, /^--email: .*one address per flag/);
  fails({ email: ["a@b.com\nBcc: x@y.z"] }, /^--email: /);
  fails({ webhook: ["ftp://example.com/"] }, /^--webhook: 'ftp:\/\/example.com\/' is not an http/);
  fails({ webhook: ["not a url"] }, /^--webhook: /);
  fails({ sendmail_program: "sendmail 'oops" }, /^--sendmail_program: unterminated '/);
});

Deno.test("mailMessage: To, Subject, MIME headers, blank line, body", () => {
  const message = mailMessage(["a@example.com", "b@example.com"], "x\r\nBcc: evil@x", "hi");
  const [head, body] = message.split("\n\n");
  assert.deepEqual(head.split("\n"), [
    "To: a@example.com, b@example.com",
    "Subject: x\\r\\nBcc: evil@x",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
  ]);
  assert.equal(body, "hi\n");
  assert.match(
    mailMessage(["a@example.com"], "größe", "b"),
    /^Subject: =\?UTF-8\?B\?Z3LDtsOfZQ==\?=$/m,
  );
});

Deno.test("notify pipes the report to the sendmail command's stdin", async () => {
  await using fake = await script(
    `printf '%s\\n' "$@" > "$(dirname "$0")/args"; cat > "$(dirname "$0")/mail"`,
  );
  const { logger, lines } = capture();
  const notifier = new Notifier(
    { email: ["ops@example.com"], sendmail: `'${fake.path}' -t -i` },
    logger,
  );
  await notifier.notify(REPORT);
  assert.equal(await Deno.readTextFile(`${fake.dir}/args`), "-t\n-i\n");
  const mail = await Deno.readTextFile(`${fake.dir}/mail`);
  const [head, body] = mail.split("\n\n");
  assert.match(head, /^To: ops@example.com$/m);
  assert.match(head, /^Subject: supervisor-checks \[web_check\]: web:web_1 restarted$/m);
  assert.match(body, /^process: web:web_1$/m);
  assert.match(body, /^pid: +4242$/m);
  assert.match(body, /^reason: +http unhealthy: GET http:\/\/127.0.0.1:8080\/ping: HTTP 500$/m);
  assert.match(body, /^outcome: +restarted$/m);
  assert.match(body, /^detail: +stopped, started$/m);
  assert.match(
    lines.join(""),
    /INFO \[test\] web:web_1 \(pid 4242\): mailed .* to ops@example.com/,
  );
});

Deno.test("a custom subject and a multi-recipient Notification", async () => {
  await using fake = await script(`cat > "$(dirname "$0")/mail"`);
  const { logger } = capture();
  const notifier = new Notifier({
    email: ["a@example.com", "b@example.com"],
    sendmail: fake.path,
    subject: (r) => `restart of ${r.process}`,
  }, logger);
  await notifier.notify(REPORT);
  assert.match(await Deno.readTextFile(`${fake.dir}/mail`), /^Subject: restart of web:web_1$/m);
  await notifier.send({ subject: "httpok: x", body: "line 1\nline 2", reports: [] });
  const mail = await Deno.readTextFile(`${fake.dir}/mail`);
  assert.match(mail, /^To: a@example.com, b@example.com$/m);
  assert.match(mail, /^Subject: httpok: x$/m);
  assert.ok(mail.endsWith("\n\nline 1\nline 2\n"));
});

Deno.test("a failing sendmail is logged with its status and stderr, never thrown", async () => {
  await using fake = await script(`cat > /dev/null; echo "no relay host" >&2; exit 1`);
  const { logger, lines } = capture();
  const notifier = new Notifier({ email: ["ops@example.com"], sendmail: fake.path }, logger);
  await notifier.notify(REPORT);
  assert.match(
    lines.join(""),
    /ERROR \[test\] web:web_1 \(pid 4242\): mail to ops@example.com not sent: .*fake exit status 1: no relay host/,
  );
});

Deno.test("a missing sendmail program is logged, never thrown", async () => {
  const { logger, lines } = capture();
  const notifier = new Notifier(
    { email: ["ops@example.com"], sendmail: "/nonexistent/sendmail -t" },
    logger,
  );
  await notifier.notify(REPORT);
  assert.match(lines.join(""), /not sent: \/nonexistent\/sendmail could not start: /);
});

Deno.test("a hanging sendmail is killed at the timeout, with what it started; the caller goes on meanwhile", async () => {
  await using fake = await script(
    `sleep 60 & echo $! > "$(dirname "$0")/child"; wait`,
  );
  const { logger, lines } = capture();
  const notifier = new Notifier(
    // long enough for the mailer to start on a loaded machine before the timeout hits
    { email: ["ops@example.com"], sendmail: fake.path, timeoutMs: 3_000 },
    logger,
  );
  let settled = false;
  const sending = notifier.notify(REPORT).then(() => void (settled = true));
  // the caller has control back while the mailer hangs
  const child = await waitFor(
    "the mailer to start",
    async () => {
      const pid = (await Deno.readTextFile(`${fake.dir}/child`).catch(() => "")).trim();
      return pid !== "" && pid;
    },
    10_000,
    20,
  );
  assert.equal(settled, false, "still sending while the caller goes on");
  await notifier.flush();
  await sending;
  assert.match(
    lines.join(""),
    /mail to ops@example.com not sent: .* timed out after 3s \(killed\)/,
  );
  // the background sleep was in the killed process group
  assert.equal(await alive(child), false);
});

Deno.test("the webhook receives the report as JSON", async () => {
  await using hook = receiver();
  const { logger, lines } = capture();
  const notifier = new Notifier({ webhook: [`${hook.url}/hooks/secret-token`] }, logger);
  await notifier.notify(REPORT);
  assert.equal(hook.received.length, 1);
  const [{ contentType, body, path }] = hook.received;
  assert.equal(path, "/hooks/secret-token");
  assert.equal(contentType, "application/json");
  assert.deepEqual(JSON.parse(body), REPORT);
  assert.match(lines.join(""), /webhook http:\/\/127.0.0.1:\d+\/…: HTTP 200/);
  assert.doesNotMatch(lines.join(""), /secret-token/);
});

Deno.test("send POSTs every report to every webhook", async () => {
  await using a = receiver();
  await using b = receiver();
  const { logger } = capture();
  const notifier = new Notifier({ webhook: [a.url, b.url] }, logger);
  const other = { ...REPORT, process: "web:web_2", name: "web_2", outcome: "not-found", pid: 0 };
  await notifier.send({ subject: "s", body: "b", reports: [REPORT, other] });
  for (const hook of [a, b]) {
    assert.deepEqual(
      hook.received.map((r) => JSON.parse(r.body).process).sort(),
      ["web:web_1", "web:web_2"],
    );
  }
});

Deno.test("webhook failures are logged without the URL's path, never thrown", async () => {
  await using refusing = receiver(503);
  const { logger, lines } = capture();
  const port = closedPort();
  const notifier = new Notifier({
    webhook: [`http://127.0.0.1:${port}/token-1`, `${refusing.url}/token-2?key=token-3`],
  }, logger);
  void notifier.notify(REPORT);
  await notifier.flush();
  const log = lines.join("");
  assert.match(
    log,
    new RegExp(`webhook http://127.0.0.1:${port}/… not reached: connection refused`),
  );
  assert.match(log, /webhook http:\/\/127.0.0.1:\d+\/… refused the report: HTTP 503/);
  assert.doesNotMatch(log, /token/);
});

Deno.test("a webhook that does not answer is given up at the timeout", async () => {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    await released;
    return new Response("late");
  });
  try {
    const { logger, lines } = capture();
    const notifier = new Notifier({
      webhook: [`http://127.0.0.1:${server.addr.port}/`],
      timeoutMs: 500,
    }, logger);
    await notifier.notify(REPORT);
    assert.match(lines.join(""), /not reached: no answer within 0.5s/);
  } finally {
    release();
    await server.shutdown();
  }
});

Deno.test("nothing configured: nothing sent, nothing logged", async () => {
  const { logger, lines } = capture();
  const notifier = new Notifier({}, logger);
  assert.equal(notifier.enabled, false);
  assert.equal(notifier.describe(), "no notifications");
  await notifier.notify(REPORT);
  assert.deepEqual(lines, []);
});

Deno.test("webhook URLs come from --webhook, --webhook-env and --webhook-file", async () => {
  const dir = await Deno.makeTempDir();
  Deno.env.set("SC_TEST_HOOK", "https://hooks.example.com/from-env");
  try {
    await Deno.writeTextFile(`${dir}/hook`, "https://hooks.example.com/from-file\n");
    assert.deepEqual(
      parseNotifyOptions({
        webhook: ["https://hooks.example.com/inline"],
        webhook_env: ["SC_TEST_HOOK"],
        webhook_file: [`${dir}/hook`],
      }).webhook,
      [
        "https://hooks.example.com/inline",
        "https://hooks.example.com/from-env",
        "https://hooks.example.com/from-file",
      ],
    );
    const fails = (values: Record<string, unknown>, pattern: RegExp) =>
      assert.throws(() => parseNotifyOptions(values), (e) => {
        assert.ok(e instanceof UsageError);
        assert.match(e.message, pattern);
        return true;
      });
    fails({ webhook_env: ["SC_TEST_NO_SUCH"] }, /^--webhook-env: .*SC_TEST_NO_SUCH is not set/);
    fails({ webhook_file: [`${dir}/none`] }, /^--webhook-file: cannot read/);
    Deno.env.set("SC_TEST_HOOK", "ftp://secret-token@x/");
    fails(
      { webhook_env: ["SC_TEST_HOOK"] },
      /^--webhook-env: the URL in SC_TEST_HOOK is not an http/,
    );
    assert.throws(
      () => parseNotifyOptions({ webhook: ["ftp://u:hunter2@x/"] }),
      (e) => !(e as Error).message.includes("hunter2"),
    );
  } finally {
    Deno.env.delete("SC_TEST_HOOK");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mail and webhook: outside text is masked, escaped and cut", () => {
  const reason = "fault: \x1b[31mboom\n2026-11-21T06:45:54.462Z ERROR forged " +
    "http://monitor:hunter2@127.0.0.1/ " + "x".repeat(1_000_000);
  const report = { ...REPORT, reason, detail: "gcore:\nline two" };
  const body = reportBody(report);
  assert.ok(!body.includes("hunter2") && !body.includes("\x1b"));
  assert.ok(body.split("\n").every((line) => line.length <= TEXT_CHARS + 9), "lines cut");
  assert.ok(!body.split("\n").some((line) => line.startsWith("2026-")), "no forged line");
  assert.match(body, /^detail: +gcore:\\nline two$/m);
  const mail = mailMessage(["a@example.com"], `subject ${reason}`, `first\n${reason}`);
  assert.ok(!mail.includes("hunter2") && !mail.includes("\x1b"));
  assert.ok(mail.split("\n").every((line) => line.length <= TEXT_CHARS));
  const subject = mail.split("\n").find((line) => line.startsWith("Subject: "))!;
  assert.ok(subject.length <= "Subject: ".length + SUBJECT_CHARS, subject);
  const json = webhookPayload(report);
  const parsed = JSON.parse(json);
  assert.ok(!json.includes("hunter2") && !parsed.reason.includes("\n"));
  assert.ok(parsed.reason.length <= TEXT_CHARS);
  assert.match(parsed.reason, /\[cut: \d+ characters in all\]$/);
});
