/**
 * Mail over SMTP from real listeners under a real supervisord, to a real
 * SMTP server (Debian's aiosmtpd): the restart mail arrives as the sendmail
 * path would send it; STARTTLS with a private CA and AUTH work; a wrong
 * password or a server that is down is logged and never affects restarts.
 */
import assert from "node:assert/strict";
import { makeCertificates } from "../support/certs.ts";
import { SmtpServer } from "../support/smtp.ts";
import { freePorts, listenerSection, Supervisord, webProgram } from "../support/supervisord.ts";

const PASSWORD = "Zq7-correct-horse";

/** An http listener for program `name` on `port`, restarting on the first failed 1 s probe. */
function checkArgs(name: string, port: number, mail: string[]): string[] {
  return [
    "http",
    "-n",
    `${name}check`,
    "-N",
    name,
    "-p",
    String(port),
    "-u",
    "/ping",
    "-t",
    "1",
    "-r",
    "0",
    "--interval",
    "1",
    "--email",
    "ops@example.com",
    ...mail,
  ];
}

Deno.test("smtp: a restart is mailed over plain SMTP with the subject and body sendmail gets", async () => {
  const [port, smtpPort] = freePorts(2);
  await using server = await SmtpServer.start({ port: smtpPort });
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("shop", port) +
      listenerSection(
        "shopcheck",
        checkArgs("shop", port, [
          "--smtp-host",
          `127.0.0.1:${smtpPort}`,
          "--smtp-from",
          "checks@example.com",
        ]),
        dir,
      ),
  });
  const { "shop:shop": pid } = await sv.waitRunning(["shop:shop"]);
  await sv.waitLog(
    "shopcheck",
    /notifying mail to ops@example\.com via smtp:\/\/127\.0\.0\.1:\d+ \(auto\)/,
  );
  await sv.kill("shop:shop", "SIGSTOP");
  const newPid = await sv.waitRestarted("shop:shop", pid);

  const mail = await server.waitMessage();
  assert.equal(mail.mail_from, "checks@example.com");
  assert.deepEqual(mail.rcpt_tos, ["ops@example.com"]);
  const data = mail.data.replaceAll("\r\n", "\n");
  assert.match(data, /^From: checks@example\.com$/m);
  assert.match(data, /^To: ops@example\.com$/m);
  assert.match(data, /^Subject: supervisor-checks \[shopcheck\]: shop:shop restarted$/m);
  assert.match(data, new RegExp(`^pid: {5}${pid}$`, "m"));
  assert.match(data, /^reason:\s+http$/m);
  assert.match(data, /^detail:\s+.*stopped, started/m);
  assert.notEqual(newPid, pid);
  await sv.waitLog("shopcheck", /mailed "supervisor-checks \[shopcheck\]: shop:shop restarted"/);
});

Deno.test("smtp: STARTTLS with a private CA and AUTH; a wrong password or no server is logged, restarts go on", async () => {
  // guarantee: Mail over SMTP
  const [goodPort, wrongPort, downPort, smtpPort, deadSmtp] = freePorts(5);
  const certDir = await Deno.makeTempDir({ prefix: "smtp-certs-" });
  try {
    const certs = await makeCertificates(certDir);
    await using server = await SmtpServer.start({
      port: smtpPort,
      starttls: certs,
      auth: ["alice", PASSWORD],
    });
    const tls = [
      "--smtp-host",
      `127.0.0.1:${smtpPort}`,
      "--smtp-tls",
      "starttls",
      "--smtp-ca-file",
      certs.ca,
      "--smtp-user",
      "alice",
      "--smtp-password-env",
      "SMTP_PASSWORD",
    ];
    await using sv = await Supervisord.start({
      sections: (dir) =>
        webProgram("good", goodPort) + webProgram("wrong", wrongPort) +
        webProgram("down", downPort) +
        listenerSection(
          "goodcheck",
          checkArgs("good", goodPort, tls),
          dir,
          `environment=SMTP_PASSWORD="${PASSWORD}"`,
        ) +
        listenerSection(
          "wrongcheck",
          checkArgs("wrong", wrongPort, tls),
          dir,
          `environment=SMTP_PASSWORD="${PASSWORD}-not"`,
        ) +
        listenerSection(
          "downcheck",
          checkArgs("down", downPort, ["--smtp-host", `127.0.0.1:${deadSmtp}`]),
          dir,
        ),
    });
    const specs = ["good:good", "wrong:wrong", "down:down"];
    const before = await sv.waitRunning(specs);
    for (const spec of specs) await sv.kill(spec, "SIGSTOP");
    for (const spec of specs) await sv.waitRestarted(spec, before[spec]);

    const mail = await server.waitMessage();
    assert.equal(mail.tls, true);
    assert.equal(mail.login, "alice");
    assert.match(
      mail.data,
      /^Subject: supervisor-checks \[goodcheck\]: good:good restarted\r$/m,
    );
    await sv.waitLog("goodcheck", /mailed "supervisor-checks \[goodcheck\]/);

    const wrong = await sv.waitLog(
      "wrongcheck",
      /ERROR .*mail to ops@example\.com not sent: smtp:\/\/127\.0\.0\.1:\d+ \(starttls, as alice\): .*535/,
    );
    assert.match(wrong, /wrong:wrong \(pid \d+\): restarted/);
    assert.ok(!wrong.includes(PASSWORD), wrong);
    const down = await sv.waitLog(
      "downcheck",
      /ERROR .*mail to ops@example\.com not sent: smtp:\/\/127\.0\.0\.1:\d+ \(auto\): .*ECONNREFUSED/,
    );
    assert.match(down, /down:down \(pid \d+\): restarted/);
    // only the good listener's mail arrived
    assert.equal((await server.messages()).length, 1);
    for (const name of ["goodcheck", "wrongcheck", "downcheck"]) {
      assert.equal((await sv.process(name)).statename, "RUNNING", name);
    }
  } finally {
    await Deno.remove(certDir, { recursive: true });
  }
});
