/**
 * Probe timing, thresholds and flap protection under a real supervisord:
 * --interval, --failure-threshold, --start-grace, --max-restarts,
 * --dry-run, --revive, --max-parallel-restarts, --log-format json and the
 * SIGUSR2 state dump.
 */
import assert from "node:assert/strict";
import {
  countMatches,
  EVERY_SECOND,
  freePorts,
  listenerSection,
  logLineTime,
  pingArgs,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

Deno.test("--interval 1: a frozen service is restarted within seconds, with TICK_60 only", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("fast", port) +
      listenerSection(
        "fastcheck",
        pingArgs("fastcheck", "fast", port, ...EVERY_SECOND, "-v"),
        dir,
        "events=TICK_60\n",
      ),
  });
  const { "fast:fast": pid } = await sv.waitRunning(["fast:fast"]);
  // TICK_60 can explain one round at most: the other comes from the own timer
  await waitFor(
    "two rounds",
    async () => countMatches(await sv.listenerLog("fastcheck"), /http healthy/) >= 2,
  );
  await sv.kill("fast:fast", "SIGSTOP");
  await sv.waitRestarted("fast:fast", pid, 20_000);
});

Deno.test("--failure-threshold: a short hang is tolerated, a lasting one is not", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("slowpoke", port) +
      listenerSection(
        "patient",
        pingArgs(
          "patient",
          "slowpoke",
          port,
          ...EVERY_SECOND,
          "--failure-threshold",
          "4",
          "-v",
        ),
        dir,
      ),
  });
  const { "slowpoke:slowpoke": pid } = await sv.waitRunning(["slowpoke:slowpoke"]);
  await sv.waitLog("patient", /every 1s/);
  await sv.kill("slowpoke:slowpoke", "SIGSTOP");
  const hung = await sv.waitLog("patient", /failed http 1 of 4 times in a row: not restarting yet/);
  Deno.kill(pid, "SIGCONT");
  // the round that passes again ends the streak, with nothing restarted
  const passed = await sv.waitLogAfter("patient", hung.length, /http healthy.*\n/);
  assert.doesNotMatch(passed, /restarting/, "a short hang is tolerated");
  assert.equal((await sv.process("slowpoke:slowpoke")).pid, pid);

  // the streak started over: four more failed rounds, counted from 1, before the restart
  const mark = hung.length + passed.search(/http healthy.*\n/);
  await sv.kill("slowpoke:slowpoke", "SIGSTOP");
  await sv.waitRestarted("slowpoke:slowpoke", pid, 40_000);
  const again = await sv.waitLogAfter("patient", mark, /restarting: failed http/);
  const counts = [...again.matchAll(/failed http (\d) of 4 times in a row/g)].map((m) => m[1]);
  assert.deepEqual(counts, ["1", "2", "3"], "counted afresh after the pass");
});

