/**
 * The "How it behaves" guarantees (docs/behaviour.md) that involve supervisord, each
 * under a real one: concurrency and rounds that never overlap, processes
 * not RUNNING left alone, restarts beside the rounds, the stdout guard, and
 * what a shutdown does to checks in flight. Each test names its guarantee.
 */
import assert from "node:assert/strict";
import {
  DENO,
  listenerSection,
  pingArgs,
  REPO,
  shq,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

const SLEEPER = (name: string, extra = "") =>
  `[program:${name}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n${extra}\n`;

interface PortStats {
  open: number;
  most: number;
  total: number;
}

/**
 * `n` TCP servers on 127.0.0.1 that take requests and never answer. They
 * count the connections open at once (one per request in flight: with no
 * answer, a connection is never reused), on each port and over all ports.
 */
function hangingServers(n: number) {
  const listeners = Array.from(
    { length: n },
    () => Deno.listen({ hostname: "127.0.0.1", port: 0 }),
  );
  const ports = listeners.map((l) => (l.addr as Deno.NetAddr).port);
  const perPort = new Map<number, PortStats>(ports.map((p) => [p, { open: 0, most: 0, total: 0 }]));
  const all = { open: 0, most: 0 };
  const conns = new Set<Deno.Conn>();
  async function hold(conn: Deno.Conn, s: PortStats) {
    conns.add(conn);
    s.total++;
    s.most = Math.max(s.most, ++s.open);
    all.most = Math.max(all.most, ++all.open);
    const buf = new Uint8Array(4096);
    try {
      while ((await conn.read(buf)) !== null) { /* the request; no answer */ }
    } catch { /* reset by the client */ }
    s.open--;
    all.open--;
    conns.delete(conn);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  for (const [i, l] of listeners.entries()) {
    (async () => {
      for await (const conn of l) void hold(conn, perPort.get(ports[i])!);
    })().catch(() => {});
  }
  return {
    ports,
    perPort,
    all,
    [Symbol.dispose]() {
      for (const l of listeners) l.close();
      for (const c of conns) c.close();
    },
  };
}

/** An http listener for `group` every second: /ping on `port`, 2 s allowed, no retry. */
const httpArgs = (name: string, group: string, port: string) =>
  pingArgs(name, group, port, "-t", "2", "-r", "0", "--interval", "1");

/** The lines of `log` after the first line matching `from`, up to the first matching `to`. */
function between(log: string, from: RegExp, to: RegExp): string[] {
  const lines = log.split("\n");
  const start = lines.findIndex((l) => from.test(l));
  const end = lines.findIndex((l, i) => i > start && to.test(l));
  assert.ok(start >= 0 && end > start, `no ${from} … ${to} in:\n${log}`);
  return lines.slice(start + 1, end);
}

Deno.test("behaviour: hung processes are checked all at once, and rounds never overlap", async () => {
  // guarantee: Concurrency
  // guarantee: Rounds
  using hung = hangingServers(4);
  const names = hung.ports.map((p) => `hung_${p}`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n) => SLEEPER(n)).join("") + `[group:hung]\nprograms=${names.join(",")}\n` +
      // a timer faster than a round (-t 2): each tick during a round must be skipped
      listenerSection("together", [...httpArgs("together", "hung", ".+_(\\d+)"), "--dry-run"], dir),
  });
  // two rounds: the second request to every service
  await waitFor(
    "two rounds",
    () => [...hung.perPort.values()].every((s) => s.total >= 2),
    30_000,
  );
  for (const [port, s] of hung.perPort) {
    assert.equal(s.most, 1, `port ${port}: a second round started while one was running`);
  }
  assert.equal(hung.all.most, 4, "the four hung services were probed at the same time");
  assert.match(await sv.listenerLog("together"), /hung:hung_\d+ \(pid \d+\): http unhealthy/);
});

Deno.test("behaviour: processes STARTING or in BACKOFF are left to supervisord, not checked", async () => {
  // guarantee: Concurrency
  await using sv = await Supervisord.start({
    sections: (dir) =>
      SLEEPER("running") +
      // RUNNING only after an hour: STARTING throughout the test
      `[program:starting]\ncommand=sleep 600\nstartsecs=3600\n` +
      // exits at once, again and again: BACKOFF between the tries
      `[program:backoff]\ncommand=false\nstartsecs=1\nstartretries=1000\n` +
      "[group:mix]\nprograms=running,starting,backoff\n" +
      listenerSection("leftalone", [
        "exec",
        "-n",
        "leftalone",
        "-g",
        "mix",
        "--command",
        `echo "$SUPERVISOR_CHECK_PROCESS_NAME" >> ${dir}/probed; exit 1`,
        "--interval",
        "1",
        "--dry-run",
        "-v",
      ], dir),
  });
  const log = await sv.waitLog(
    "leftalone",
    /mix:starting \(pid \d+\): not checked: STARTING[\s\S]*mix:backoff: not checked: BACKOFF|mix:backoff: not checked: BACKOFF[\s\S]*mix:starting \(pid \d+\): not checked: STARTING/,
  );
  await sv.waitLog("leftalone", /mix:running \(pid \d+\): dry run: would restart/);
  const probed = (await Deno.readTextFile(`${sv.dir}/probed`)).trim().split("\n");
  assert.deepEqual([...new Set(probed)], ["running"], "only the RUNNING process was checked");
  assert.doesNotMatch(log, /mix:(starting|backoff).*(exec|would restart)/);
  assert.equal((await sv.process("mix:starting")).statename, "STARTING");
});

