/**
 * Logs that stay quiet when all is well and say things once, counted over a
 * run bounded by observable events (rounds' debug lines in JSON logs), and
 * -a/--any under a real supervisord.
 */
import assert from "node:assert/strict";
import {
  DENO,
  EVERY_SECOND,
  freePorts,
  listenerSection,
  MAIN,
  pingArgs,
  Supervisord,
  waitFor,
  webProgram,
} from "../support/supervisord.ts";

interface Line {
  level: string;
  message: string;
  process?: string;
}

async function jsonLog(sv: Supervisord, name: string): Promise<Line[]> {
  return (await sv.listenerLog(name)).split("\n").filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

Deno.test("quiet logs: a hung process's overrun is WARNed once and its end INFOed once; TICKs during rounds stay at debug", async () => {
  // guarantee: Said once
  const [slow, ok] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram(`slow_${slow}`, slow) + webProgram(`ok_${ok}`, ok) +
      `[group:pool]\nprograms=slow_${slow},ok_${ok}\n` +
      listenerSection(
        "overrun",
        pingArgs(
          "overrun",
          "pool",
          ".+_(\\d+)",
          "--interval",
          "1",
          "-t",
          "3",
          "-r",
          "1",
          "--log-format",
          "json",
          "-v",
        ),
        dir,
      ),
  });
  const spec = `pool:slow_${slow}`;
  const before = await sv.waitRunning([spec, `pool:ok_${ok}`]);
  await sv.waitLog("overrun", /"message":"http healthy/);
  Deno.kill(before[spec], "SIGSTOP");
  await sv.waitRestarted(spec, before[spec]);
  // bound: the recovery line, then three more healthy rounds of the new process
  await sv.waitLog("overrun", /rounds fit their period again/);
  const mark = (await jsonLog(sv, "overrun")).length;
  await waitFor(
    "three more rounds",
    async () =>
      (await jsonLog(sv, "overrun")).slice(mark)
        .filter((l) => l.process === spec && l.message.startsWith("http healthy")).length >= 3,
  );
  const log = await jsonLog(sv, "overrun");
  const overran = log.filter((l) => l.message.startsWith("round overran"));
  assert.equal(overran.length, 1, "said once");
  assert.equal(overran[0].level, "warn");
  assert.match(overran[0].message, new RegExp(`waiting for ${spec}`));
  const fit = log.filter((l) => l.message.startsWith("rounds fit their period again"));
  assert.equal(fit.length, 1);
  assert.equal(fit[0].level, "info");
  const skips = log.filter((l) => l.message.startsWith("skipping "));
  assert.ok(skips.length >= 2, "rounds were skipped meanwhile");
  assert.ok(skips.every((l) => l.level === "debug"), "skipped triggers are debug only");
});

Deno.test("quiet logs: after --max-restarts the suppression is said once at ERROR, the failures of later rounds at debug", async () => {
  // guarantee: Said once
  const [port, other] = freePorts(2);
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.writeTextFileSync(
        `${dir}/run.yaml`,
        `interval: 1\nchecks:\n  - name: api\n    process: api\n` +
          `    http: { port: ${other}, url: /ping, timeout: 1, num_retries: 0 }\n` +
          `    max_restarts: 1\n    restart_window: 600\n`,
      );
      // the same through run --config: its messages name the key, not the flag
      return webProgram("web", port, "", "fail") + webProgram("api", other, "", "fail") +
        listenerSection("budgetrun", ["run", "--config", `${dir}/run.yaml`], dir) +
        listenerSection("budget", [
          "http",
          "-n",
          "budget",
          "-N",
          "web",
          "-p",
          String(port),
          "-u",
          "/ping",
          ...EVERY_SECOND,
          "--max-restarts",
          "1",
          "--restart-window",
          "600",
          "--log-format",
          "json",
          "-v",
        ], dir);
    },
  });
  await sv.waitRunning(["web:web"]);
  await sv.waitLog("budget", /NOT restarting: already restarted 1 times/, 30_000);
  const mark = (await jsonLog(sv, "budget")).length;
  // bound: five more failing rounds, seen as their debug lines
  await waitFor(
    "five more failing rounds",
    async () =>
      (await jsonLog(sv, "budget")).slice(mark)
        .filter((l) => l.message.startsWith("http unhealthy")).length >= 5,
    30_000,
  );
  const log = await jsonLog(sv, "budget");
  const loud = log.filter((l) => l.message.startsWith("NOT restarting"));
  assert.equal(loud.filter((l) => l.level === "error").length, 1, "said once at ERROR");
  assert.match(loud[0].message, /\(--max-restarts 1\)/, "named as it was written");
  const first = log.indexOf(loud.find((l) => l.level === "error")!);
  const after = log.slice(first + 1);
  assert.deepEqual(
    after.filter((l) => l.level === "warn" || l.level === "error").map((l) => l.message),
    [],
    "nothing above debug while nothing changes",
  );
  const run = await sv.waitLog("budgetrun", /NOT restarting/, 30_000);
  assert.match(
    run,
    /ERROR \[api\] api:api \(pid \d+\): NOT restarting: already restarted 1 times within 600s \(max_restarts: 1\);.*repeats are logged with verbose: true/,
  );
});

Deno.test("-a/--any: every process except the event listeners, this one included", async () => {
  const [port] = freePorts(1);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      webProgram("web", port) +
      "[program:sleeper]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n" +
      listenerSection("other", ["tcp", "-n", "other", "-g", "nothing", "-p", "1"], dir) +
      listenerSection("anycheck", [
        "memory",
        "-n",
        "anycheck",
        "-a",
        "-m",
        "100GB",
        "--interval",
        "1",
        "-v",
      ], dir),
  });
  await sv.waitRunning(["web:web", "sleeper:sleeper", "other:other", "anycheck:anycheck"]);
  // bound: two rounds that judged both programs
  const log = await waitFor("two rounds", async () => {
    const text = await sv.listenerLog("anycheck");
    const judged = (name: string) =>
      (text.match(new RegExp(`${name} \\(pid \\d+\\): memory healthy`, "g")) ?? []).length;
    return judged("web:web") >= 2 && judged("sleeper:sleeper") >= 2 && text;
  });
  assert.match(log, /listening: memory check of every process but the event listeners/);
  assert.doesNotMatch(log, /other:other \(pid|anycheck:anycheck \(pid/, "listeners left out");

  // from outside supervisord (no SUPERVISOR_PROCESS_NAME): both listeners recognised
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", "--no-prompt", MAIN, "memory", "-n", "t", "-a", "-m", "100GB", "--once"]
      .concat(["--log-format", "json"]),
    env: { SUPERVISOR_SERVER_URL: sv.url },
    stdin: "null",
  }).output();
  assert.equal(out.code, 0);
  const doc = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.deepEqual(
    doc.processes.map((p: { process: string }) => p.process).sort(),
    ["sleeper:sleeper", "web:web"],
  );
});
