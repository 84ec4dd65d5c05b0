/**
 * `supervisor-checks httpok` as the [eventlistener] of a real supervisord:
 * restarts on a bad status, a hang and a missing body text; core dumps
 * before restarting; mail through fake sendmail scripts; webhooks; -a, -E,
 * --restart-command; programs that do not exist. Fake sendmail and gcore
 * programs are shell scripts written into supervisord's temp dir.
 */
import assert from "node:assert/strict";
import { parseHttpokArgs } from "../../commands/httpok.ts";
import { UsageError } from "../../lib/errors.ts";
import {
  countMatches,
  DENO,
  freePorts,
  listenerSection,
  RUN_MAIN,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

/** Writes an executable /bin/sh script into `dir`; returns its path. */
function writeScript(dir: string, name: string, body: string): string {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, `#!/bin/sh\n${body}\n`);
  Deno.chmodSync(path, 0o755);
  return path;
}

/** A sendmail that files each message (stdin) as mail.PID.eml, and its arguments as mail.PID.args. */
function fakeSendmail(dir: string): string {
  return writeScript(
    dir,
    "fake-sendmail",
    `d=$(dirname "$0")
printf '%s\\n' "$@" > "$d/.mail.$$.args"
cat > "$d/.mail.$$"
mv "$d/.mail.$$.args" "$d/mail.$$.args"
mv "$d/.mail.$$" "$d/mail.$$.eml"`,
  );
}

/** The messages a fakeSendmail received so far. */
async function mails(dir: string): Promise<{ mail: string; args: string }[]> {
  const found = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^mail\.(\d+)\.eml$/.exec(entry.name);
    if (!m) continue;
    found.push({
      mail: await Deno.readTextFile(`${dir}/${entry.name}`),
      args: await Deno.readTextFile(`${dir}/mail.${m[1]}.args`),
    });
  }
  return found;
}

/** Waits for the first messages a fakeSendmail in `dir` receives. */
function someMail(dir: string): Promise<{ mail: string; args: string }[]> {
  return waitFor("a mail", async () => {
    const found = await mails(dir);
    return found.length > 0 && found;
  });
}

function header(mail: string, name: string): string | undefined {
  const head = mail.split("\n\n")[0];
  return new RegExp(`^${name}: (.*)$`, "m").exec(head)?.[1];
}

