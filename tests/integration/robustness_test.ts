/**
 * Robustness under a real supervisord: the XML-RPC API going away and
 * refusing credentials, a check that throws, a round that outlasts the
 * interval, a process or a whole group disappearing mid-round, a group that
 * does not exist. In every case the listener logs, keeps acknowledging
 * events, keeps running and restarts nothing that is healthy.
 */
import assert from "node:assert/strict";
import { RpcProxy } from "../fixtures/robust_rpc_proxy.ts";
import {
  DENO,
  EVERY_SECOND,
  freePorts,
  listenerSection,
  pingArgs,
  proxiedListener,
  REPO,
  shq,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

function count(text: string, pattern: RegExp): number {
  return (text.match(
    new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`),
  ) ?? []).length;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** How many times supervisord spawned `name` (the first start included). */
async function spawns(sv: Supervisord, name: string): Promise<number> {
  return count(await sv.supervisordLog(), new RegExp(`spawned: '${escape(name)}' with pid`));
}

/** Waits until the part of `name`'s log after `offset` has `n` matches of `pattern`. */
async function waitLogSince(
  sv: Supervisord,
  name: string,
  offset: number,
  pattern: RegExp,
  n = 1,
  timeoutMs = 30_000,
): Promise<string> {
  return await waitFor(`${n}× ${pattern} in ${name}'s log after offset ${offset}`, async () => {
    const text = (await sv.listenerLog(name)).slice(offset);
    return count(text, pattern) >= n ? text : undefined;
  }, timeoutMs);
}

async function logLength(sv: Supervisord, name: string): Promise<number> {
  return (await sv.listenerLog(name)).length;
}

/** supervisord's log shows no protocol trouble with any listener. */
async function assertProtocolClean(sv: Supervisord) {
  assert.doesNotMatch(
    await sv.supervisordLog(),
    /UNKNOWN|rejected|bad result|overflowed/i,
    "supervisord saw every event acknowledged in protocol",
  );
}

/**
 * Proves: while the listener cannot reach supervisord's XML-RPC (socket
 * gone, then HTTP 401 answers) it logs each failed round, restarts nothing
 * (a frozen service stays as it is: stopping it needs the API), keeps
 * acknowledging every event supervisord sends (PROCESS_LOG events keep
 * arriving, which supervisord only does once the previous one was
 * acknowledged), stays RUNNING, and once the API is back it recovers by
 * itself and restarts the frozen service.
 */
Deno.test("robustness: XML-RPC unreachable, then refusing, then back: logged, nothing restarted, recovered alone", async () => {
  // guarantee: supervisord unreachable or refusing credentials
  const proxyDir = await Deno.makeTempDir({ prefix: "robust-proxy-" });
  let upstream: string | undefined;
  try {
    await using proxy = new RpcProxy(`${proxyDir}/rpc.sock`, () => upstream);
    await proxy.set("forward");
    const [port] = freePorts(1);
    await using sv = await Supervisord.start({
      sections: (dir) =>
        webProgram("web", port) +
        `[program:chatter]
command=${shq(DENO)} run ${shq(`${REPO}tests/fixtures/chatter.ts`)}
stdout_events_enabled=true
startsecs=0
` +
        proxiedListener(
          "rpcless",
          port,
          dir,
          proxy.path,
          "events=TICK_5,PROCESS_LOG\nbuffer_size=100\n",
        ),
    });
    upstream = sv.url.slice("unix://".length);
    await sv.waitRunning(["web:web", "chatter:chatter"]);

    // (1) through the proxy: healthy rounds
    await sv.waitLog("rpcless", new RegExp(`via unix://${escape(proxy.path)}`));
    await sv.waitLog("rpcless", /web:web \(pid \d+\): http healthy/);
    const { pid } = await sv.process("web:web");

    // (2) the API goes away; then the service freezes
    const down = await logLength(sv, "rpcless");
    await proxy.set("down");
    const unreachable = new RegExp(
      `ERROR \\[rpcless\\] cannot reach supervisord at unix://${
        escape(proxy.path)
      } \\(ENOENT.*; nothing checked this round, retrying next round`,
    );
    // rounds never overlap: once one round failed to list, no earlier round is judging
    await waitLogSince(sv, "rpcless", down, unreachable);
    await sv.kill("web:web", "SIGSTOP");
    const frozen = await logLength(sv, "rpcless");
    await waitLogSince(sv, "rpcless", frozen, unreachable, 3);
    assert.equal((await sv.process("web:web")).pid, pid, "nothing restarted while unreachable");
    assert.equal((await sv.process("rpcless")).statename, "RUNNING");

    // (3) the API answers 401 for a while
    const refused = await logLength(sv, "rpcless");
    await proxy.set("401");
    const text401 = await waitLogSince(
      sv,
      "rpcless",
      refused,
      /ERROR \[rpcless\] supervisord at unix:\/\/\S+ refused a request without credentials \(SUPERVISOR_USERNAME is not set\) \(HTTP 401 Unauthorized\)/,
      2,
    );
    assert.ok(proxy.served["401"] >= 2);
    assert.doesNotMatch(text401, /restarting|restarted/);
    assert.equal((await sv.process("web:web")).pid, pid, "nothing restarted while refused");
    assert.equal((await sv.process("rpcless")).statename, "RUNNING");

    // events kept coming and were acknowledged the whole time the API was unusable
    const outage = (await sv.listenerLog("rpcless")).slice(down);
    assert.ok(
      count(outage, /ignoring PROCESS_LOG_STDOUT event/) >= 10,
      "PROCESS_LOG events kept being delivered (each one after the previous was acknowledged)",
    );
    assert.doesNotMatch(outage, /event stream unusable/);

    // (4) the API is back: the listener recovers by itself and restarts the frozen service
    const back = await logLength(sv, "rpcless");
    await proxy.set("forward");
    await sv.waitRestarted("web:web", pid, 40_000);
    const recovered = await waitLogSince(
      sv,
      "rpcless",
      back,
      /web:web \(pid \d+\): restarted \(stopped, started\)/,
    );
    assert.match(recovered, /web:web \(pid \d+\): restarting: failed http/);
    assert.equal((await sv.process("rpcless")).statename, "RUNNING");
    assert.equal(await spawns(sv, "rpcless"), 1, "the listener itself never restarted");
    await assertProtocolClean(sv);
  } finally {
    await Deno.remove(proxyDir, { recursive: true }).catch(() => {});
  }
});

/**
 * Proves: one listener makes round after round over one connection to
 * supervisord (counted where the proxy accepts them); when the server side
 * closes it between rounds the next round opens another and loses nothing
 * (no round fails to list, each round's verdict is logged); and a restart
 * sends stopProcess and startProcess once each, never again over a kept
 * connection.
 */
Deno.test("robustness: rounds share one kept-open connection to supervisord; a server-side close loses and doubles nothing", async () => {
  // guarantee: Connections to supervisord
  const proxyDir = await Deno.makeTempDir({ prefix: "robust-proxy-" });
  let upstream: string | undefined;
  try {
    await using proxy = new RpcProxy(`${proxyDir}/rpc.sock`, () => upstream);
    await proxy.set("forward");
    const [port] = freePorts(1);
    await using sv = await Supervisord.start({
      sections: (dir) =>
        webProgram("web", port) +
        proxiedListener("reuse", port, dir, proxy.path),
    });
    upstream = sv.url.slice("unix://".length);
    const { "web:web": pid } = await sv.waitRunning(["web:web"]);
    const healthy = /web:web \(pid \d+\): http healthy/;

    // (1) four rounds, one connection
    await waitLogSince(sv, "reuse", 0, healthy, 4);
    assert.equal(proxy.served.forward, 1, "four rounds over one connection");
    assert.ok((proxy.forwarded.get("supervisor.getAllProcessInfo") ?? 0) >= 4);

    // (2) the server side closes it between rounds: the next rounds go on over a new one
    const dropped = await logLength(sv, "reuse");
    proxy.drop();
    const after = await waitLogSince(sv, "reuse", dropped, healthy, 3);
    assert.doesNotMatch(after, /ERROR|nothing checked this round/);
    assert.equal(proxy.served.forward, 2, "one new connection after the close");

    // (3) a restart: stop and start sent once each
    await sv.kill("web:web", "SIGSTOP");
    await sv.waitRestarted("web:web", pid);
    await sv.waitLog("reuse", /web:web \(pid \d+\): restarted \(stopped, started\)/);
    assert.equal(proxy.forwarded.get("supervisor.stopProcess"), 1);
    assert.equal(proxy.forwarded.get("supervisor.startProcess"), 1);
    assert.equal(await spawns(sv, "web"), 2, "started once more, not twice");
    await assertProtocolClean(sv);
  } finally {
    await Deno.remove(proxyDir, { recursive: true }).catch(() => {});
  }
});

/**
 * Proves: a custom check (public API, runListener) that throws for one
 * process and rejects with a non-Error for another yields an `unknown`
 * verdict, logged once as a warning (`check could not run: …; not
 * restarting`, repeats only at debug), and nothing is restarted: not the
 * processes the check could not judge, not the healthy one.
 */
Deno.test("robustness: a check that throws or rejects is logged once and restarts nothing", async () => {
  // guarantee: Verdicts
  const program = (name: string) =>
    `[program:${name}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n`;
  await using sv = await Supervisord.start({
    sections: (dir) =>
      program("doomed") + program("cursed") + program("fine") +
      `[group:workers]\nprograms=doomed,cursed,fine\n` +
      `[eventlistener:thrower]
command=${shq(DENO)} run -A --no-prompt ${
        shq(`${REPO}tests/fixtures/robust_throwing_check.ts`)
      } workers
events=TICK_5
stderr_logfile=${dir}/thrower.err.log
autorestart=false
startsecs=0
`,
  });
  const specs = ["workers:doomed", "workers:cursed", "workers:fine"];
  const before = await sv.waitRunning(specs);
  // several rounds (one a second)
  const log = await waitFor("four rounds", async () => {
    const text = await sv.listenerLog("thrower");
    return count(text, /workers:fine \(pid \d+\): thrower healthy/) >= 4 ? text : undefined;
  }, 30_000);

  assert.match(
    log,
    /WARN \[thrower\] workers:doomed \(pid \d+\): thrower unknown: check could not run: boom while checking doomed; not restarting/,
  );
  assert.match(
    log,
    /WARN \[thrower\] workers:cursed \(pid \d+\): thrower unknown: check could not run: a bare string rejection for cursed; not restarting/,
  );
  for (const name of ["doomed", "cursed"]) {
    const lines = log.split("\n").filter((l) => l.includes(`workers:${name} `));
    assert.equal(lines.filter((l) => / WARN /.test(l)).length, 1, `${name}: warned once`);
    assert.ok(
      lines.filter((l) => / DEBUG .*check could not run/.test(l)).length >= 2,
      `${name}: repeats at debug`,
    );
  }
  assert.doesNotMatch(log, /restarting:|restarted|restart (skipped|failed)|unhealthy|ERROR/);
  assert.deepEqual(await sv.waitRunning(specs), before, "no process restarted");
  for (const name of ["doomed", "cursed", "fine", "thrower"]) {
    assert.equal(await spawns(sv, name), 1, `${name} spawned once`);
  }
  assert.equal((await sv.process("thrower")).statename, "RUNNING");
  await assertProtocolClean(sv);
});

/**
 * Proves: with --interval 1 and a check that takes 3 s (-t 3 against a
 * frozen service), the timer's rounds are skipped while one runs (a debug
 * line says so) instead of piling up; the frozen service is restarted once
 * its round ends, and the healthy process beside it is never touched.
 */
Deno.test("robustness: a round that outlasts --interval skips the next ones; healthy neighbours untouched", async () => {
  // guarantee: Rounds
  const [slow, ok] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram(`slow_${slow}`, slow) + webProgram(`ok_${ok}`, ok) +
      `[group:pool]\nprograms=slow_${slow},ok_${ok}\n` +
      listenerSection(
        "overrun",
        pingArgs("overrun", "pool", ".+_(\\d+)", "--interval", "1", "-t", "3", "-r", "0", "-v"),
        dir,
      ),
  });
  const slowSpec = `pool:slow_${slow}`;
  const okSpec = `pool:ok_${ok}`;
  const before = await sv.waitRunning([slowSpec, okSpec]);
  await sv.waitLog("overrun", new RegExp(`${escape(okSpec)} \\(pid \\d+\\): http healthy`));
  await sv.kill(slowSpec, "SIGSTOP");
  await sv.waitLog(
    "overrun",
    /DEBUG \[overrun\] skipping interval: the previous round is still running \(\d+\.\ds\)/,
  );
  await sv.waitRestarted(slowSpec, before[slowSpec]);
  const log = await sv.waitLog("overrun", /restarted \(stopped, started\)/);
  assert.match(log, new RegExp(`${escape(slowSpec)} \\(pid \\d+\\): http unhealthy: .*within 3s`));
  assert.equal((await sv.process(okSpec)).pid, before[okSpec], "the healthy process untouched");
  assert.doesNotMatch(log, new RegExp(`${escape(okSpec)}.*(unhealthy|restart)`));
  assert.equal(await spawns(sv, `ok_${ok}`), 1);
  assert.equal((await sv.process("overrun")).statename, "RUNNING");
  await assertProtocolClean(sv);
});

