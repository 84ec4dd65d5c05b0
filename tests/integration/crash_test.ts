/**
 * superlance's crash and fatal alerts under a real supervisord: crashmail
 * through a -s sendmail script (the original's subject and body, the exit
 * status and stderr tail added, the rate limit); crashmailbatch and
 * fatalmailbatch to a real SMTP server (aiosmtpd), STARTTLS and AUTH
 * included; a BACKOFF loop; a batch the server could not take, sent again
 * with the next interval.
 */
import assert from "node:assert/strict";
import { makeCertificates } from "../support/certs.ts";
import { SmtpServer } from "../support/smtp.ts";
import {
  countMatches,
  DENO,
  freePorts,
  listenerSection,
  RUN_MAIN,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

/** A sendmail stand-in filing each message it reads as DIR/mail/N.eml. */
async function sendmailScript(dir: string): Promise<string> {
  await Deno.mkdir(`${dir}/mail`);
  const path = `${dir}/sendmail.sh`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\ncat > "${dir}/mail/.$$"\nmv "${dir}/mail/.$$" "${dir}/mail/$$.eml"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

async function mails(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const e of Deno.readDir(`${dir}/mail`)) {
    if (e.name.endsWith(".eml")) found.push(await Deno.readTextFile(`${dir}/mail/${e.name}`));
  }
  return found;
}

/** A program that writes to stderr, runs `seconds`, then exits with `status`. */
function crasher(name: string, seconds: number, status: number, extra = ""): string {
  return `[program:${name}]
command=/bin/sh -c 'echo "starting up" >&2; echo "fatal: disk on fire, token=abc" >&2; printf "bell\\a\\n" >&2; sleep ${seconds}; exit ${status}'
startsecs=0
autorestart=false
stderr_logfile=%(here)s/${name}.stderr.log
${extra}
`;
}

/** A batch program sending to the SMTP server on `smtpPort` at every TICK_5. */
function batchArgs(program: string, smtpPort: number, ...extra: string[]): string[] {
  return [
    program,
    "-t",
    "ops@example.com",
    "-f",
    "alerts@example.com",
    "-H",
    `127.0.0.1:${smtpPort}`,
    "-e",
    "TICK_5",
    "-i",
    "0.05",
    ...extra,
  ];
}

const ASCTIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}`;

Deno.test("crashmail: an unexpected exit is mailed with the original's subject and body, its exit status and stderr tail; others are not", async () => {
  // guarantee: Crash and fatal alerts
  await using sv = await Supervisord.start({
    sections: (dir) =>
      crasher("ignored", 0.2, 1) + crasher("web", 2, 3) +
      crasher("clean", 0.1, 0) +
      listenerSection(
        "crashmail",
        [
          "crashmail",
          "-p",
          "web",
          "-p",
          "clean",
          "-o",
          "[prod]",
          "-m",
          "ops@example.com",
          "-s",
          `${dir}/sendmail.sh`,
        ],
        dir,
        "events=PROCESS_STATE_EXITED",
      ),
  });
  await sendmailScript(sv.dir);
  const [mail] = await waitFor("crashmail's mail", async () => {
    const m = await mails(sv.dir);
    return m.length ? m : undefined;
  });
  assert.match(mail, /^To: ops@example\.com$/m);
  assert.match(mail, new RegExp(`^Subject: \\[prod\\]: web crashed at ${ASCTIME}$`, "m"));
  assert.match(
    mail,
    /^Process web in group web exited unexpectedly \(pid \d+\) from state RUNNING$/m,
  );
  assert.match(mail, /^exit: exit status 3$/m);
  assert.match(mail, /^ {2}\| starting up$/m);
  // escaped, and the secret masked
  assert.match(mail, /^ {2}\| fatal: disk on fire, token=\*{8}$/m);
  assert.match(mail, /^ {2}\| bell\\x07$/m);
  const log = await sv.waitLog("crashmail", /mailed " web crashed|mailed "\[prod\]: web crashed/);
  // 'ignored' crashed first and 'clean' exited with 0: neither is mailed
  assert.equal((await mails(sv.dir)).length, 1);
  assert.doesNotMatch(log, /ignored/);
});

Deno.test("crashmail: past --max-mails-per-minute each crash is logged as not mailed, one line each", async () => {
  // guarantee: Crash and fatal alerts
  await using sv = await Supervisord.start({
    sections: (dir) =>
      crasher("burst", 1, 2, "numprocs=4\nprocess_name=%(program_name)s_%(process_num)d") +
      listenerSection(
        "crashmail",
        [
          "crashmail",
          "-a",
          "-m",
          "ops@example.com",
          "-s",
          `${dir}/sendmail.sh`,
          "--max-mails-per-minute",
          "1",
          "--stderr-lines",
          "0",
        ],
        dir,
        "events=PROCESS_STATE_EXITED",
      ),
  });
  await sendmailScript(sv.dir);
  const log = await sv.waitLog(
    "crashmail",
    /(NOT mailed \(rate limit[^\n]*\n(.|\n)*){3}/,
  );
  assert.match(
    log,
    /rate limit: 1 in the last 60s, --max-mails-per-minute 1; 3 not mailed since the last mail/,
  );
  await sv.waitLog("crashmail", /mailed " burst_\d crashed at/);
  assert.equal((await mails(sv.dir)).length, 1);
  assert.equal(countMatches(log, /exited unexpectedly \(pid \d+\) from state RUNNING, mailing/), 1);
});

Deno.test("crashmailbatch: several crashes in one message over STARTTLS with AUTH, the original's subject and lines", async () => {
  // guarantee: Crash and fatal alerts
  const [smtpPort] = freePorts(1);
  const certDir = await Deno.makeTempDir({ prefix: "crash-certs-" });
  try {
    const certs = await makeCertificates(certDir);
    await using server = await SmtpServer.start({
      port: smtpPort,
      starttls: certs,
      auth: ["alice", "Zq7-horse"],
    });
    await using _sv = await Supervisord.start({
      sections: (dir) =>
        crasher("c", 1, 1, "numprocs=3\nprocess_name=%(program_name)s_%(process_num)d") +
        listenerSection(
          "batch",
          [
            "crashmailbatch",
            "--toEmail",
            "ops@example.com, dev@example.com",
            "--fromEmail",
            "alerts@example.com",
            "--smtpHost",
            `127.0.0.1:${smtpPort}`,
            "--tls",
            "--smtp-ca-file",
            certs.ca,
            "-u",
            "alice",
            "--password-env",
            "SMTP_PASSWORD",
            "--tickEvent",
            "TICK_5",
            "--interval",
            "0.05",
          ],
          dir,
          `events=PROCESS_STATE,TICK_5\nenvironment=SMTP_PASSWORD="Zq7-horse"`,
        ),
    });
    const line = (n: number) =>
      new RegExp(`^${ASCTIME} -- Process c:c_${n} \\(pid \\d+\\) died unexpectedly\\r$`, "m");
    const all = await waitFor("the three crashes at the SMTP server", async () => {
      const got = await server.messages();
      const text = got.map((m) => m.data).join("\n");
      return [0, 1, 2].every((n) => line(n).test(text)) ? got : undefined;
    }, 40_000);
    // they crashed at once: at least two in one message (all three unless a TICK fell between)
    assert.ok(all.length <= 2, `${all.length} messages`);
    const mail = all[0];
    assert.equal(mail.tls, true);
    assert.equal(mail.login, "alice");
    assert.equal(mail.mail_from, "alerts@example.com");
    assert.deepEqual(mail.rcpt_tos, ["ops@example.com", "dev@example.com"]);
    assert.match(mail.data, /^Subject: Crash alert from supervisord\r$/m);
    assert.match(mail.data, /^From: alerts@example\.com\r$/m);
    assert.match(mail.data, /^ {4}exit: exit status 1\r$/m);
    assert.match(mail.data, /^ {6}\| fatal: disk on fire, token=\*{8}\r$/m);
  } finally {
    await Deno.remove(certDir, { recursive: true });
  }
});

Deno.test("fatalmailbatch: a BACKOFF loop and the FATAL that ends it are in the batch, with supervisord's reason", async () => {
  // guarantee: Crash and fatal alerts
  const [smtpPort] = freePorts(1);
  await using server = await SmtpServer.start({ port: smtpPort });
  await using _sv = await Supervisord.start({
    sections: (dir) =>
      `[program:doomed]
