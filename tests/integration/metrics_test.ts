/**
 * `--metrics-listen` under a real supervisord: what a fleet's Prometheus
 * scrapes from a listener (restarts by outcome, verdicts, rounds, the
 * processes), validated by promtool, served while a round hangs; and
 * `serve`'s /metrics with supervisord access.
 */
import assert from "node:assert/strict";
import { listenerMetrics } from "../../lib/metrics.ts";
import { restartProcess, reviveProcess } from "../../lib/restart.ts";
import { assertPromtoolValid, parseSamples, sampleValue } from "../support/metrics.ts";
import {
  DENO,
  freePorts,
  listenerCommand,
  listenerSection,
  MAIN,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

const SLEEPER = (name: string) =>
  `[program:${name}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n`;

async function scrape(url: string) {
  const res = await fetch(url);
  const text = await res.text();
  return { res, text, samples: parseSamples(text) };
}

Deno.test("metrics: run --config serves restarts by outcome, verdicts, rounds and process states, while a round hangs", async () => {
  // guarantee: Metrics
  const [port] = freePorts(1);
  const url = `http://127.0.0.1:${port}/metrics`;
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.writeTextFileSync(
        `${dir}/checks.yaml`,
        `interval: 1
metrics_listen: 127.0.0.1:${port}
checks:
  - name: hung
    process: slow:slow
    exec: { command: "sleep 600", timeout: 600 }
  - name: broken
    process: bad:bad
    exec: { command: "exit 1", timeout: 5 }
    max_restarts: 1
  - name: rehearsal
    process: dry:dry
    exec: { command: "exit 1", timeout: 5 }
    dry_run: true
`,
      );
      return SLEEPER("slow") + SLEEPER("bad") + SLEEPER("dry") +
        listenerSection(
          "multi",
          ["run", "--config", `${dir}/checks.yaml`],
          dir,
          "events=TICK_60\n",
        );
    },
  });
  await sv.waitRunning(["slow:slow", "bad:bad", "dry:dry"]);
  // scrapers that stall: one never finishes its request, one never reads the answer
  await waitFor("the endpoint", () => scrape(url).then(() => true));
  const stalled = await Promise.all(
    [1, 2].map(() => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  const enc = new TextEncoder();
  await stalled[0].write(enc.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  await stalled[1].write(enc.encode("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  const broken = { check: "broken", group: "bad", name: "bad" };
  const { text, samples } = await waitFor("a restart, a suppression and a dry run", async () => {
    const s = await scrape(url);
    const v = (outcome: string, labels = broken) =>
      sampleValue(s.samples, "supervisor_checks_restarts_total", { ...labels, outcome }) ?? 0;
    return v("restarted") === 1 && v("suppressed") >= 1 &&
        v("dry-run", { check: "rehearsal", group: "dry", name: "dry" }) >= 1 &&
        (sampleValue(s.samples, "supervisor_checks_rounds_skipped_total", { check: "hung" }) ??
            0) >= 1
      ? s
      : undefined;
  }, 30_000);
  await assertPromtoolValid(text);
  const value = (name: string, labels: Record<string, string> = {}) =>
    sampleValue(samples, name, labels);
  // the hung round is still running: started once, never ended, and /metrics answered meanwhile
  assert.equal(value("supervisor_checks_rounds_total", { check: "hung" }), 1);
  assert.equal(
    value("supervisor_checks_round_duration_seconds_count", { check: "hung" }),
    undefined,
  );
  assert.ok(value("supervisor_checks_round_duration_seconds_count", { check: "broken" })! >= 1);
  assert.ok(
    value("supervisor_checks_verdicts_total", { kind: "exec", verdict: "unhealthy" })! >= 2,
  );
  assert.ok(value("supervisor_checks_probe_duration_seconds_count", { kind: "exec" })! >= 2);
  assert.equal(
    value("supervisor_checks_restarts_total", { ...broken, outcome: "failed" }),
    undefined,
  );
  assert.equal(value("supervisor_checks_supervisord_up"), 1);
  assert.ok(value("supervisor_checks_start_time_seconds")! > Date.now() / 1000 - 600);
  // every process supervisord has, the listener included, node_exporter-style
  for (const name of ["slow", "bad", "dry", "multi"]) {
    assert.equal(value("supervisord_process_up", { group: name, name }), 1, name);
    assert.equal(value("supervisord_process_state", { group: name, name }), 20, name);
    assert.equal(
      value("supervisord_process_in_state", { group: name, name, state: "RUNNING" }),
      1,
    );
    assert.equal(value("supervisord_process_in_state", { group: name, name, state: "FATAL" }), 0);
  }
  const bad = await sv.process("bad:bad");
  assert.equal(
    value("supervisord_process_start_time_seconds", { group: "bad", name: "bad" }),
    bad.start,
  );
  // labels stay bounded: no pid, no message
  const labelNames = new Set(samples.flatMap((s) => Object.keys(s.labels)));
  assert.deepEqual(
    [...labelNames].sort(),
    ["check", "group", "kind", "le", "name", "outcome", "state", "verdict"],
  );

  const head = await fetch(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.match(head.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  assert.equal(await head.text(), "");
  const post = await fetch(url, { method: "POST" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  const other = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(other.status, 404);
  await other.body?.cancel();
  assert.match(
    await sv.listenerLog("multi"),
    new RegExp(`metrics at http://127\\.0\\.0\\.1:${port}/metrics`),
  );
  // the listener kept speaking the protocol: supervisord still has it RUNNING
  assert.equal((await sv.process("multi:multi")).statename, "RUNNING");
  for (const conn of stalled) conn.close();
});

Deno.test("metrics: httpok counts its URL verdicts and serves the same endpoint", async () => {
  // guarantee: Metrics
  const [port, closed] = freePorts(2);
  const url = `http://127.0.0.1:${port}/metrics`;
  await using sv = await Supervisord.start({
    sections: (dir) =>
      listenerSection(
        "ok",
        [
          "httpok",
          "--interval",
          "1",
          "-t",
          "1",
          "--metrics-listen",
          `127.0.0.1:${port}`,
          `http://127.0.0.1:${closed}/ping`,
        ],
        dir,
        "events=TICK_60\n",
      ),
  });
  const { text, samples } = await waitFor("two URL verdicts", async () => {
    const s = await scrape(url);
    const n = sampleValue(s.samples, "supervisor_checks_verdicts_total", {
      kind: "url",
      verdict: "unhealthy",
    });
    return (n ?? 0) >= 2 ? s : undefined;
  });
  await assertPromtoolValid(text);
  assert.ok(sampleValue(samples, "supervisor_checks_rounds_total", { check: "httpok" })! >= 2);
  assert.ok(
    sampleValue(samples, "supervisor_checks_probe_duration_seconds_count", { kind: "url" })! >= 2,
  );
  await sv.client.stopProcess("ok");
});

Deno.test("metrics: serve with supervisord access exports every process's state", async () => {
  // guarantee: Metrics
  await using sv = await Supervisord.start({
    sections: (dir) =>
      SLEEPER("job") + `[program:idle]\ncommand=sleep 600\nautostart=false\n` +
      `[program:sidecar]
command=${listenerCommand(["serve", "-H", "127.0.0.1", "-P", "0", "--no-statsd", "--group", "job"])}
stderr_logfile=${dir}/sidecar.err.log
startsecs=1
autorestart=false
`,
  });
  await sv.waitRunning(["job:job", "sidecar:sidecar"], 60_000);
  const base = await waitFor("the sidecar's address", async () => {
    return /HTTP listening on (http:\/\/\S+)/.exec(await sv.listenerLog("sidecar"))?.[1];
  }, 60_000);
  const { text, samples } = await scrape(`${base}/metrics`);
  await assertPromtoolValid(text);
  assert.equal(sampleValue(samples, "supervisor_checks_supervisord_up"), 1);
  assert.equal(sampleValue(samples, "supervisord_process_up", { group: "job", name: "job" }), 1);
  assert.equal(sampleValue(samples, "supervisord_process_up", { group: "idle", name: "idle" }), 0);
  assert.equal(
    sampleValue(samples, "supervisord_process_state", { group: "idle", name: "idle" }),
    0,
  );
  assert.equal(
    sampleValue(samples, "supervisord_process_in_state", {
      group: "idle",
      name: "idle",
      state: "STOPPED",
    }),
    1,
  );
});

async function run(args: string[]) {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--no-prompt", MAIN, ...args],
    env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent.sock" },
    stdin: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("metrics: a non-loopback, malformed or busy --metrics-listen is refused at start-up", async () => {
  // guarantee: Start-up errors
  const base = ["exec", "-n", "x", "-a", "--command", "true"];
  let r = await run([...base, "--metrics-listen", "0.0.0.0:9864"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /--metrics-listen: 0\.0\.0\.0 is not a loopback address; .*--metrics-allow-remote/,
  );
  r = await run([...base, "--metrics-listen", "9864"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--metrics-listen: '9864' is not HOST:PORT/);
  r = await run(["httpok", "--metrics-listen", "[::]:9864", "http://127.0.0.1:8080/"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--metrics-listen: :: is not a loopback address/);
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = busy.addr as Deno.NetAddr;
    r = await run([...base, "--metrics-listen", `127.0.0.1:${port}`]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      new RegExp(`--metrics-listen: cannot listen on http://127\\.0\\.0\\.1:${port}`),
    );
  } finally {
    busy.close();
  }
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      "metrics_listen: 10.1.2.3:9864\nchecks:\n  - name: a\n    any: true\n    exec: { command: 'true' }\n",
    );
    r = await run(["run", "--config", `${dir}/c.yaml`]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /: metrics_listen: 10\.1\.2\.3 is not a loopback address; .*metrics_allow_remote: true/,
    );
    await Deno.writeTextFile(
      `${dir}/c.yaml`,
      "checks:\n  - name: a\n    any: true\n    exec: { command: 'true' }\n    metrics_listen: 127.0.0.1:1\n",
    );
    r = await run(["run", "--config", `${dir}/c.yaml`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /checks\[0\] \(a\): metrics_listen can be set at the top level only/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("metrics: restartProcess and reviveProcess count each outcome once, for whoever asked", async () => {
  // guarantee: Metrics
  await using sv = await Supervisord.start({ sections: () => SLEEPER("a") + SLEEPER("b") });
  await sv.waitRunning(["a:a", "b:b"]);
  const count = (check: string, name: string, outcome: string) =>
    listenerMetrics.restarts.get({ check, group: name, name, outcome });
  const seen = await sv.process("a:a");
  // two checks ask at once: one restarts it, the other joins and is told "skipped"
  const [first, second] = await Promise.all([
    restartProcess(sv.client, seen, { owner: "one" }),
    restartProcess(sv.client, seen, { owner: "two" }),
  ]);
  assert.equal(first.outcome, "restarted", first.detail);
  assert.equal(second.outcome, "skipped", second.detail);
  assert.equal(count("one", "a", "restarted"), 1);
  assert.equal(count("two", "a", "skipped"), 1);
  assert.equal(count("two", "a", "restarted"), 0);
  // the pid it was judged with is gone: skipped, counted as such
  const stale = await restartProcess(sv.client, seen, { owner: "one" });
  assert.equal(stale.outcome, "skipped", stale.detail);
  assert.equal(count("one", "a", "skipped"), 1);
  // supervisord does not know the process: skipped
  const ghost = await reviveProcess(sv.client, { ...seen, group: "ghost", name: "ghost" }, "one");
  assert.equal(ghost.outcome, "skipped", ghost.detail);
  assert.equal(count("one", "ghost", "skipped"), 1);
  await sv.client.stopProcess("b:b");
  const b = await sv.process("b:b");
  const notNeeded = await reviveProcess(sv.client, b, "one");
  assert.equal(notNeeded.outcome, "skipped", "STOPPED is not revived");
  assert.equal(count("one", "b", "skipped"), 1);
  assert.equal(count("one", "b", "restarted"), 0);
});
