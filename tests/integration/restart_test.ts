/**
 * The restart step against a real supervisord: it acts only on a process
 * that is still RUNNING with the pid that failed, and names faults.
 */
import assert from "node:assert/strict";
import type { ProcessInfo } from "../../lib/check.ts";
import { readStat, readUid } from "../../lib/proc.ts";
import { restartProcess } from "../../lib/restart.ts";
import { SupervisorFault } from "../../lib/supervisor.ts";
import { DENO, REPO, Supervisord, waitFor } from "../support/supervisord.ts";

const RESTART_ONCE = `${REPO}tests/fixtures/restart_once.ts`;

const SLEEPER = (name: string, extra = "stopwaitsecs=1") =>
  `[program:${name}]\ncommand=sleep 600\nstartsecs=0\n${extra}\n`;

/**
 * Freezes a SLEEPER with SIGSTOP and returns once it is stopped (state T).
 * startsecs=0: supervisord says RUNNING as soon as it has forked, while its
 * child may still be supervisord itself, as root, before it drops to user=
 * and execs; frozen there, it is not the process the test means. So first
 * wait until the child runs sleep. SIGSTOP itself is delivered asynchronously.
 */
async function freeze(sv: Supervisord, spec: string): Promise<number> {
  const { pid } = await sv.process(spec);
  await waitFor(
    `${spec} (pid ${pid}) to run sleep`,
    async () => (await Deno.readTextFile(`/proc/${pid}/comm`)).trim() === "sleep",
  );
  await sv.kill(spec, "SIGSTOP");
  await waitFor(
    `${spec} (pid ${pid}) to be stopped`,
    async () => (await readStat(pid))?.state === "T",
  );
  return pid;
}

Deno.test("restart: same pid and RUNNING → stopped and started with a new pid", async () => {
  // guarantee: Restarts
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  const { "a:a": pid } = await sv.waitRunning(["a:a"]);
  const r = await restartProcess(sv.client, await sv.process("a:a"));
  assert.equal(r.outcome, "restarted", r.detail);
  assert.equal(r.detail, "stopped, started");
  const now = await sv.process("a:a");
  assert.equal(now.statename, "RUNNING");
  assert.notEqual(now.pid, pid);
  assert.equal(r.newPid, now.pid);
});

Deno.test("restart: a pid that changed since the check is left alone", async () => {
  // guarantee: Restarts
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  await sv.waitRunning(["a:a"]);
  const current = await sv.process("a:a");
  const stale: ProcessInfo = { ...current, pid: current.pid + 100000 };
  const r = await restartProcess(sv.client, stale);
  assert.equal(r.outcome, "skipped");
  assert.match(r.detail, /pid changed from \d+ to \d+ since the check: already restarted/);
  assert.equal((await sv.process("a:a")).pid, current.pid, "untouched");
});

Deno.test("restart: a process no longer RUNNING is left to supervisord", async () => {
  // guarantee: Restarts
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  await sv.waitRunning(["a:a"]);
  const seen = await sv.process("a:a");
  await sv.client.stopProcess("a:a");
  const r = await restartProcess(sv.client, seen);
  assert.equal(r.outcome, "skipped");
  assert.equal(r.detail, "now STOPPED, not RUNNING: left to supervisord");
  assert.equal((await sv.process("a:a")).statename, "STOPPED", "not started again");
});

Deno.test("restart: a process supervisord does not know is reported with the fault name", async () => {
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  const ghost: ProcessInfo = {
    name: "ghost",
    group: "ghost",
    pid: 1,
    state: 20,
    statename: "RUNNING",
    start: 0,
  };
  const r = await restartProcess(sv.client, ghost);
  assert.equal(r.outcome, "skipped");
  assert.match(r.detail, /^re-reading ghost:ghost failed \(BAD_NAME: ghost:ghost\)$/);
});

Deno.test("supervisord client: a fault from supervisord keeps its code and name", async () => {
  // guarantee: Restarts
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  await assert.rejects(
    sv.client.call("supervisor.getProcessInfo", ["nope"]),
    (e) =>
      e instanceof SupervisorFault && e.code === 10 && e.faultName === "BAD_NAME" &&
      e.faultString === "BAD_NAME: nope",
  );
});

