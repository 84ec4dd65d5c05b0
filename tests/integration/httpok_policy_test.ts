/**
 * httpok with the shared listener policy, under a real supervisord:
 * --interval, --failure-threshold, --max-restarts/--restart-window,
 * --dry-run (gcore not run), --log-format json, --start-grace, --revive,
 * --max-parallel-restarts, -q and the SIGUSR2 state dump. The defaults are
 * the original's behaviour: tests/integration/httpok_test.ts.
 */
import assert from "node:assert/strict";
import { HTTPOK_POLICY_OPTIONS, parseHttpokArgs } from "../../commands/httpok.ts";
import { UsageError } from "../../lib/errors.ts";
import { DEFAULT_POLICY_SETTINGS } from "../../lib/settings.ts";
import {
  countMatches,
  freePorts,
  listenerSection,
  logLineTime,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

const SLEEPER = (name: string, extra = "") =>
  `[program:${name}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n${extra}\n`;

/** Writes an executable /bin/sh script into `dir`; returns its path. */
function writeScript(dir: string, name: string, body: string): string {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, `#!/bin/sh\n${body}\n`);
  Deno.chmodSync(path, 0o755);
  return path;
}

/** A sendmail that files each message (stdin) as mail.PID.eml. */
function fakeSendmail(dir: string): string {
  return writeScript(
    dir,
    "fake-sendmail",
    `d=$(dirname "$0"); cat > "$d/.mail.$$"; mv "$d/.mail.$$" "$d/mail.$$.eml"`,
  );
}

async function mails(dir: string): Promise<string[]> {
  const found = [];
  for await (const entry of Deno.readDir(dir)) {
    if (/^mail\.\d+\.eml$/.test(entry.name)) {
      found.push(await Deno.readTextFile(`${dir}/${entry.name}`));
    }
  }
  return found;
}

/**
 * A URL under the test's control on 127.0.0.1: answers 500 while `failures`
 * is above zero (counting it down), 200 otherwise; records POSTed JSON.
 */