command=/bin/sh -c 'echo "cannot bind port 80" >&2; exit 1'
startsecs=1
startretries=2
autorestart=true
stderr_logfile=%(here)s/doomed.stderr.log
` +
      listenerSection(
        "fatal",
        batchArgs("fatalmailbatch", smtpPort, "--backoff-alert", "2"),
        dir,
        "events=PROCESS_STATE,TICK_5",
      ),
  });
  const data = await waitFor("the FATAL line", async () => {
    const text = (await server.messages()).map((m) => m.data).join("\n");
    return /failed to start too many times/.test(text) ? text : undefined;
  }, 40_000);
  assert.match(
    data,
    new RegExp(`^${ASCTIME} -- Process doomed:doomed failed to start too many times\\r$`, "m"),
  );
  assert.match(
    data,
    new RegExp(
      `^${ASCTIME} -- Process doomed:doomed failed to start 2 times in a row \\(BACKOFF\\)\\r$`,
      "m",
    ),
  );
  assert.equal(countMatches(data, /\(BACKOFF\)/), 1);
  assert.match(data, /^Subject: Fatal start alert from supervisord\r$/m);
  assert.match(data, /^ {4}error: Exited too quickly \(process log may have details\)\r$/m);
  assert.match(data, /^ {6}\| cannot bind port 80\r$/m);
});

Deno.test("crashmailbatch: a batch the server did not take is logged and sent with the next interval", async () => {
  // guarantee: Crash and fatal alerts
  const [smtpPort] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      crasher("once", 0.5, 4) +
      listenerSection(
        "batch",
        batchArgs("crashmailbatch", smtpPort, "--smtp-timeout", "2"),
        dir,
        "events=PROCESS_STATE,TICK_5",
      ),
  });
  const log = await sv.waitLog(
    "batch",
    /ERROR .*message of 1 alerts not delivered \(mail to ops@example\.com not sent: smtp:\/\/127\.0\.0\.1:\d+ \(auto\): .*ECONNREFUSED.*\): sending it again with the next interval's \(attempt 2 of 3\)/,
    30_000,
  );
  await using server = await SmtpServer.start({ port: smtpPort });
  const mail = await server.waitMessage();
  assert.match(mail.data, /-- Process once:once \(pid \d+\) died unexpectedly\r$/m);
  assert.match(mail.data, /^ {4}exit: exit status 4\r$/m);
  await sv.waitLogAfter("batch", log.length, /mailed "Crash alert from supervisord"/);
  assert.equal((await server.messages()).length, 1);
});

Deno.test("crashsms: a short message without a subject for the selected group, and the alert POSTed to a webhook", async () => {
  const [smtpPort] = freePorts(1);
  await using server = await SmtpServer.start({ port: smtpPort });
  const posted: Record<string, unknown>[] = [];
  await using hook = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      posted.push(await request.json());
      return new Response("ok");
    },
  );
  await using sv = await Supervisord.start({
    sections: (dir) =>
      crasher("other", 0.2, 1) + crasher("a", 1, 1) + "[group:jobs]\nprograms=a\n" +
      listenerSection(
        "sms",
        batchArgs(
          "crashsms",
          smtpPort,
          "--group",
          "jobs",
          "--webhook",
          `http://127.0.0.1:${hook.addr.port}/hook`,
        ),
        dir,
        "events=PROCESS_STATE,TICK_5",
      ),
  });
  const mail = await server.waitMessage();
  assert.deepEqual(mail.rcpt_tos, ["ops@example.com"]);
  assert.doesNotMatch(mail.data, /^Subject:/m);
  const body = mail.data.split("\r\n\r\n")[1];
  assert.match(
    body,
    new RegExp(
      `^\\[jobs:a\\]\\(\\d+\\) exited unexpectedly ${ASCTIME}\\r\\n {4}exit: exit status 1\\r\\n$`,
    ),
  );
  await sv.waitLog("sms", /webhook http:\/\/127\.0\.0\.1:\d+\/…: HTTP 200/);
  assert.equal(posted.length, 1);
  assert.equal(posted[0].process, "jobs:a");
  assert.equal(posted[0].outcome, "crashed");
  assert.match(String(posted[0].reason), /^\[jobs:a\]\(\d+\) exited unexpectedly/);
  assert.equal(posted[0].detail, "exit: exit status 1");
});

