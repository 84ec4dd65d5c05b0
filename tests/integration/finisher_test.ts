/**
 * A restart in progress is never abandoned, whoever stops the listener:
 * the finisher (lib/finisher.ts) starts the service again when the listener
 * is stopped by supervisord (and SIGKILLed after its stopwaitsecs) or
 * killed outright. And two `run --config` entries judging the same process
 * unhealthy restart it once, without a false failure.
 */
import assert from "node:assert/strict";
import { freePorts, listenerSection, shq, Supervisord, waitFor } from "../support/supervisord.ts";

/** Ignores SIGTERM: supervisord stops it only by SIGKILL after its stopwaitsecs. */
const stubborn = (name: string, stopwaitsecs: number) =>
  `[program:${name}]
command=sh -c 'trap "" TERM; exec sleep 600'
startsecs=0
stopwaitsecs=${stopwaitsecs}
autorestart=false
`;

/** An exec check listener judging `group` unhealthy while the file `bad` exists. */
function guardListener(dir: string, group: string) {
  return listenerSection(
    "guard",
    [
      "exec",
      "-n",
      "guard",
      "-g",
      group,
      "--command",
      `test ! -e ${shq(`${dir}/bad`)}`,
      "--interval",
      "1",
    ],
    dir,
    "events=TICK_60\nstopwaitsecs=2\n",
  );
}

async function waitStopping(sv: Supervisord, spec: string) {
  await waitFor(`${spec} STOPPING`, async () => (await sv.process(spec)).statename === "STOPPING");
}

/** Makes the guard listener restart `spec`; returns its pid once the stop is under way. */
async function restartUnderWay(sv: Supervisord, spec: string): Promise<number> {
  const { [spec]: pid } = await sv.waitRunning([spec]);
  await sv.waitLog("guard", /every 1s/);
  await Deno.writeTextFile(`${sv.dir}/bad`, "");
  await waitStopping(sv, spec);
  await Deno.remove(`${sv.dir}/bad`);
  return pid;
}

Deno.test("finisher: the listener stopped by supervisord mid-restart (its stopwaitsecs 2 < the service's 6): the service is started again", async () => {
  // guarantee: A restart once begun is always finished
  await using sv = await Supervisord.start({
    sections: (dir) => stubborn("slow", 6) + guardListener(dir, "slow"),
  });
  const pid = await restartUnderWay(sv, "slow:slow");
  // supervisorctl stop guard: SIGTERM, SIGKILL after 2 s; the service needs 6 s to stop
  await sv.client.stopProcess("guard");
  assert.equal((await sv.process("guard")).statename, "STOPPED");
  const newPid = await sv.waitRestarted("slow:slow", pid, 30_000);
  assert.notEqual(newPid, pid);
  const log = await sv.waitLog("guard", /finisher: started it again: new pid \d+/);
  assert.match(log, /received SIGTERM, stopping/);
  assert.match(log, /slow:slow \(pid \d+\): restart handed over: the listener is stopping/);
  assert.match(log, new RegExp(`finisher: started it again: new pid ${newPid}`));
  assert.doesNotMatch(await sv.supervisordLog(), /killing 'guard'/, "it did not wait to be killed");
});

Deno.test("finisher: the listener SIGKILLed mid-restart: the service is started again", async () => {
  // guarantee: A restart once begun is always finished
  await using sv = await Supervisord.start({
    sections: (dir) => stubborn("slow", 4) + guardListener(dir, "slow"),
  });
  const pid = await restartUnderWay(sv, "slow:slow");
  await sv.kill("guard", "SIGKILL");
  await waitFor("the listener gone", async () => (await sv.process("guard")).pid === 0);
  const newPid = await sv.waitRestarted("slow:slow", pid, 30_000);
  const log = await sv.waitLog("guard", /finisher: started it again/);
  assert.match(log, /the listener ended during the restart of slow:slow/);
  assert.match(log, new RegExp(`finisher: started it again: new pid ${newPid}`));
});