function controlled() {
  const state = { failures: 0, gets: 0, posts: [] as Record<string, unknown>[] };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (req.method === "POST") {
      state.posts.push(await req.json());
      return new Response("ok\n");
    }
    state.gets++;
    if (state.failures > 0) {
      state.failures--;
      return new Response("broken\n", { status: 500 });
    }
    return new Response("pong\n");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    state,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("httpok policy flags: defaults keep the original's behaviour; superlance's letters keep their meaning", () => {
  const defaults = parseHttpokArgs(["http://127.0.0.1:8080/"]);
  assert.ok(defaults !== "help");
  assert.deepEqual(defaults.policy, DEFAULT_POLICY_SETTINGS);
  assert.deepEqual(defaults.log, { format: "text", level: "info" });

  const long = parseHttpokArgs([
    "--interval",
    "1.5",
    "--failure-threshold=3",
    "--success-threshold",
    "2",
    "--start-grace",
    "10",
    "--max-restarts",
    "2",
    "--restart-window",
    "60",
    "--revive",
    "--dry-run",
    "--max-parallel-restarts",
    "1",
    "--log-format",
    "json",
    "-v",
    "http://127.0.0.1:8080/",
  ]);
  assert.ok(long !== "help");
  assert.deepEqual(long.policy, {
    interval: 1.5,
    startGrace: 10,
    policy: { failureThreshold: 3, successThreshold: 2, maxRestarts: 2, restartWindow: 60 },
    revive: true,
    dryRun: true,
    maxParallelRestarts: 1,
  });
  assert.deepEqual(long.log, { format: "json", level: "debug" });

  const short = parseHttpokArgs([
    "-q",
    "-p",
    "web",
    "-t",
    "3",
    "-c",
    "204",
    "-b",
    "ok",
    "-m",
    "ops@example.com",
    "-s",
    "/bin/true",
    "-g",
    "/bin/echo",
    "-E",
    "-n",
    "shop",
    "http://127.0.0.1:8080/",
  ]);
  assert.ok(short !== "help");
  assert.deepEqual(short.programs, ["web"]);
  assert.equal(short.timeout, 3);
  assert.equal(short.codes.text, "204");
  assert.equal(short.body, "ok");
  assert.deepEqual(short.notify.email, ["ops@example.com"]);
  assert.deepEqual(short.gcore, ["/bin/echo"]);
  assert.equal(short.eager, false);
  assert.equal(short.name, "shop");
  assert.equal(short.log.level, "warn");
  assert.equal(short.verbose, false);
  assert.deepEqual(
    HTTPOK_POLICY_OPTIONS.flatMap((o) => o.short ?? []),
    ["q"],
    "the shared flags add no short form but -q",
  );

  for (
    const [argv, message] of [
      [["--failure-threshold", "0"], /^--failure-threshold: must be 1 or more/],
      [["--interval", "0.1"], /^--interval: expected a number of seconds of at least 0.5/],
      [["--log-format", "xml"], /^--log-format: /],
      [["--max-restarts", "x"], /^--max-restarts: /],
      [["--restart-window", "0"], /^--restart-window: /],
    ] as [string[], RegExp][]
  ) {
    assert.throws(() => parseHttpokArgs([...argv, "http://x/"]), (e) => {
      assert.ok(e instanceof UsageError, `${argv.join(" ")}: ${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("httpok --interval 1: a service answering 500 is restarted within seconds, with TICK_60 only", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port, "", "fail") +
      listenerSection(
        "httpok",
        ["httpok", "-p", "web", "-t", "1", "--interval", "1", `http://127.0.0.1:${port}/ping`],
        dir,
        "events=TICK_60\n",
      ),
  });
  const { "web:web": first } = await sv.waitRunning(["web:web"]);
  await sv.waitLog("httpok", /every 1s/);
  // two restarts: TICK_60 could explain one at most
  const second = await sv.waitRestarted("web:web", first, 20_000);
  await sv.waitRestarted("web:web", second, 20_000);
  assert.match(await sv.listenerLog("httpok"), /web:web \(pid \d+\): restarted \(stopped, started/);
});

Deno.test("httpok --failure-threshold 3: a short outage is tolerated (logged, not mailed), a lasting one is not", async () => {
  await using target = controlled();
  await using sv = await Supervisord.start({
    sections: (dir) =>
      SLEEPER("web") +
      listenerSection("httpok", [
        "httpok",
        "-p",
        "web",
        "-t",
        "2",
        "--interval",
        "1",
        "--failure-threshold",
        "3",
        "--webhook",
        `${target.url}/hook`,
        "-v",
        `${target.url}/ping`,
      ], dir),
  });
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  await sv.waitLog("httpok", /every 1s/);

  // exactly two failed checks in a row, then it answers again
  target.state.failures = 2;
  await sv.waitLog(
    "httpok",
    /web:web \(pid \d+\): failed url 2 of 3 times in a row: not restarting yet/,
  );
  const gets = target.state.gets;
  await waitFor("more passing checks", () => target.state.gets >= gets + 3);
  assert.equal((await sv.process("web:web")).pid, pid, "a short outage is tolerated");
  assert.equal(target.state.posts.length, 0, "a tolerated failure is not reported");

  // the streak started over with the first pass: three more failures, counted from 1, to restart
  const passed = (await sv.listenerLog("httpok")).length;
  target.state.failures = Infinity;
  await sv.waitRestarted("web:web", pid, 30_000);
  target.state.failures = 0;
  const log = await sv.waitLog("httpok", /restarting: failed url/);
  const again = log.slice(passed);
  assert.deepEqual(
    [...again.matchAll(/failed url (\d) of 3 times in a row/g)].map((m) => m[1]),
    ["1", "2"],
    "counted afresh after the pass",
  );
  assert.match(again, /failed url 2 of 3[\s\S]*web:web \(pid \d+\): restarting: failed url/);
  const [report] = await waitFor(
    "the webhook",
    () => target.state.posts.length > 0 && target.state.posts,
  );
  assert.equal(report.outcome, "restarted");
  assert.equal(report.process, "web:web");
  assert.equal(report.pid, pid);
  // TICK_5 rounds are deduplicated with the timer's
  assert.match(
    log,
    /TICK_5: a round started \d+\.\ds ago, not repeating it|skipping TICK_5: the previous round is still running/,
  );
});

Deno.test("httpok --max-restarts 2 --restart-window 60: a service that never passes is restarted exactly twice, then said loudly once", async () => {
  const [port] = freePorts(1);
  await using hook = controlled();
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port, "", "fail") +
      listenerSection("httpok", [
        "httpok",
        "-p",
        "web",
        "-t",
        "1",
        "--interval",
        "1",
        "--max-restarts",
        "2",
        "--restart-window",
        "60",
        "-v",
        "--webhook",
        `${hook.url}/hook`,
        `http://127.0.0.1:${port}/ping`,
      ], dir),
  });
  await sv.waitRunning(["web:web"]);
  const loud =
    /ERROR \[httpok\] web:web \(pid \d+\): NOT restarting: already restarted 2 times within 60s \(--max-restarts 2\); resuming when it passes again or the window moves on/;
  const said = (await sv.waitLog("httpok", loud, 50_000)).length;
  // three more failing rounds, logged at debug only (-v shows them): still no restart, no noise
  const log = await waitFor("three more failing rounds", async () => {
    const text = await sv.listenerLog("httpok");
    return countMatches(text.slice(said), /DEBUG [^\n]*status contacting .*: 500/) >= 3 && text;
  });
  assert.equal(await sv.spawns("web"), 3, "the first start and exactly 2 restarts");
  assert.equal(
    countMatches(log, / (INFO|WARN|ERROR) [^\n]*NOT restarting: already restarted/),
    1,
    "said once",
  );
  const afterLoud = log.slice(log.search(loud)).split("\n").slice(1).join("\n");
  assert.doesNotMatch(
    afterLoud,
    / (WARN|ERROR) /,
    "then nothing above debug while nothing changes",
  );
  const outcomes = await waitFor("the suppression report", () => {
    // "skipped": a first round may find it still STARTING
    const outcomes = hook.state.posts.map((r) => r.outcome).filter((o) => o !== "skipped");
    return outcomes.includes("suppressed") && outcomes;
  });
  assert.deepEqual(outcomes, ["restarted", "restarted", "suppressed"]);

  await sv.client.call("supervisor.signalProcess", ["httpok", "USR2"]);
  const dump = await sv.waitLog("httpok", /SUPPRESSED/);
  assert.match(
    dump,
    /INFO \[httpok\] state: http:\/\/127\.0\.0\.1:\d+\/ping: failed \d+ rounds in a row \(restarts after 1\)/,
  );
  assert.match(
    dump,
    /INFO \[httpok\] web:web \(pid \d+\): state: failed \d+ rounds? in a row \(restarts after 1\); last verdict unhealthy \(url: status contacting .*: 500 Internal Server Error \(expected 200\)\); restarted 2 times in the last 60s \(at .*\); restarts SUPPRESSED \(budget spent\)/,
  );
});

