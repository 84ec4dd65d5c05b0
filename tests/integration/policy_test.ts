/**
 * Probe timing, thresholds and flap protection under a real supervisord:
 * --interval, --failure-threshold, --start-grace, --max-restarts,
 * --dry-run, --revive, --max-parallel-restarts, --log-format json and the
 * SIGUSR1/SIGUSR2 state dump.
 */
import assert from "node:assert/strict";
import {
  freePorts,
  listenerSection,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times supervisord spawned `name` (the first start included). */
async function spawns(sv: Supervisord, name: string): Promise<number> {
  return ((await sv.supervisordLog()).match(new RegExp(`spawned: '${name}' with pid`, "g")) ?? [])
    .length;
}

Deno.test("--interval 1: a frozen service is restarted within seconds, with TICK_60 only", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("fast", port) +
      listenerSection(
        "fastcheck",
        [
          "http",
          "-n",
          "fastcheck",
          "-g",
          "fast",
          "-p",
          String(port),
          "-u",
          "/ping",
          "--interval",
          "1",
          "-t",
          "1",
          "-r",
          "0",
        ],
        dir,
        "events=TICK_60\n",
      ),
  });
  const { "fast:fast": pid } = await sv.waitRunning(["fast:fast"]);
  await sv.waitLog("fastcheck", /every 1s/);
  const frozenAt = Date.now();
  await sv.kill("fast:fast", "SIGSTOP");
  // TICK_60 would take up to a minute; the own timer must not
  await sv.waitRestarted("fast:fast", pid, 20_000);
  assert.ok(Date.now() - frozenAt < 20_000);
});

Deno.test("--failure-threshold: a short hang is tolerated, a lasting one is not", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("slowpoke", port) +
      listenerSection("patient", [
        "http",
        "-n",
        "patient",
        "-g",
        "slowpoke",
        "-p",
        String(port),
        "-u",
        "/ping",
        "--interval",
        "1",
        "-t",
        "1",
        "-r",
        "0",
        "--failure-threshold",
        "6",
      ], dir),
  });
  const { "slowpoke:slowpoke": pid } = await sv.waitRunning(["slowpoke:slowpoke"]);
  await sv.waitLog("patient", /every 1s/);
  await sv.kill("slowpoke:slowpoke", "SIGSTOP");
  await sv.waitLog("patient", /failed http 2 of 6 times in a row: not restarting yet/);
  Deno.kill(pid, "SIGCONT");
  await sleep(4000);
  assert.equal((await sv.process("slowpoke:slowpoke")).pid, pid, "a short hang is tolerated");
  await sv.kill("slowpoke:slowpoke", "SIGSTOP");
  await sv.waitRestarted("slowpoke:slowpoke", pid, 40_000);
  await sv.waitLog("patient", /failed http 5 of 6 times in a row/);
});

Deno.test("--max-restarts 3 --restart-window 60: a service that never passes is restarted exactly 3 times", async () => {
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
          "--interval",
          "1",
          "-t",
          "1",
          "-r",
          "0",
          "--max-restarts",
          "3",
          "--restart-window",
          "60",
          "--webhook",
          `http://127.0.0.1:${hook}/hook`,
        ], dir),
    });
    await sv.waitRunning(["broken:broken"]);
    const log = await sv.waitLog(
      "budget",
      /ERROR \[budget\] broken:broken \(pid \d+\): NOT restarting: already restarted 3 times within 60s/,
      60_000,
    );
    await sleep(5000); // more failing rounds: still no restart
    assert.equal(await spawns(sv, "broken"), 4, "the first start and exactly 3 restarts");
    assert.equal((log.match(/NOT restarting/g) ?? []).length, 1, "said loudly once");
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
  const [young, dry] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("young", young) +
      webProgram("dry", dry) +
      // exits 3 after a second, once: supervisord leaves it EXITED (autorestart=false)
      `[program:quitter]
command=sh -c 'if [ -e ${dir}/quit-once ]; then exec sleep 600; fi; touch ${dir}/quit-once; sleep 1; exit 3'
startsecs=0
autorestart=false
` +
      listenerSection("gracecheck", [
        "http",
        "-n",
        "gracecheck",
        "-g",
        "young",
        "-p",
        String(young),
        "-u",
        "/ping",
        "--interval",
        "1",
        "-t",
        "1",
        "-r",
        "0",
        "--start-grace",
        "8",
        "-v",
      ], dir) +
      listenerSection("drycheck", [
        "http",
        "-n",
        "drycheck",
        "-g",
        "dry",
        "-p",
        String(dry),
        "-u",
        "/ping",
        "--interval",
        "1",
        "-t",
        "1",
        "-r",
        "0",
        "--dry-run",
        "--log-format",
        "json",
      ], dir) +
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

  // start grace: frozen at once, not judged before 8 s of RUNNING, then restarted
  await sv.waitLog(
    "gracecheck",
    /young:young \(pid \d+\): in start grace \(\d+\.\ds of 8s\), not judged/,
  );
  const graceLog = await sv.waitLog("gracecheck", /restarting: failed http/, 30_000);
  const start = (await sv.client.getProcessInfo("young:young")).start;
  assert.ok(start > 0);
  assert.ok(
    !/young:young.*restarting[\s\S]*in start grace \(\d\.\ds of 8s\), not judged[\s\S]*restarting/
      .test(graceLog),
  );
  await sv.waitRestarted("young:young", pids["young:young"]);

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

  // state dump on SIGUSR2 (and SIGUSR1)
  await sv.client.call("supervisor.signalProcess", ["gracecheck", "USR2"]);
  await sv.waitLog(
    "gracecheck",
    /young:young \(pid \d+\): state: (no failure streak|failed \d+ rounds? in a row \(restarts after 1\))(, passed the last \d+ rounds?)?; (last verdict|not judged)/,
  );
  Deno.kill(pids["dry:dry"], "SIGCONT");
});

Deno.test("--max-parallel-restarts 1: a group never loses more than one process at once", async () => {
  const ports = freePorts(3);
  const names = ports.map((p) => `pool_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n, i) => webProgram(n, ports[i])).join("") +
      `[group:pool]\nprograms=${names.join(",")}\n` +
      listenerSection("careful", [
        "http",
        "-n",
        "careful",
        "-g",
        "pool",
        "-p",
        ".+_(\\d+)",
        "-u",
        "/ping",
        "--interval",
        "1",
        "-t",
        "1",
        "-r",
        "0",
        "--max-parallel-restarts",
        "1",
      ], dir),
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