Deno.test("finisher: httpok stopped by supervisord mid-restart: the service is started again", async () => {
  // guarantee: A restart once begun is always finished
  const [closed] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      stubborn("slow", 6) +
      // nothing listens on the port: every check fails
      listenerSection(
        "httpok",
        [
          "httpok",
          "-p",
          "slow",
          "-t",
          "1",
          "--interval",
          "1",
          `http://127.0.0.1:${closed}/`,
        ],
        dir,
        "events=TICK_60\nstopwaitsecs=2\n",
      ),
  });
  const { "slow:slow": pid } = await sv.waitRunning(["slow:slow"]);
  await waitStopping(sv, "slow:slow");
  await sv.client.stopProcess("httpok");
  const newPid = await sv.waitRestarted("slow:slow", pid, 30_000);
  const log = await sv.waitLog("httpok", /finisher: started it again/);
  assert.match(log, /slow:slow \(pid \d+\): restart handed over: the listener is stopping/);
  assert.match(log, new RegExp(`finisher: started it again: new pid ${newPid}`));
});

Deno.test("finisher: a restart the listener completes leaves the finisher nothing to do", async () => {
  // guarantee: A restart once begun is always finished
  await using sv = await Supervisord.start({
    sections: (dir) => stubborn("quick", 1) + guardListener(dir, "quick"),
  });
  const pid = await restartUnderWay(sv, "quick:quick");
  const newPid = await sv.waitRestarted("quick:quick", pid);
  await sv.waitLog("guard", new RegExp(`restarted \\(stopped, started\\): new pid ${newPid}`));
  await sv.client.stopProcess("guard");
  const log = await sv.listenerLog("guard");
  assert.match(log, /received SIGTERM, stopping/);
  assert.doesNotMatch(log, /finisher/);
  assert.equal((await sv.process("quick:quick")).pid, newPid);
});

Deno.test("run --config: two entries judging the same process unhealthy restart it once, no false failure", async () => {
  // guarantee: One restart per process
  const [hook] = freePorts(1);
  const reports: Record<string, unknown>[] = [];
  const receiver = Deno.serve({ hostname: "127.0.0.1", port: hook, onListen() {} }, async (req) => {
    reports.push(await req.json());
    return new Response("ok");
  });
  try {
    await using sv = await Supervisord.start({
      sections: (dir) => {
        // unhealthy while its pid is the one written in `bad`: a new process passes
        const command = `test "$SUPERVISOR_CHECK_PID" != "$(cat ${dir}/bad 2>/dev/null)"`;
        Deno.writeTextFileSync(
          `${dir}/checks.yaml`,
          JSON.stringify({
            verbose: true,
            webhook: [`http://127.0.0.1:${hook}/`],
            checks: [
              { name: "one", process: "svc:svc", exec: { command } },
              { name: "two", process: "svc:svc", exec: { command } },
            ],
          }),
        );
        return stubborn("svc", 2) +
          listenerSection(
            "multi",
            ["run", "--config", `${dir}/checks.yaml`],
            dir,
            "events=TICK_5\n",
          );
      },
    });
    const { "svc:svc": pid } = await sv.waitRunning(["svc:svc"]);
    await sv.waitLog("multi", /\[two\] listening/);
    await Deno.writeTextFile(`${sv.dir}/bad`, String(pid));
    const newPid = await sv.waitRestarted("svc:svc", pid);
    // both entries judge the new process on a later TICK: nothing more can come of the old one
    await sv.waitLog(
      "multi",
      new RegExp(
        `\\[one\\] svc:svc \\(pid ${newPid}\\): exec healthy[^]*\\[two\\] svc:svc \\(pid ${newPid}\\): exec healthy|` +
          `\\[two\\] svc:svc \\(pid ${newPid}\\): exec healthy[^]*\\[one\\] svc:svc \\(pid ${newPid}\\): exec healthy`,
      ),
      30_000,
    );
    const log = await sv.listenerLog("multi");
    assert.doesNotMatch(log, /restart failed/);
    const spawned = (await sv.supervisordLog()).match(/spawned: 'svc' with pid/g) ?? [];
    assert.equal(spawned.length, 2, "started once, restarted once");
    const outcomes = await waitFor("both reports", () => reports.length >= 2 && reports);
    assert.deepEqual(outcomes.map((r) => r.outcome).sort(), ["restarted", "skipped"]);
    const skipped = outcomes.find((r) => r.outcome === "skipped")!;
    assert.match(String(skipped.detail), /already being restarted by (one|two) \(restarted: /);
    assert.match(log, /restart skipped: already being restarted by (one|two)/);
  } finally {
    await receiver.shutdown();
  }
});