Deno.test("httpok --dry-run --log-format json: restarts nothing, runs no gcore, logs and mails what it would do", async () => {
  const [port] = freePorts(1);
  let coredir = "";
  await using sv = await Supervisord.start({
    sections: (dir) => {
      coredir = `${dir}/cores`;
      Deno.mkdirSync(coredir);
      const gcore = writeScript(dir, "fake-gcore", `touch "${dir}/gcore-ran"`);
      return webProgram("web", port, "", "fail") + listenerSection("httpok", [
        "httpok",
        "-p",
        "web",
        "-t",
        "1",
        "--interval",
        "1",
        "--dry-run",
        "--log-format",
        "json",
        "-g",
        gcore,
        "-d",
        coredir,
        "-m",
        "ops@example.com",
        "-s",
        fakeSendmail(dir),
        `http://127.0.0.1:${port}/ping`,
      ], dir);
    },
  });
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  // (a first round may find it still STARTING: that mail says so)
  const mail = await waitFor(
    "a mail",
    async () => (await mails(sv.dir)).find((m) => m.includes("would restart it")),
  );
  // two more failing rounds (each would restart it): still nothing done
  const seen = (await sv.listenerLog("httpok")).length;
  await waitFor(
    "two more rounds",
    async () => countMatches((await sv.listenerLog("httpok")).slice(seen), /would restart/) >= 2,
  );
  assert.equal((await sv.process("web:web")).pid, pid, "a dry run restarts nothing");
  assert.equal(await sv.spawns("web"), 1);
  await assert.rejects(Deno.stat(`${sv.dir}/gcore-ran`), Deno.errors.NotFound, "no gcore");

  assert.match(mail, /^Subject: httpok: http:\/\/127\.0\.0\.1:\d+\/ping: bad status returned$/m);
  assert.match(mail, /^dry run: would restart selected processes web$/m);
  assert.match(
    mail,
    new RegExp(
      `^dry run: web:web \\(pid ${pid}\\) is in RUNNING state, would restart it after a core ` +
        `dump \\(gcore not run\\); nothing done$`,
      "m",
    ),
  );

  const lines = (await sv.listenerLog("httpok")).trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.length > 3);
  for (const l of lines) {
    assert.equal(l.check, "httpok");
    assert.ok(!Number.isNaN(Date.parse(l.time)));
    assert.ok(["debug", "info", "warn", "error"].includes(l.level));
  }
  assert.ok(lines.some((l) => l.level === "info" && /^listening: .*DRY RUN/.test(l.message)));
  const failed = lines.find((l) => l.verdict === "unhealthy");
  assert.equal(failed.level, "warn");
  assert.equal(failed.reason, "url");
  assert.equal(typeof failed.durationMs, "number");
  assert.match(failed.message, /500 Internal Server Error/);
  const dry = lines.find((l) =>
    /^dry run: would restart \(failed url\) after a core dump/.test(l.message)
  );
  assert.equal(dry.process, "web:web");
  assert.equal(dry.pid, pid);
});