Deno.test("behaviour: a slow stop does not hold up the neighbours' checks; the process being restarted is not judged", async () => {
  // guarantee: Restarts beside rounds
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.writeTextFileSync(`${dir}/slow-bad`, "");
      return SLEEPER("neighbour") +
        // while slow-bad exists (from the start), it fails its check and ignores SIGTERM:
        // supervisord waits out stopwaitsecs, then SIGKILLs it
        `[program:slow]\ncommand=sh -c 'if [ -e ${dir}/slow-bad ]; then trap "" TERM; fi; ` +
        `while :; do sleep 1; done'\n` +
        "startsecs=0\nstopwaitsecs=3\n" +
        "[group:pair]\nprograms=neighbour,slow\n" +
        listenerSection("beside", [
          "exec",
          "-n",
          "beside",
          "-g",
          "pair",
          "--command",
          `test "$SUPERVISOR_CHECK_PROCESS_NAME" != slow || test ! -e ${dir}/slow-bad`,
          "--interval",
          "1",
          "-v",
        ], dir);
    },
  });
  const failed = /pair:slow \(pid (\d+)\): restarting: failed exec/;
  const pid = Number(failed.exec(await sv.waitLog("beside", failed))![1]);
  await Deno.remove(`${sv.dir}/slow-bad`); // its next life passes, and stops at once
  const log = await sv.waitLog("beside", /pair:slow \(pid \d+\): restarted/, 30_000);
  assert.match(await sv.supervisordLog(), /killing 'slow' \(\d+\) with SIGKILL/, "a slow stop");
  assert.notEqual((await sv.process("pair:slow")).pid, pid);

  const during = between(log, /pair:slow .*restarting: failed exec/, /pair:slow .*restarted/);
  const neighbour = during.filter((l) => /pair:neighbour \(pid \d+\): exec healthy/.test(l));
  assert.ok(neighbour.length >= 2, `the neighbour was checked meanwhile:\n${during.join("\n")}`);
  const slow = during.filter((l) => l.includes("pair:slow"));
  assert.ok(slow.length >= 1, during.join("\n"));
  for (const l of slow) assert.match(l, /restart under way, not judged this round$/);
});

Deno.test("behaviour: a library's console.log during a round never reaches stdout", async () => {
  // guarantee: Protocol
  await using sv = await Supervisord.start({
    sections: (dir) =>
      SLEEPER("t1") + "[group:talk]\nprograms=t1\n" +
      `[eventlistener:chatty]
command=${shq(DENO)} run -A ${shq(`${REPO}tests/fixtures/chatty_check.ts`)} talk
events=TICK_5
stdout_logfile=${dir}/chatty.out.log
stderr_logfile=${dir}/chatty.err.log
startsecs=0
autorestart=false
`,
  });
  // two rounds: the listener kept talking to supervisord after the first
  const log = await waitFor("two chatty rounds", async () => {
    const text = await sv.listenerLog("chatty");
    return (text.match(/chatty healthy: said a lot/g) ?? []).length >= 2 && text;
  });
  for (const method of ["log", "info", "debug", "table", "dir"]) {
    assert.match(log, new RegExp(`chatter\\.${method} t1`), `console.${method} went to stderr`);
  }
  const stdout = await Deno.readTextFile(`${sv.dir}/chatty.out.log`);
  assert.doesNotMatch(stdout, /chatter/);
  assert.doesNotMatch(await sv.supervisordLog(), /UNKNOWN|protocol/i);
  assert.equal((await sv.process("chatty")).statename, "RUNNING");
});

Deno.test("behaviour: on SIGTERM, checks in flight are abandoned and nothing is restarted", async () => {
  // guarantee: Signals
  using hung = hangingServers(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      SLEEPER("svc") +
      listenerSection("quitter", httpArgs("quitter", "svc", String(hung.ports[0])), dir),
  });
  const { "svc:svc": pid } = await sv.waitRunning(["svc:svc"]);
  await waitFor("a check in flight", () => hung.all.open === 1);
  await sv.client.stopProcess("quitter"); // SIGTERM, and waits until it has exited
  const log = await sv.listenerLog("quitter");
  assert.match(log, /received SIGTERM, stopping/);
  assert.doesNotMatch(log, /unhealthy|restarting/, "the abandoned check had no verdict");
  assert.match(await sv.supervisordLog(), /stopped: quitter \(exit status 0\)/);
  assert.equal((await sv.process("svc:svc")).pid, pid, "nothing restarted on the way out");
  assert.equal(await sv.spawns("svc"), 1);
});