/** A local HTTP server on 127.0.0.1 recording requests; answers `status`. */
function receiver(status = 200) {
  const received: { method: string; contentType: string | null; body: string }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      received.push({
        method: req.method,
        contentType: req.headers.get("content-type"),
        body: await req.text(),
      });
      return new Response(status === 200 ? "ok\n" : "broken\n", { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    received,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const SLEEPER = (name: string, extra = "") =>
  `[program:${name}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n${extra}\n`;

Deno.test("httpok: a service answering 500 is restarted; the mail and the webhook say so", async () => {
  const [port] = freePorts(1);
  const url = `http://127.0.0.1:${port}/ping`;
  await using hook = receiver();
  let sendmail = "";
  await using sv = await Supervisord.start({
    sections: (dir) => {
      sendmail = fakeSendmail(dir);
      return webProgram("web", port) + listenerSection("httpok", [
        "httpok",
        "-p",
        "web",
        "-t",
        "2",
        "-m",
        "ops@example.com",
        "-s",
        `${sendmail} -t -i`,
        "--webhook",
        `${hook.url}/hook`,
        url,
      ], dir);
    },
  });
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  await waitFor(
    "httpok to start",
    async () => (await sv.listenerLog("httpok")).includes("listening"),
  );
  await sv.kill("web:web", "SIGUSR2");
  await sv.waitRestarted("web:web", pid);

  const [{ mail, args }] = await someMail(sv.dir);
  assert.equal(args, "-t\n-i\n");
  assert.equal(header(mail, "To"), "ops@example.com");
  assert.equal(header(mail, "Subject"), `httpok: ${url}: bad status returned`);
  const body = mail.slice(mail.indexOf("\n\n") + 2);
  assert.match(
    body,
    new RegExp(`^status contacting ${url}: 500 Internal Server Error \\(expected 200\\)$`, "m"),
  );
  assert.match(body, /^Restarting selected processes web$/m);
  assert.match(body, new RegExp(`^web:web \\(pid ${pid}\\) is in RUNNING state, restarting$`, "m"));
  assert.match(body, /^web:web restarted \(stopped, started; new pid \d+\)$/m);

  const [post] = await waitFor("the webhook", () => hook.received.length > 0 && hook.received);
  assert.equal(post.method, "POST");
  assert.equal(post.contentType, "application/json");
  const report = JSON.parse(post.body);
  assert.deepEqual(
    { ...report, time: undefined, host: undefined, detail: undefined },
    {
      check: "httpok",
      process: "web:web",
      group: "web",
      name: "web",
      pid,
      reason: `status contacting ${url}: 500 Internal Server Error (expected 200)`,
      outcome: "restarted",
      time: undefined,
      host: undefined,
      detail: undefined,
    },
  );
  assert.ok(!Number.isNaN(Date.parse(report.time)));
  assert.equal(report.host, Deno.hostname());
  assert.match(report.detail, /^stopped, started$/);

  const log = await sv.listenerLog("httpok");
  assert.match(
    log,
    /WARN \[httpok\] url unhealthy: status contacting .*: 500 Internal Server Error/,
  );
  assert.match(log, /INFO \[httpok\] mailed "httpok: .*" to ops@example.com/);
  assert.equal((await sv.process("httpok")).statename, "RUNNING");
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|bad result/);
});

Deno.test("httpok: a frozen service is core-dumped (-g/-d) then restarted; a failing mailer changes nothing", async () => {
  const [port] = freePorts(1);
  let coredir = "";
  await using sv = await Supervisord.start({
    sections: (dir) => {
      coredir = `${dir}/cores`;
      Deno.mkdirSync(coredir);
      // records its arguments and whether the pid (its 3rd argument) was alive
      const gcore = writeScript(
        dir,
        "fake-gcore",
        `state=gone; kill -0 "$3" 2>/dev/null && state=alive
printf '%s\\n' "$@" "$state" > "${dir}/.gcore"; mv "${dir}/.gcore" "${dir}/gcore.txt"
echo "Saved corefile $2.$3"`,
      );
      const sendmail = writeScript(
        dir,
        "failing-sendmail",
        "cat >/dev/null; echo 'no relay' >&2; exit 1",
      );
      return webProgram("web", port) + listenerSection("httpok", [
        "httpok",
        "-p",
        "web:web",
        "-t",
        "2",
        "-g",
        `${gcore} -o`,
        "-d",
        coredir,
        "-m",
        "ops@example.com",
        "-s",
        sendmail,
        `http://127.0.0.1:${port}/ping`,
      ], dir);
    },
  });
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  await waitFor(
    "httpok to start",
    async () => (await sv.listenerLog("httpok")).includes("listening"),
  );
  await sv.kill("web:web", "SIGSTOP");
  await sv.waitRestarted("web:web", pid);

  const gcore = await Deno.readTextFile(`${sv.dir}/gcore.txt`);
  assert.deepEqual(gcore.split("\n"), ["-o", `${coredir}/web:web`, String(pid), "alive", ""]);
  const log = await waitFor("the mail failure", async () => {
    const log = await sv.listenerLog("httpok");
    return log.includes("not sent") && log;
  });
  assert.match(log, /error contacting http:\/\/127.0.0.1:\d+\/ping: no answer within 2s/);
  assert.match(
    log,
    new RegExp(
      `web:web \\(pid ${pid}\\): gcore output:\\\\n\\\\nSaved corefile ${coredir}/web:web.${pid}`,
    ),
  );
  assert.match(log, /web:web \(pid \d+\): restarted \(stopped, started\): new pid \d+/);
  assert.match(log, /mail to ops@example.com not sent: .*failing-sendmail exit status 1: no relay/);
  assert.equal((await sv.process("httpok")).statename, "RUNNING");
});

Deno.test("httpok: a service that died and was respawned during the core dump is not stopped", async () => {
  // guarantee: Restarts (read again after the core dump)
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.mkdirSync(`${dir}/cores`);
      // a gcore during which the process dies and supervisord starts it again (RUNNING)
      const gcore = writeScript(
        dir,
        "killing-gcore",
        `old=$3
kill -9 "$old"
for i in $(seq 200); do
  pid=$(supervisorctl -c "${dir}/supervisord.conf" status web:web |
    sed -n 's/.* RUNNING *pid \\([0-9]*\\),.*/\\1/p')
  if [ -n "$pid" ] && [ "$pid" != "$old" ]; then echo "$pid" > "${dir}/respawned"; exit 0; fi
  sleep 0.1
done
exit 1`,
      );
      return webProgram("web", port) + listenerSection("httpok", [
        "httpok",
        "-p",
        "web:web",
        "-t",
        "2",
        "-g",
        `${gcore} -o`,
        "-d",
        `${dir}/cores`,
        `http://127.0.0.1:${port}/ping`,
      ], dir);
    },
  });
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  await waitFor(
    "httpok to start",
    async () => (await sv.listenerLog("httpok")).includes("listening"),
  );
  await sv.kill("web:web", "SIGSTOP");
  const log = await sv.waitLog("httpok", /restart skipped: /);
  const respawned = Number((await Deno.readTextFile(`${sv.dir}/respawned`)).trim());
  assert.notEqual(respawned, pid);
  assert.match(
    log,
    new RegExp(
      `restart skipped: pid changed from ${pid} to ${respawned} during the core dump: ` +
        "already restarted",
    ),
  );
  assert.doesNotMatch(log, /restarted \(/);
  const now = await sv.process("web:web");
  assert.equal(now.statename, "RUNNING");
  assert.equal(now.pid, respawned, "the respawned process was not stopped");
});

