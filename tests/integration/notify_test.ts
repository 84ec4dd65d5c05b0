/**
 * Notifications from a check listener (not httpok): every restart is
 * mailed and POSTed, and a mail command that hangs never holds up the
 * restart.
 */
import assert from "node:assert/strict";
import {
  freePorts,
  listenerSection,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

Deno.test("http listener: restart mailed (to a hanging sendmail) and POSTed; the next restart is not held up", async () => {
  const [port, hook] = freePorts(2);
  const reports: Record<string, unknown>[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: hook, onListen() {} }, async (req) => {
    reports.push(await req.json());
    return new Response("ok");
  });
  try {
    await using sv = await Supervisord.start({
      sections: (dir) => {
        // records its arguments and the message, then hangs far past the 10 s notify timeout
        Deno.writeTextFileSync(
          `${dir}/sendmail`,
          `#!/bin/sh\necho "$@" > ${dir}/mail.args\ncat > ${dir}/mail.txt\nsleep 60\n`,
          { mode: 0o755 },
        );
        return webProgram("shop", port) +
          listenerSection("shopcheck", [
            "http",
            "-n",
            "shopcheck",
            "-g",
            "shop",
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
            "--sendmail_program",
            `${dir}/sendmail -t -i`,
            "--webhook",
            `http://127.0.0.1:${hook}/restarts`,
          ], dir);
      },
    });
    const { "shop:shop": pid } = await sv.waitRunning(["shop:shop"]);
    await sv.waitLog(
      "shopcheck",
      /notifying mail to ops@example\.com via .*sendmail; webhook http:\/\/127\.0\.0\.1:\d+\/…/,
    );
    await sv.kill("shop:shop", "SIGSTOP");
    const newPid = await sv.waitRestarted("shop:shop", pid);

    const mail = await waitFor("the mail", async () => {
      try {
        return await Deno.readTextFile(`${sv.dir}/mail.txt`);
      } catch {
        return undefined;
      }
    });
    assert.equal((await Deno.readTextFile(`${sv.dir}/mail.args`)).trim(), "-t -i");
    assert.match(mail, /^To: ops@example\.com$/m);
    assert.match(mail, /^Subject: supervisor-checks \[shopcheck\]: shop:shop restarted$/m);
    assert.match(mail, /^reason:\s+http$/m);

    const report = await waitFor(
      "the webhook",
      () => reports.find((r) => r.outcome === "restarted"),
    );
    assert.equal(report.process, "shop:shop");
    assert.equal(report.group, "shop");
    assert.equal(report.name, "shop");
    assert.equal(report.pid, pid);
    assert.equal(report.check, "shopcheck");
    assert.match(String(report.detail), new RegExp(`stopped, started`));
    assert.equal(typeof report.host, "string");
    assert.ok(!Number.isNaN(Date.parse(String(report.time))));

    // while that mail hangs, the listener goes on checking: the next hang is restarted too
    await sv.kill("shop:shop", "SIGSTOP");
    const third = await sv.waitRestarted("shop:shop", newPid);
    // the hanging mailer is cut off (after 10 s) and logged; the second restart came before
    const log = await sv.waitLog(
      "shopcheck",
      /mail to ops@example\.com not sent: .*sendmail/,
      30_000,
    );
    const secondRestart = log.indexOf(`restarted (stopped, started): new pid ${third}`);
    assert.ok(secondRestart > 0, log);
    assert.ok(secondRestart < log.indexOf("not sent"), "not held up by the hanging mailer");
    assert.equal((await sv.process("shopcheck")).statename, "RUNNING");
  } finally {
    await receiver.shutdown();
  }
});