Deno.test("restart: a start that fails reports the step and the fault", async () => {
  // guarantee: Restarts
  // exits at once with an unexpected code: startProcess(wait) answers SPAWN_ERROR / ABNORMAL_TERMINATION
  await using sv = await Supervisord.start({
    sections: (dir) =>
      `[program:flaky]\ncommand=sh -c 'test -e ${dir}/broken && exit 3; exec sleep 600'\n` +
      "startsecs=1\nstartretries=0\nstopwaitsecs=1\nautorestart=false\n",
  });
  await sv.waitRunning(["flaky:flaky"]);
  await Deno.writeTextFile(`${sv.dir}/broken`, "");
  const r = await restartProcess(sv.client, await sv.process("flaky:flaky"));
  assert.equal(r.outcome, "failed");
  assert.match(r.detail, /^stopped, start failed \((SPAWN_ERROR|ABNORMAL_TERMINATION): /);
});

Deno.test("supervisord client: a call right after a burst of concurrent calls succeeds", async () => {
  // Deno's default HTTP agent once reused a closing socket here (ECONNRESET)
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  for (let round = 0; round < 10; round++) {
    await Promise.all([1, 2, 3].map(() => sv.client.call("supervisor.getState", [])));
    assert.deepEqual(await sv.client.call("supervisor.getState", []), {
      statecode: 1,
      statename: "RUNNING",
    });
  }
});

Deno.test("restart: a process stopped by SIGSTOP is resumed to act on SIGTERM, not SIGKILLed", async () => {
  // guarantee: Restarts (SIGCONT to a process stopped by a signal)
  // stopwaitsecs=30: without the resume, supervisord would wait 30 s and SIGKILL it
  await using sv = await Supervisord.start({
    sections: () => SLEEPER("frozen", "stopwaitsecs=30") + SLEEPER("running"),
  });
  await sv.waitRunning(["frozen:frozen", "running:running"]);
  await freeze(sv, "frozen:frozen");
  const r = await restartProcess(sv.client, await sv.process("frozen:frozen"));
  assert.equal(r.outcome, "restarted", r.detail);
  assert.equal(r.resumed, true);
  assert.match(await sv.supervisordLog(), /stopped: frozen \(terminated by SIGTERM\)/);
  assert.doesNotMatch(await sv.supervisordLog(), /killing 'frozen'/);
  const plain = await restartProcess(sv.client, await sv.process("running:running"));
  assert.equal(plain.outcome, "restarted");
  assert.equal(plain.resumed, false, "a running process is not sent SIGCONT");
});

Deno.test("restart: without /proc a frozen process is not resumed; supervisord's SIGKILL still ends it", async () => {
  // guarantee: Restarts (the SIGCONT fallback)
  await using sv = await Supervisord.start({ sections: () => SLEEPER("frozen") });
  await sv.waitRunning(["frozen:frozen"]);
  await freeze(sv, "frozen:frozen");
  const r = await restartProcess(sv.client, await sv.process("frozen:frozen"), {
    procRoot: "/nonexistent-proc",
  });
  assert.equal(r.outcome, "restarted", r.detail);
  assert.equal(r.resumed, false);
  assert.match(await sv.supervisordLog(), /killing 'frozen' \(\d+\) with SIGKILL/);
  assert.equal((await sv.process("frozen:frozen")).statename, "RUNNING");
});

Deno.test("restart: without permission to signal it, a frozen process is not resumed; supervisord's SIGKILL still ends it", async () => {
  // guarantee: Restarts (the SIGCONT fallback)
  // the target runs as nobody; the restart runs in a user namespace of its own and a session
  // of its own (SIGCONT is allowed within a session), so it may not signal the target
  await using sv = await Supervisord.start({
    sections: () => SLEEPER("frozen", "user=nobody\nstopwaitsecs=1"),
  });
  await sv.waitRunning(["frozen:frozen"]);
  const pid = await freeze(sv, "frozen:frozen");
  const nobody = await new Deno.Command("id", { args: ["-u", "nobody"] }).output();
  assert.equal(
    await readUid(pid),
    Number(new TextDecoder().decode(nobody.stdout)),
    "runs as nobody",
  );
  // --fork: a new session whether or not the caller leads its process group;
  // --wait: the exit status is the fixture's, not that of a setsid that forked
  const { code, stdout, stderr } = await new Deno.Command("setsid", {
    args: [
      "--fork",
      "--wait",
      "unshare",
      "--user",
      DENO,
      "run",
      "-A",
      RESTART_ONCE,
      sv.url,
      "frozen:frozen",
    ],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const r = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(r.outcome, "restarted", r.detail);
  assert.equal(r.resumed, false);
  assert.match(await sv.supervisordLog(), /killing 'frozen' \(\d+\) with SIGKILL/);
});

Deno.test("supervisord client: concurrent getAllProcessInfo calls share one request", async () => {
  // run --config entries all ask on the same TICK; supervisord answers once
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  await sv.waitRunning(["a:a"]);
  const [one, two] = await Promise.all([
    sv.client.getAllProcessInfo(),
    sv.client.getAllProcessInfo(),
  ]);
  assert.equal(one, two, "the same answer, from one request");
  assert.equal(one.find((p) => p.name === "a")?.statename, "RUNNING");
  const later = await sv.client.getAllProcessInfo();
  assert.notEqual(later, one, "a call after it settled asks again");
  assert.deepEqual(later.map((p) => p.pid), one.map((p) => p.pid));
});