/**
 * Waits until `name`'s listener is in the middle of a round that hangs on a
 * frozen process: two interval rounds skipped after `offset` (a healthy
 * local check answers in milliseconds, so a round still running after 2 s
 * is waiting on the frozen one).
 */
async function waitRoundInFlight(sv: Supervisord, name: string, offset: number) {
  await waitLogSince(sv, name, offset, /skipping interval: the previous round is still running/, 2);
}

/**
 * A /ping server on 127.0.0.1 that answers 200 until `hold()`; from then on
 * requests hang until `release()`, then get 503. Unlike a frozen service, a
 * held request outlives the process it checks: stopping that process does
 * not end the round.
 */
function heldPing() {
  let held: PromiseWithResolvers<void> | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    if (held === undefined) return new Response("ok\n");
    await held.promise;
    return new Response("released\n", { status: 503 });
  });
  return {
    port: server.addr.port,
    hold: () => held = Promise.withResolvers(),
    release: () => held?.resolve(),
    [Symbol.asyncDispose]: () => (held?.resolve(), server.shutdown()),
  };
}

/**
 * Proves: a process that is stopped while its check is in flight is not
 * started again by the restart step (which re-reads it, finds it STOPPED
 * and leaves it to supervisord); and a group that is stopped and removed
 * from supervisord while its check is in flight is logged (restart skipped,
 * then no process matches) without the listener crashing. Both listeners
 * stay RUNNING.
 */
