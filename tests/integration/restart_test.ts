/**
 * The restart step against a real supervisord: it acts only on a process
 * that is still RUNNING with the pid that failed, and names faults.
 */
import assert from "node:assert/strict";
import type { ProcessInfo } from "../../lib/check.ts";
import { readStat, readUid } from "../../lib/proc.ts";
import { type Finisher, restartProcess, useFinisher } from "../../lib/restart.ts";
import { SupervisorClient, SupervisorFault } from "../../lib/supervisor.ts";
import { type Loss, RpcProxy } from "../fixtures/robust_rpc_proxy.ts";
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

/**
 * Restarts `spec` through a proxy to `sv` that loses one call of `method`
 * (its request or its answer), with a finisher stand-in that records what
 * it is told; `onBegin` runs when the restart is handed to it.
 */
async function restartLosing(
  sv: Supervisord,
  spec: string,
  method: string,
  loss: Loss,
  onBegin: (proxy: RpcProxy) => Promise<void> = async () => {},
) {
  await using proxy = new RpcProxy(`${sv.dir}/proxy.sock`, () => sv.url.slice("unix://".length));
  await proxy.set("forward");
  proxy.lose(method, loss);
  const told: string[] = [];
  const holder: Finisher = {
    pid: 1,
    begin: async (s) => {
      told.push(`begin ${s}`);
      await onBegin(proxy);
      return true;
    },
    end: (s) => {
      told.push(`end ${s}`);
      return Promise.resolve();
    },
  };
  useFinisher(holder);
  try {
    const client = new SupervisorClient(`unix://${proxy.path}`);
    const result = await restartProcess(client, await sv.process(spec));
    return { result, told, forwarded: new Map(proxy.forwarded) };
  } finally {
    useFinisher(undefined);
  }
}

Deno.test("restart: a stop whose answer is lost (connection reset) still ends with the process RUNNING", async () => {
  // guarantee: A restart once begun is always finished (by the listener itself)
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  const { "a:a": pid } = await sv.waitRunning(["a:a"]);
  const { result, told, forwarded } = await restartLosing(
    sv,
    "a:a",
    "supervisor.stopProcess",
    "answer",
  );
  assert.equal(result.outcome, "restarted", result.detail);
  assert.match(result.detail, /^stop: .*; started it again: new pid \d+$/);
  const now = await sv.process("a:a");
  assert.equal(now.statename, "RUNNING");
  assert.notEqual(now.pid, pid);
  assert.equal(result.newPid, now.pid);
  assert.equal(forwarded.get("supervisor.startProcess"), 1);
  assert.deepEqual(told, ["begin a:a", "end a:a"], "the finisher is released once it is started");
});

Deno.test("restart: a start whose request is lost is sent again: the process ends RUNNING", async () => {
  // guarantee: A restart once begun is always finished (by the listener itself)
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  const { "a:a": pid } = await sv.waitRunning(["a:a"]);
  const { result, forwarded } = await restartLosing(
    sv,
    "a:a",
    "supervisor.startProcess",
    "request",
  );
  assert.equal(result.outcome, "restarted", result.detail);
  assert.match(result.detail, /^stopped, start failed \(.*\); started it again: new pid \d+$/);
  const now = await sv.process("a:a");
  assert.equal(now.statename, "RUNNING");
  assert.notEqual(now.pid, pid);
  assert.equal(forwarded.get("supervisor.startProcess"), 2);
});

Deno.test("restart: supervisord unreachable after the stop was asked for: the finisher keeps holding it", async () => {
  // guarantee: A restart once begun is always finished (by the listener itself)
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  await sv.waitRunning(["a:a"]);
  // supervisord's API goes away as the stop is about to be sent, and stays away
  const { result, told } = await restartLosing(
    sv,
    "a:a",
    "supervisor.stopProcess",
    "request",
    (proxy) => proxy.set("down"),
  );
  assert.equal(result.outcome, "failed");
  assert.equal(result.unfinished, true);
  assert.match(result.detail, /^stop: .*; supervisord unreachable, giving up: /);
  assert.deepEqual(told, ["begin a:a"], "not released: only the finisher can still start it");
});

Deno.test("restart: a listener stopping during the step before the stop does not wait for it, and stops nothing", async () => {
  // guarantee: Restarts
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") });
  const { "a:a": pid } = await sv.waitRunning(["a:a"]);
  const stopping = new AbortController();
  let release!: (said: string) => void;
  const r = restartProcess(sv.client, await sv.process("a:a"), {
    signal: stopping.signal,
    hooks: {
      before: () => {
        stopping.abort();
        return new Promise((resolve) => release = resolve);
      },
    },
  });
  const result = await r;
  release("core dumped");
  assert.equal(result.outcome, "skipped");
  assert.match(result.detail, /the listener is stopping: not restarted/);
  const now = await sv.process("a:a");
  assert.equal(now.statename, "RUNNING");
  assert.equal(now.pid, pid);
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