Deno.test("httpok --start-grace waits for a young program; --revive starts a failed one; -q logs warnings only", async () => {
  const [young] = freePorts(1);
  await using passing = controlled();
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("young", young, "", "fail") +
      // exits 3 after a second, once: supervisord leaves it EXITED (autorestart=false)
      `[program:quitter]
command=sh -c 'if [ -e ${dir}/quit-once ]; then exec sleep 600; fi; touch ${dir}/quit-once; sleep 1; exit 3'
startsecs=0
autorestart=false
` +
      listenerSection("grace", [
        "httpok",
        "-n",
        "grace",
        "-p",
        "young",
        "-t",
        "1",
        "--interval",
        "1",
        "--start-grace",
        "6",
        "-v",
        `http://127.0.0.1:${young}/ping`,
      ], dir) +
      listenerSection("reviver", [
        "httpok",
        "-n",
        "reviver",
        "-p",
        "quitter",
        "--interval",
        "1",
        "--revive",
        "-q",
        `${passing.url}/ping`,
      ], dir),
  });
  const { "young:young": pid } = await sv.waitRunning(["young:young"]);
  const { start } = await sv.process("young:young");

  // start grace: failing from the start, not restarted before 6 s of RUNNING
  await sv.waitLog(
    "grace",
    /young:young \(pid \d+\): in start grace \(\d+\.\ds of 6s\), not judged/,
  );
  await sv.waitRestarted("young:young", pid, 30_000);
  const restarting = (await sv.waitLog("grace", /restarting: failed url/)).split("\n")
    .find((l) => new RegExp(`young:young \\(pid ${pid}\\): restarting: failed url`).test(l));
  assert.ok(restarting);
  // supervisord's start is whole seconds, as the listener reads it
  assert.ok(logLineTime(restarting) - start >= 6, `${restarting}: started at ${start}`);

  // revive: EXITED with status 3 is started again, though the URL passes
  const revived = await sv.waitLog(
    "reviver",
    /WARN \[reviver\] quitter:quitter: restarted \(started from EXITED\): new pid \d+/,
    30_000,
  );
  assert.match(revived, /quitter:quitter: reviving: was EXITED with status 3/);
  await sv.waitRunning(["quitter:quitter"]);
  assert.doesNotMatch(revived, /INFO|DEBUG/, "-q: warnings and errors only");
});

Deno.test("httpok --max-parallel-restarts 1: never two programs of a group restarting at once, each in turn", async () => {
  // guarantee: Restarts beside rounds
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("one", port, "", "fail") + SLEEPER("two") +
      "[group:pool]\nprograms=one,two\n" +
      listenerSection("httpok", [
        "httpok",
        "-p",
        "pool:one",
        "-p",
        "pool:two",
        "-t",
        "1",
        "--interval",
        "1",
        "--max-parallel-restarts",
        "1",
        `http://127.0.0.1:${port}/ping`,
      ], dir),
  });
  const before = await sv.waitRunning(["pool:one", "pool:two"]);
  await sv.waitLog(
    "httpok",
    /pool:\w+ \(pid \d+\): restart \(failed url\) deferred: 1 restart\(s\) in group 'pool' under way \(--max-parallel-restarts 1\)/,
  );
  // neither waits for ever: the longer-failing one goes first
  await sv.waitRestarted("pool:one", before["pool:one"], 30_000);
  await sv.waitRestarted("pool:two", before["pool:two"], 30_000);
  await sv.waitLog("httpok", /pool:two \(pid \d+\): restarted/);
  // in the log's order: a restart begins, and ends, before the next begins
  let inFlight = 0;
  let begun = 0;
  for (const line of (await sv.listenerLog("httpok")).split("\n")) {
    if (/ pool:\w+ \(pid \d+\): restarting: /.test(line)) {
      begun++;
      assert.equal(++inFlight, 1, `two restarts of group pool at once:\n${line}`);
    } else if (/ pool:\w+ \(pid \d+\): restart(ed|( failed| skipped| handed over):)/.test(line)) {
      inFlight--;
    }
  }
  assert.ok(begun >= 2, "both restarted");
});