Deno.test("robustness: a process stopped and a group removed mid-round: logged, nothing started again", async () => {
  const [haltPort] = freePorts(1);
  // vanish's check asks a server the test holds: stopping vanish (needed to
  // remove its group) must not end the round before the group is gone
  await using vanishPing = heldPing();
  const check = (name: string, port: number) =>
    pingArgs(
      `${name}check`,
      name,
      port,
      "--interval",
      "1",
      // only what the test does ends a round, never this timeout
      "-t",
      "30",
      "-r",
      "0",
      "-v",
    );
  await using sv = await Supervisord.start({
    sections: (dir) =>
      // stopsignal=KILL: a frozen process is gone (STOPPED) at once when stopped
      webProgram("halt", haltPort, "stopsignal=KILL\n") +
      "[program:vanish]\ncommand=sleep 600\nstartsecs=1\nstopwaitsecs=2\n" +
      listenerSection("haltcheck", check("halt", haltPort), dir) +
      listenerSection("vanishcheck", check("vanish", vanishPing.port), dir),
  });
  const before = await sv.waitRunning(["halt:halt", "vanish:vanish"]);
  await sv.waitLog("haltcheck", /halt:halt \(pid \d+\): http healthy/);
  await sv.waitLog("vanishcheck", /vanish:vanish \(pid \d+\): http healthy/);

  // a process stopped while its check hangs
  let offset = await logLength(sv, "haltcheck");
  await sv.kill("halt:halt", "SIGSTOP");
  await waitRoundInFlight(sv, "haltcheck", offset);
  await sv.client.stopProcess("halt:halt");
  const haltLog = await waitLogSince(
    sv,
    "haltcheck",
    offset,
    /halt:halt \(pid \d+\): restart skipped: now STOPPED, not RUNNING: left to supervisord/,
  );
  assert.match(haltLog, /halt:halt \(pid \d+\): http unhealthy/);
  assert.ok(haltLog.includes(`halt:halt (pid ${before["halt:halt"]}): restart skipped`));
  // later rounds see it STOPPED and leave it alone
  offset = await logLength(sv, "haltcheck");
  await waitLogSince(sv, "haltcheck", offset, /halt:halt: not checked: STOPPED/, 2);
  assert.equal((await sv.process("halt:halt")).statename, "STOPPED", "not started again");
  assert.equal(await spawns(sv, "halt"), 1);
  assert.doesNotMatch(await sv.listenerLog("haltcheck"), /restarted \(|restart failed/);
  assert.equal((await sv.process("haltcheck")).statename, "RUNNING");

  // a whole group stopped and removed while its check hangs
  offset = await logLength(sv, "vanishcheck");
  vanishPing.hold();
  await waitRoundInFlight(sv, "vanishcheck", offset);
  await sv.client.stopProcess("vanish:vanish");
  assert.equal(await sv.client.call("supervisor.removeProcessGroup", ["vanish"]), true);
  vanishPing.release(); // the round ends: unhealthy, the restart finds no vanish:vanish
  const vanishLog = await waitLogSince(
    sv,
    "vanishcheck",
    offset,
    /WARN \[vanishcheck\] no process matches group 'vanish'/,
  );
  assert.match(
    vanishLog,
    /vanish:vanish \(pid \d+\): restart skipped: re-reading vanish:vanish failed \(BAD_NAME: vanish:vanish\)/,
  );
  assert.ok(vanishLog.includes(`vanish:vanish (pid ${before["vanish:vanish"]}): restart skipped`));
  // keeps running its rounds: the repeats at debug
  await waitLogSince(
    sv,
    "vanishcheck",
    offset,
    /DEBUG \[vanishcheck\] no process matches group 'vanish'/,
    2,
  );
  assert.equal((await sv.process("vanishcheck")).statename, "RUNNING");
  assert.equal(await spawns(sv, "vanish"), 1);
  assert.ok(!(await sv.processes()).some((p) => p.group === "vanish"));
  assert.doesNotMatch(await sv.listenerLog("vanishcheck"), /restarted \(|restart failed|ERROR/);
  await assertProtocolClean(sv);
});

/**
 * Proves: a listener whose group (-g) does not exist says so once as a
 * warning (repeats at debug), keeps running its rounds, and restarts
 * nothing, not even a frozen process of another group.
 */
Deno.test("robustness: -g nosuchgroup: warned once, keeps running, restarts nothing", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port) +
      listenerSection(
        "nogroup",
        pingArgs("nogroup", "nosuchgroup", port, ...EVERY_SECOND, "-v"),
        dir,
      ),
  });
  const { "web:web": pid } = await sv.waitRunning(["web:web"]);
  await sv.kill("web:web", "SIGSTOP");
  const log = await waitFor("the warning and three repeats", async () => {
    const text = await sv.listenerLog("nogroup");
    return count(text, /DEBUG \[nogroup\] no process matches group 'nosuchgroup'/) >= 3
      ? text
      : undefined;
  });
  assert.equal(count(log, /WARN \[nogroup\] no process matches group 'nosuchgroup'/), 1);
  assert.doesNotMatch(log, /restart|web:web|ERROR/);
  assert.equal((await sv.process("web:web")).pid, pid, "nothing restarted");
  assert.equal((await sv.process("nogroup")).statename, "RUNNING");
  Deno.kill(pid, "SIGCONT");
  await assertProtocolClean(sv);
});
