/**
 * `supervisor-checks cpu` under a real supervisord, through the real entry
 * point; plus the judging of sample sequences (checks/cpu.ts judge()) and
 * the flag errors.
 */
import assert from "node:assert/strict";
import { cpuCheck, type CpuHistory, type CpuOptions, judge } from "../../checks/cpu.ts";
import type { Verdict } from "../../lib/check.ts";
import { parseConfig } from "../../lib/option.ts";
import {
  DENO,
  listenerSection,
  REPO,
  RUN_MAIN,
  shq,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

const SPINNER = `${REPO}tests/fixtures/cpu_spinner.ts`;

function spinnerProgram(name: string, seconds: string): string {
  return `[program:${name}]
command=${[DENO, "run", SPINNER, seconds].map(shq).join(" ")}
startsecs=1
stopwaitsecs=2
autorestart=true
`;
}

Deno.test("cpu: a process spinning past -i is restarted; a short spike and an idle process are not", async () => {
  // Above 30% for 8 s: however the rounds fall, a run of segments each above 30%
  // lasting 8 s holds more than 2.4 s of CPU time, which a 1.5 s spike does not have.
  await using sv = await Supervisord.start({
    sections: (dir) =>
      spinnerProgram("spinner", "forever") + spinnerProgram("spike", "1.5") +
      spinnerProgram("idle", "forever") +
      "[group:cpu]\nprograms=spinner,spike,idle\n" +
      listenerSection(
        "cpuchk",
        ["cpu", "-n", "cpuchk", "-g", "cpu", "-p", "30", "-i", "8", "-v"],
        dir,
      ),
  });
  const specs = ["cpu:spinner", "cpu:spike", "cpu:idle"];
  const [spinner, spike, idle] = specs;
  const before = await sv.waitRunning(specs);
  await waitFor("a first round sampling all three", async () => {
    const log = await sv.listenerLog("cpuchk");
    return specs.every((s) =>
      log.includes(`${s} (pid ${before[s]}): cpu healthy: collecting samples`)
    );
  });

  await sv.kill(spinner, "SIGUSR2"); // spins from now on
  await sv.kill(spike, "SIGUSR2"); // spins for 1.5 s
  const newPid = await sv.waitRestarted(spinner, before[spinner]);
  await waitFor("a round after the restart", async () => {
    const log = await sv.listenerLog("cpuchk");
    return log.includes(`${spinner} (pid ${newPid}): cpu healthy: collecting samples`);
  });

  const after = await sv.waitRunning(specs);
  assert.equal(after[spike], before[spike], "the spike does not restart");
  assert.equal(after[idle], before[idle], "the idle process is not restarted");
  const log = await sv.listenerLog("cpuchk");
  assert.match(
    log,
    new RegExp(
      `${spinner} \\(pid ${before[spinner]}\\): cpu unhealthy: cpu above 30\\.0% for ` +
        `[\\d.]+ s \\(-i 8 s\\), averaging [\\d.]+% of a core\n`,
    ),
  );
  // on the way there: healthy while above for less than the interval
  assert.match(
    log,
    new RegExp(
      `${spinner} \\(pid ${before[spinner]}\\): cpu healthy: cpu [\\d.]+% of a core over the ` +
        `last [\\d.]+ s; above 30\\.0% for [\\d.]+ s of -i 8 s\n`,
    ),
  );
  assert.doesNotMatch(log, new RegExp(`(${spike}|${idle}) .*(unhealthy|restart)`));
});

const o: CpuOptions = { max_cpu: 50, interval: 10 };

/** Feeds samples (time s, CPU time s) of one pid to judge(); returns every verdict. */
function feed(samples: [number, number][], options = o, pid = 100): Verdict[] {
  let history: CpuHistory | undefined;
  return samples.map(([at, cpuSeconds]) => {
    const result = judge(history, { pid, startTicks: 7, at, cpuSeconds }, options);
    history = result.history;
    return result.verdict;
  });
}

const statuses = (verdicts: Verdict[]) => verdicts.map((v) => v.status);

Deno.test("cpu judge: the first sample only collects", () => {
  const [first] = feed([[0, 5]]);
  assert.equal(first.status, "healthy");
  assert.match(first.message, /^collecting samples: first CPU-time sample of pid 100$/);
});

Deno.test("cpu judge: unhealthy once usage has stayed above for the whole interval, not before", () => {
  // 100% of a core from t=0, samples every 5 s
  const verdicts = feed([[0, 0], [5, 5], [10, 10], [15, 15]]);
  assert.deepEqual(statuses(verdicts), ["healthy", "healthy", "unhealthy", "unhealthy"]);
  assert.equal(
    verdicts[1].message,
    "cpu 100.0% of a core over the last 5.0 s; above 50.0% for 5.0 s of -i 10 s",
  );
  assert.equal(
    verdicts[2].message,
    "cpu above 50.0% for 10.0 s (-i 10 s), averaging 100.0% of a core",
  );
});

Deno.test("cpu judge: a run above the threshold shorter than the interval never restarts", () => {
  // 100% of a core for 8 s (t=1..9), idle before and after, samples every 5 s, -i 15
  const verdicts = feed([[0, 0], [5, 4], [10, 8], [15, 8], [20, 8]], { max_cpu: 50, interval: 15 });
  assert.deepEqual(statuses(verdicts), ["healthy", "healthy", "healthy", "healthy", "healthy"]);
  assert.match(
    verdicts[2].message,
    /^cpu 80\.0% of a core over the last 5\.0 s; above 50\.0% for 10\.0 s of -i 15 s$/,
  );
  assert.match(verdicts[3].message, /^cpu 0\.0% of a core over the last 5\.0 s, not above 50\.0%$/);
});

Deno.test("cpu judge: one segment at or below the threshold ends the run", () => {
  // above, above, exactly 50% (not above), above, above: never 10 s in a row
  const verdicts = feed([[0, 0], [4, 4], [8, 8], [12, 10], [16, 14], [20, 18]]);
  assert.deepEqual(statuses(verdicts), [
    "healthy",
    "healthy",
    "healthy",
    "healthy",
    "healthy",
    "healthy",
  ]);
  assert.match(
    verdicts[3].message,
    /^cpu 50\.0% of a core over the last 4\.0 s, not above 50\.0%$/,
  );
  assert.match(verdicts[5].message, /above 50\.0% for 8\.0 s of -i 10 s$/);
});

Deno.test("cpu judge: percent of one core, so a threshold above 100 works", () => {
  const options = { max_cpu: 150, interval: 10 };
  // two busy threads: 200%; then 140%
  assert.deepEqual(statuses(feed([[0, 0], [5, 10], [10, 20]], options)), [
    "healthy",
    "healthy",
    "unhealthy",
  ]);
  assert.deepEqual(statuses(feed([[0, 0], [5, 7], [10, 14], [15, 21]], options)), [
    "healthy",
    "healthy",
    "healthy",
    "healthy",
  ]);
});

Deno.test("cpu judge: a new pid or start time starts the history again", () => {
  let history: CpuHistory | undefined;
  const step = (pid: number, startTicks: number, at: number, cpuSeconds: number) => {
    const r = judge(history, { pid, startTicks, at, cpuSeconds }, o);
    history = r.history;
    return r.verdict;
  };
  step(1, 7, 0, 0);
  assert.equal(step(1, 7, 5, 5).status, "healthy");
  assert.match(step(2, 9, 10, 10).message, /^collecting samples: first CPU-time sample of pid 2$/);
  assert.equal(step(2, 9, 15, 15).status, "healthy"); // above for 5 s only
  assert.match(step(2, 3, 20, 20).message, /^collecting samples/); // pid reused by another process
});

Deno.test("cpu: flags from the command line and JSON; bad ones name the flag", async () => {
  assert.deepEqual(parseConfig(cpuCheck.options, { max_cpu: "150", interval: "2.5" }, "cpu"), {
    max_cpu: 150,
    interval: 2.5,
  });
  assert.deepEqual(parseConfig(cpuCheck.options, { max_cpu: 90, interval: 1800 }, "cpu"), {
    max_cpu: 90,
    interval: 1800,
  });
  assert.equal(parseConfig(cpuCheck.options, { max_cpu: "80%", interval: 1 }, "cpu").max_cpu, 80);
  const cases: [string[], RegExp][] = [
    [
      ["-p", "abc", "-i", "5"],
      /-p\/--max-cpu-percent: expected a percentage greater than 0 .*got 'abc'/,
    ],
    [["-p", "0", "-i", "5"], /-p\/--max-cpu-percent: expected a percentage greater than 0/],
    [["-p", "50"], /-i\/--interval: is required/],
    [["-p", "50", "--interval", "0"], /-i\/--interval: must be greater than 0/],
  ];
  for (const [args, expected] of cases) {
    const { code, stderr } = await new Deno.Command(DENO, {
      args: [...RUN_MAIN, "cpu", "-n", "c", "-g", "g", ...args],
      env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent/supervisor.sock" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 2, text);
    assert.match(text, expected);
  }
});