Deno.test("--max-restarts 3 --restart-window 60: a service that never passes is restarted exactly 3 times", async () => {
  // guarantee: Said once
  const [port, hook] = freePorts(2);
  const reports: Record<string, unknown>[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: hook, onListen() {} }, async (req) => {
    reports.push(await req.json());
    return new Response("ok");
  });
  try {
    await using sv = await Supervisord.start({
      sections: (dir) =>
        webProgram("broken", port, "", "fail") +
        listenerSection("budget", [
          "http",
          "-n",
          "budget",
          "-g",
          "broken",
          "-p",
          String(port),
          "-u",
          "/ping",
          ...EVERY_SECOND,
          "--max-restarts",
          "3",
          "--restart-window",
          "60",
          "-v",
          "--webhook",
          `http://127.0.0.1:${hook}/hook`,
        ], dir),
    });
    await sv.waitRunning(["broken:broken"]);
    const loud = await sv.waitLog(
      "budget",
      /ERROR \[budget\] broken:broken \(pid \d+\): NOT restarting: already restarted 3 times within 60s/,
      60_000,
    );
    // three more failing rounds, logged at debug only (-v shows them): still no restart, no noise
    const later = await sv.waitLogAfter(
      "budget",
      loud.length,
      /(DEBUG [^\n]*http unhealthy[\s\S]*){3}/,
    );
    assert.equal(await sv.spawns("broken"), 4, "the first start and exactly 3 restarts");
    assert.equal(
      countMatches(loud + later, / (INFO|WARN|ERROR) [^\n]*NOT restarting/),
      1,
      "said loudly once",
    );
    assert.doesNotMatch(later, /restarting: failed/);
    assert.doesNotMatch(later, / (WARN|ERROR) /, "then nothing above debug while nothing changes");

    // guarantee: Signals (the SIGUSR2 state dump: restarts in the window, suppression)
    await sv.client.call("supervisor.signalProcess", ["budget", "USR2"]);
    const dump = await sv.waitLogAfter("budget", loud.length + later.length, /state: /);
    const iso = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z";
    assert.match(
      dump,
      new RegExp(
        `^${iso} INFO \\[budget\\] broken:broken \\(pid \\d+\\): state: failed \\d+ rounds in a ` +
          `row \\(restarts after 1\\); last verdict unhealthy \\(http: GET ` +
          `http://127\\.0\\.0\\.1:${port}/ping: HTTP 500 [^)]*\\); restarted 3 times in the last ` +
          `60s \\(at ${iso}, ${iso}, ${iso}\\); restarts SUPPRESSED \\(budget spent\\)$`,
        "m",
      ),
    );
    await waitFor(
      "the suppression notification",
      () => reports.some((r) => r.outcome === "suppressed"),
    );
    const restarted = reports.filter((r) => r.outcome === "restarted");
    assert.equal(restarted.length, 3);
    assert.equal(restarted[0].process, "broken:broken");
    assert.equal(restarted[0].check, "budget");
    assert.match(String(restarted[0].reason), /http/);
  } finally {
    await receiver.shutdown();
  }
});