Deno.test("httpok: a body without the -b text restarts through --restart-command; -n names the mail", async () => {
  const [port] = freePorts(1);
  const url = `http://127.0.0.1:${port}/ping`;
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port) + listenerSection("httpok", [
        "httpok",
        "-n",
        "shop",
        "-p",
        "web",
        "-t",
        "2",
        "-b",
        "something-else",
        "-m",
        "ops@example.com",
        "-s",
        fakeSendmail(dir),
        "--restart-command",
        `echo "$HTTPOK_PROCESS $HTTPOK_PID" >> ${dir}/restarts && ` +
        `supervisorctl -c ${dir}/supervisord.conf restart "$HTTPOK_PROCESS"`,
        url,
      ], dir),
  });
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  await sv.waitRestarted("web:web", pid);

  const restarts = await Deno.readTextFile(`${sv.dir}/restarts`);
  assert.equal(restarts.split("\n")[0], `web:web ${pid}`);
  // a first TICK may find web:web still STARTING ("NOT restarting"): take the mail of the restart
  const mail = await waitFor(
    "the mail of the restart",
    async () =>
      (await mails(sv.dir)).map((m) => m.mail).find((m) => /^web:web restarted /m.test(m)),
  );
  assert.equal(header(mail, "Subject"), `httpok [shop]: ${url}: bad body returned`);
  assert.match(
    mail,
    new RegExp(`^status contacting ${url}: 200 OK, but the body lacks "something-else"$`, "m"),
  );
  assert.match(
    mail,
    // the command's output on the line, its newline shown
    /^web:web restarted \(--restart-command exit status 0: web(:web)?: stopped\\nweb(:web)?: started\)$/m,
  );
  assert.match(
    await sv.listenerLog("httpok"),
    /WARN \[shop\] web:web \(pid \d+\): restarted/,
  );
});

