/**
 * Secrets stay secret and outside text stays in its place, under a real
 * supervisord: a password in an http check's URL is in no log line, mail
 * or webhook report; a webhook URL given by --webhook-env is not on the
 * listener's command line; a hostile XML-RPC fault string (newline, forged
 * log line, escape codes, a megabyte) forges no line and floods nothing.
 */
import assert from "node:assert/strict";
import { TEXT_CHARS } from "../../lib/redact.ts";
import { FORGED } from "../fixtures/xmlrpc_service.ts";
import {
  DENO,
  freePorts,
  listenerSection,
  REPO,
  shq,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

const XMLRPC_SERVICE = `${REPO}tests/fixtures/xmlrpc_service.ts`;

/** A sendmail stand-in that appends each message to `dir`/mail.txt. */
function fakeSendmail(dir: string): string {
  Deno.writeTextFileSync(`${dir}/sendmail`, `#!/bin/sh\ncat >> ${dir}/mail.txt\n`, {
    mode: 0o755,
  });
  return `${dir}/sendmail -t -i`;
}

async function readMail(dir: string): Promise<string> {
  return await waitFor("the mail", async () => {
    try {
      const mail = await Deno.readTextFile(`${dir}/mail.txt`);
      return mail.includes("\n\n") ? mail : undefined;
    } catch {
      return undefined;
    }
  });
}

Deno.test("http -u with a password: in no log line, mail or webhook; --webhook-env keeps the hook's token out of ps", async () => {
  // guarantee: Secrets
  const [port, hook] = freePorts(2);
  const password = "hunter2-in-url";
  const hookToken = "hook-token-in-env";
  const reports: string[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: hook, onListen() {} }, async (req) => {
    if (new URL(req.url).searchParams.get("token") === hookToken) reports.push(await req.text());
    return new Response("ok");
  });
  try {
    await using sv = await Supervisord.start({
      sections: (dir) =>
        webProgram("shop", port) +
        listenerSection(
          "shopcheck",
          [
            "http",
            "-n",
            "shopcheck",
            "-g",
            "shop",
            "-u",
            `http://monitor:${password}@127.0.0.1:${port}/ping`,
            "-t",
            "1",
            "-r",
            "0",
            "--interval",
            "1",
            "-v",
            "--email",
            "ops@example.com",
            "--sendmail_program",
            fakeSendmail(dir),
            "--webhook-env",
            "SC_TEST_HOOK",
          ],
          dir,
          `environment=SC_TEST_HOOK="http://127.0.0.1:${hook}/r?token=${hookToken}"\n`,
        ),
    });
    const { "shop:shop": pid } = await sv.waitRunning(["shop:shop"]);
    await sv.waitLog("shopcheck", /healthy: GET http:\/\/monitor:\*{8}@127\.0\.0\.1/);
    const listener = await sv.process("shopcheck:shopcheck");
    const cmdline = await Deno.readTextFile(`/proc/${listener.pid}/cmdline`);
    assert.ok(cmdline.includes("--webhook-env"), "the listener's own command line");
    assert.ok(!cmdline.includes(hookToken), "the hook's token is not in ps");

    await sv.kill("shop:shop", "SIGUSR2"); // /ping answers 500 from now on
    await sv.waitRestarted("shop:shop", pid);
    const report = await waitFor("the webhook", () => reports[0]);
    const mail = await readMail(sv.dir);
    const log = await sv.waitLog("shopcheck", /mailed .* to ops@example\.com/);
    assert.match(log, /unhealthy: GET http:\/\/monitor:\*{8}@127\.0\.0\.1:\d+\/ping: HTTP 500/);
    assert.match(mail, /monitor:\*{8}@127\.0\.0\.1/);
    assert.match(report, /monitor:\*{8}@127\.0\.0\.1/);
    for (const [what, text] of [["log", log], ["mail", mail], ["webhook", report]]) {
      assert.ok(!text.includes(password), `${what} shows the password`);
      assert.ok(!text.includes(hookToken), `${what} shows the hook's token`);
    }
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("xmlrpc: a hostile fault string forges no log line, sends no escape code, floods nothing", async () => {
  // guarantee: Outside text
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      `[program:rpc]
command=${shq(DENO)} run --allow-net ${shq(XMLRPC_SERVICE)} ${port}
startsecs=1
stopwaitsecs=2
` +
      listenerSection("rpccheck", [
        "xmlrpc",
        "-n",
        "rpccheck",
        "-N",
        "rpc",
        "-p",
        String(port),
        "-m",
        "flood",
        "-t",
        "5",
        "-r",
        "0",
        "--interval",
        "1",
        "--email",
        "ops@example.com",
        "--sendmail_program",
        fakeSendmail(dir),
      ], dir),
  });
  const { "rpc:rpc": pid } = await sv.waitRunning(["rpc:rpc"]);
  await sv.waitRestarted("rpc:rpc", pid);
  const mail = await readMail(sv.dir);
  const log = await sv.waitLog("rpccheck", /mailed .* to ops@example\.com/);
  assert.match(
    log,
    /unhealthy: flood\(\) at http:\/\/127\.0\.0\.1:\d+\/RPC2: fault 1: boom\\n2001-/,
  );
  assert.match(log, /all is well \\x1b\[31mred\\x1b\[0m x x x/, "escape codes shown, not sent");
  assert.match(log, /\[cut: \d{7} characters in all\]/);
  for (const [what, text] of [["log", log], ["mail", mail]]) {
    assert.ok(!text.includes("\x1b"), `${what} carries a raw escape code`);
    const lines = text.split("\n");
    assert.ok(!lines.some((l) => l.startsWith(FORGED)), `${what} has a forged line`);
    const longest = Math.max(...lines.map((l) => l.length));
    // the cap, plus a log line's time, level, check name and process
    assert.ok(longest <= TEXT_CHARS + 100, `${what} has a line of ${longest} characters`);
  }
});

Deno.test("start-up errors quoting a flag's value mask the secrets in it", async () => {
  // guarantee: Secrets
  const { code, stderr } = await new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      "--no-prompt",
      `${REPO}main.ts`,
      "http",
      "-n",
      "x",
      "-N",
      "web",
      "-u",
      "http://monitor:pw-in-error@host:port/",
    ],
    stdin: "null",
    stdout: "null",
    env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent.sock" },
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, 2, text);
  assert.match(text, /-u\/--url: 'http:\/\/monitor:\*{8}@host:port\/' is not a valid URL/);
  assert.ok(!text.includes("pw-in-error"), text);
});