Deno.test("--start-grace, --dry-run, --revive, --log-format json and the state dump, side by side", async () => {
  // guarantee: Logs
  const [youngPort, dry] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("young", youngPort) +
      webProgram("dry", dry) +
      // exits 3 after a second, once: supervisord leaves it EXITED (autorestart=false)
      `[program:quitter]
command=sh -c 'if [ -e ${dir}/quit-once ]; then exec sleep 600; fi; touch ${dir}/quit-once; sleep 1; exit 3'
startsecs=0
autorestart=false
` +
      listenerSection(
        "gracecheck",
        pingArgs(
          "gracecheck",
          "young",
          youngPort,
          ...EVERY_SECOND,
          "--start-grace",
          "4",
          "-v",
        ),
        dir,
      ) +
      listenerSection(
        "drycheck",
        pingArgs(
          "drycheck",
          "dry",
          dry,
          ...EVERY_SECOND,
          "--dry-run",
          "--log-format",
          "json",
        ),
        dir,
      ) +
      listenerSection("reviver", [
        "exec",
        "-n",
        "reviver",
        "-g",
        "quitter",
        "--command",
        "true",
        "--interval",
        "1",
        "--revive",
      ], dir),
  });
  const pids = await sv.waitRunning(["young:young", "dry:dry"]);
  await sv.kill("young:young", "SIGSTOP");
  await sv.kill("dry:dry", "SIGSTOP");

  // start grace: frozen at once, not judged before 4 s of RUNNING, then restarted
  const { start } = await sv.process("young:young");
  const graceLog = await sv.waitLog("gracecheck", /restarting: failed http/, 30_000);
  const young = graceLog.split("\n").filter((l) => l.includes(`(pid ${pids["young:young"]})`));
  const judged = young.findIndex((l) => /http unhealthy/.test(l));
  assert.ok(judged > 0);
  assert.match(young[judged - 1], /in start grace \(\d\.\ds of 4s\), not judged/);
  // supervisord's start is whole seconds, as the listener reads it
  assert.ok(logLineTime(young[judged]) - start >= 4, `judged at ${young[judged]}, start ${start}`);
  const newPid = await sv.waitRestarted("young:young", pids["young:young"]);
  // a restart starts the grace again: the new process, not frozen, passes once 4 s old
  const renewed = await sv.waitLog(
    "gracecheck",
    new RegExp(`young:young \\(pid ${newPid}\\): http healthy`),
    20_000,
  );
  const newLife = renewed.split("\n").filter((l) => l.includes(`(pid ${newPid})`));
  const firstJudged = newLife.findIndex((l) => /http healthy/.test(l));
  assert.ok(
    newLife.slice(0, firstJudged).some((l) => /in start grace \(\d\.\ds of 4s\)/.test(l)),
    newLife.join("\n"),
  );
  const newStart = (await sv.process("young:young")).start;
  assert.ok(
    logLineTime(newLife[firstJudged]) - newStart >= 4,
    `${newLife[firstJudged]} vs ${newStart}`,
  );

  // dry run: logged (as JSON), nothing done
  const dryLog = await sv.waitLog("drycheck", /dry run: would restart/);
  assert.equal((await sv.process("dry:dry")).pid, pids["dry:dry"], "dry run restarts nothing");
  const lines = dryLog.trim().split("\n").map((l) => JSON.parse(l));
  const unhealthy = lines.find((l) => l.verdict === "unhealthy");
  assert.equal(unhealthy.check, "drycheck");
  assert.equal(unhealthy.process, "dry:dry");
  assert.equal(unhealthy.pid, pids["dry:dry"]);
  assert.equal(typeof unhealthy.durationMs, "number");
  assert.equal(unhealthy.level, "warn");
  assert.ok(lines.some((l) => /^dry run: would restart \(failed http\)/.test(l.message)));

  // revive: EXITED with status 3 is started again
  await sv.waitLog("reviver", /quitter:quitter: reviving: was EXITED/, 20_000);
  await sv.waitRunning(["quitter:quitter"]);

  // guarantee: Signals (the SIGUSR2 state dump: streaks, last result, restarts in the window)
  const before = (await sv.listenerLog("gracecheck")).length;
  await sv.client.call("supervisor.signalProcess", ["gracecheck", "USR2"]);
  const dump = (await sv.waitLogAfter("gracecheck", before, /state: .*\n/)).split("\n")
    .filter((l) => l.includes("state: "));
  const restartedAt = graceLog.split("\n").find((l) => l.includes("restarting: failed http"))!;
  assert.equal(dump.length, 1, `one line per judged process: ${dump}`);
  const m = new RegExp(
    `^(\\S+) INFO \\[gracecheck\\] young:young \\(pid ${newPid}\\): state: ` +
      `no failure streak, passed the last (\\d+) rounds?; last verdict healthy \\(http: GET ` +
      `http://127\\.0\\.0\\.1:${youngPort}/ping: HTTP 200 in \\d+ ms\\); ` +
      `restarted 1 time in the last \\d+s \\(at (\\S+)\\)$`,
  ).exec(dump[0]);
  assert.ok(m, dump[0]);
  assert.ok(Number(m[2]) >= 1);
  // the restart was recorded right before it was logged
  assert.ok(Date.parse(m[3]) / 1000 <= logLineTime(restartedAt), `${m[3]} vs ${restartedAt}`);
  assert.ok(Date.parse(m[3]) / 1000 >= logLineTime(young[judged]));
  Deno.kill(pids["dry:dry"], "SIGCONT");
});

Deno.test("--max-parallel-restarts 1: a group never loses more than one process at once", async () => {
  const ports = freePorts(3);
  const names = ports.map((p) => `pool_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n, i) => webProgram(n, ports[i])).join("") +
      `[group:pool]\nprograms=${names.join(",")}\n` +
      listenerSection(
        "careful",
        pingArgs(
          "careful",
          "pool",
          ".+_(\\d+)",
          ...EVERY_SECOND,
          "--max-parallel-restarts",
          "1",
        ),
        dir,
      ),
  });
  const specs = names.map((n) => `pool:${n}`);
  const before = await sv.waitRunning(specs);
  for (const spec of specs) await sv.kill(spec, "SIGSTOP");
  await sv.waitLog(
    "careful",
    /restart \(failed http\) deferred: 1 restart\(s\) in group 'pool' under way/,
  );
  // all come back in the end, one at a time
  for (const spec of specs) await sv.waitRestarted(spec, before[spec], 60_000);
  // supervisord logs "waiting for X to stop" (repeatedly) until "stopped: X"
  const stopping = new Set<string>();
  let most = 0;
  for (
    const m of (await sv.supervisordLog()).matchAll(
      /waiting for (pool_\d+) to stop|stopped: (pool_\d+)/g,
    )
  ) {
    if (m[1]) stopping.add(m[1]);
    else stopping.delete(m[2]);
    most = Math.max(most, stopping.size);
  }
  assert.equal(most, 1, "never two stops of the group under way at once");
});