Deno.test("httpok: -a restarts every RUNNING child but itself; a hanging mailer does not stop the next round", async () => {
  // guarantee: Restarts beside rounds
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port) + SLEEPER("worker") + SLEEPER("idle", "autostart=false") +
      listenerSection("httpok", [
        "httpok",
        "-a",
        "-t",
        "2",
        "--interval",
        "1",
        "-m",
        "ops@example.com",
        "-s",
        // files the message, then hangs far longer than the test: only the 10 s mail
        // timeout ends it
        writeScript(
          dir,
          "hanging-sendmail",
          `cat > ${dir}/.mail; mv ${dir}/.mail ${dir}/mail; sleep 120`,
        ),
        `http://127.0.0.1:${port}/ping`,
      ], dir),
  });
  const before = await sv.waitRunning(["web:web", "worker:worker", "httpok:httpok"]);
  await sv.kill("web:web", "SIGUSR2");
  const web = await sv.waitRestarted("web:web", before["web:web"]);
  await sv.waitRestarted("worker:worker", before["worker:worker"]);
  // fails again while the first round's mail still hangs: the rounds go on meanwhile
  await sv.kill("web:web", "SIGUSR2");
  assert.doesNotMatch(await sv.listenerLog("httpok"), /not sent/, "the mailer still hangs");
  const again = await sv.waitRestarted("web:web", web, 40_000);
  const mail = await waitFor("the mail", () => Deno.readTextFile(`${sv.dir}/mail`).catch(() => ""));
  assert.match(mail, /^Restarting all running processes$/m);
  await sv.waitLog("httpok", new RegExp(`web:web \\(pid ${web}\\): restarted .*new pid ${again}`));
  const log = await sv.waitLog(
    "httpok",
    /mail to ops@example.com not sent: .*hanging-sendmail timed out after 10s \(killed\)/,
  );
  assert.ok(
    log.indexOf(`new pid ${again}`) < log.indexOf("not sent"),
    "the next restart came before the hanging mail was cut off",
  );
  assert.doesNotMatch(log, /idle/, "a STOPPED program is not touched");
  assert.equal((await sv.process("idle:idle")).statename, "STOPPED");
  const listener = await sv.process("httpok:httpok");
  assert.equal(listener.statename, "RUNNING");
  assert.equal(listener.pid, before["httpok:httpok"], "httpok never restarts itself");
});