Deno.test("crash and fatal alerts: bad flags exit 2 naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["crashmail", "-m", "nobody"], /-m\/--email: 'nobody' is not a mail address/],
    [
      ["crashmail", "--max-mails-per-minute", "1.5"],
      /--max-mails-per-minute: must be a whole number/,
    ],
    [["crashmailbatch", "-f", "a@example.com"], /-t\/--toEmail: is required/],
    [["fatalmailbatch", "-t", "a@example.com"], /-f\/--fromEmail: is required/],
    [["crashsms", "-t", "a@example.com", "-f", "b@example.com", "-i", "0"], /-i\/--interval: /],
    [["crashmailbatch", "-t", "x@y", "-f", "a@b", "-e", "TOCK_5"], /-e\/--tickEvent: /],
    [
      ["crashmailbatch", "-t", "x@y", "-f", "a@b", "-u", "alice"],
      /-u\/--userName: needs a password/,
    ],
    [["crashmailbatch", "-t", "x@y", "-f", "a@b", "--tls", "--smtp-tls", "none"], /--smtp-tls: /],
    [["crashsms", "-t", "x@y", "-f", "a@b", "--stderr-lines", "51"], /--stderr-lines: /],
    [["fatalmailbatch", "-t", "x@y", "-f", "a@b", "--backoff-alert", "0"], /--backoff-alert: /],
    [
      ["crashmail", "--smtp-host", "m", "--smtp-timeout", "99999999"],
      /--smtp-timeout: must be at most 604800 seconds/,
    ],
    [
      ["crashmailbatch", "-t", "x@y", "-f", "a@b", "--smtp-timeout", "0.00001"],
      /--smtp-timeout: must be at least 0\.001/,
    ],
  ];
  for (const [args, message] of cases) {
    const out = await new Deno.Command(DENO, {
      args: [...RUN_MAIN, ...args],
      env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent.sock" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, `${args.join(" ")}: ${stderr}`);
    assert.match(stderr, message, args.join(" "));
    assert.equal(out.stdout.length, 0);
  }
});