Deno.test("httpok: -E does not check while no program is RUNNING; a program that does not exist is reported", async () => {
  await using target = receiver(500);
  await using hook = receiver();
  await using sv = await Supervisord.start({
    sections: (dir) =>
      SLEEPER("web", "autostart=false") + listenerSection("httpok", [
        "httpok",
        "-E",
        "-v",
        "-p",
        "web",
        "-p",
        "nosuch",
        "-t",
        "2",
        "-m",
        "ops@example.com",
        "-s",
        fakeSendmail(dir),
        "--webhook",
        hook.url,
        `${target.url}/health`,
      ], dir),
  });
  const skip = /url not checked: none of programs web, nosuch is RUNNING \(not eager/g;
  await waitFor(
    "two skipped rounds",
    async () => ((await sv.listenerLog("httpok")).match(skip)?.length ?? 0) >= 2,
  );
  assert.equal(target.received.length, 0, "no request while nothing is RUNNING");

  await sv.client.startProcess("web:web");
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  await sv.waitRestarted("web:web", pid);
  assert.ok(target.received.length > 0);
  assert.equal(target.received[0].method, "GET");

  const [{ mail }] = await someMail(sv.dir);
  assert.match(mail, /^Programs not restarted because they did not exist: nosuch$/m);
  const reports = await waitFor("the webhook reports", () => {
    const all = hook.received.map((r) => JSON.parse(r.body));
    return all.some((r) => r.outcome === "not-found") && all;
  });
  const missing = reports.find((r) => r.outcome === "not-found");
  assert.equal(missing.process, "nosuch");
  assert.equal(missing.pid, 0);
  assert.ok(reports.some((r) => r.process === "web:web" && r.outcome === "restarted"));
  assert.match(
    await sv.listenerLog("httpok"),
    /WARN \[httpok\] not found in supervisord: nosuch/,
  );
});

Deno.test("httpok flags: the original's defaults, start-up errors name the flag", async () => {
  const config = parseHttpokArgs(["http://127.0.0.1:8080/tasty"]);
  assert.ok(config !== "help");
  assert.equal(config.timeout, 10);
  assert.equal(config.codes.text, "200");
  assert.deepEqual(config.gcore, ["/usr/bin/gcore", "-o"]);
  assert.equal(config.notify.sendmail, "/usr/sbin/sendmail -t -i");
  assert.equal(config.eager, true);
  assert.deepEqual(config.programs, []);

  const long = parseHttpokArgs([
    "--program=a",
    "--program",
    "g:b",
    "--any",
    "--timeout=2.5",
    "--code=200",
    "--code",
    "204,301-302",
    "--body=ok",
    "--email=x@example.com",
    "--sendmail_program=/bin/true",
    "--not-eager",
    "--name=shop",
    "https://user:secret@example.com/health",
  ]);
  assert.ok(long !== "help");
  assert.deepEqual(long.programs, ["a", "g:b"]);
  assert.equal(long.any, true);
  assert.equal(long.timeout, 2.5);
  assert.deepEqual([200, 204, 301, 302, 303].map(long.codes.accepts), [
    true,
    true,
    true,
    true,
    false,
  ]);
  assert.equal(long.eager, false);
  assert.equal(long.display, "https://user:********@example.com/health");
  Deno.env.set("SC_TEST_HTTPOK_URL", "https://user:env-pw@example.com/health\n");
  try {
    const fromEnv = parseHttpokArgs(["--url-env", "SC_TEST_HTTPOK_URL", "-p", "a"]);
    assert.ok(fromEnv !== "help");
    assert.equal(fromEnv.url.password, "env-pw");
    assert.equal(fromEnv.display, "https://user:********@example.com/health");
  } finally {
    Deno.env.delete("SC_TEST_HTTPOK_URL");
  }

  for (
    const [argv, message] of [
      [[], /^URL is required/],
      [["a", "b"], /^give exactly one URL/],
      [["ftp://x/"], /^URL: 'ftp:\/\/x\/' is not an http/],
      [["-t", "0", "http://x/"], /^-t\/--timeout: must be greater than 0/],
      [["-c", "2000", "http://x/"], /^-c\/--code: /],
      [["-p", "a:", "http://x/"], /^-p\/--program: /],
      [["-m", "nobody", "http://x/"], /^-m\/--email: /],
      [["-s", "'x", "http://x/"], /^-s\/--sendmail_program: /],
      [["-g", "", "http://x/"], /^-g\/--gcore: /],
      [["-d", "/nonexistent/dir", "http://x/"], /^-d\/--coredir: /],
      [["-e", "-E", "http://x/"], /-e\/--eager and -E\/--not-eager/],
      [["--webhook", "x", "http://x/"], /^--webhook: /],
      [["--bogus", "http://x/"], /bogus/],
      [["--url-env", "SC_TEST_NO_SUCH"], /^--url-env: environment variable SC_TEST_NO_SUCH/],
      [["--url-file", "/nonexistent/url", "http://x/"], /^--url-file: give only one of URL/],
    ] as [string[], RegExp][]
  ) {
    assert.throws(() => parseHttpokArgs(argv), (e) => {
      assert.ok(e instanceof UsageError, `${argv.join(" ")}: ${e}`);
      assert.match(e.message, message);
      return true;
    });
  }

  const run = await new Deno.Command(DENO, {
    args: [...RUN_MAIN, "httpok", "-c", "abc", "http://127.0.0.1:8/"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(run.code, 2);
  assert.equal(new TextDecoder().decode(run.stdout), "");
  assert.match(
    new TextDecoder().decode(run.stderr),
    /^supervisor-checks httpok: error: -c\/--code: /,
  );
});

Deno.test("httpok: one GET per round, whatever the number of programs, logged once", async () => {
  await using target = receiver(500);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      SLEEPER("a") + SLEEPER("b") + SLEEPER("c") + listenerSection("httpok", [
        "httpok",
        "-p",
        "a",
        "-p",
        "b",
        "-p",
        "c",
        "-t",
        "2",
        "--interval",
        "1",
        "--dry-run",
        `${target.url}/health`,
      ], dir),
  });
  await sv.waitRunning(["a:a", "b:b", "c:c"]);
  const log = await waitFor("three failed rounds", async () => {
    const log = await sv.listenerLog("httpok");
    return countMatches(log, /url unhealthy/) >= 3 && log;
  });
  const rounds = countMatches(log, /url unhealthy/);
  // a GET may be in flight, not yet logged
  assert.ok(
    target.received.length <= rounds + 1,
    `${target.received.length} GETs for ${rounds} rounds`,
  );
  for (const name of ["a", "b", "c"]) {
    assert.match(log, new RegExp(`${name}:${name} \\(pid \\d+\\): dry run: would restart`));
  }
});
