/**
 * `supervisor-checks memory` under a real supervisord, through the real
 * entry point; plus the check's verdicts called in-process and its flag
 * errors.
 */
import assert from "node:assert/strict";
import { memoryCheck, type MemoryOptions } from "../../checks/memory.ts";
import type { CheckContext } from "../../lib/check.ts";
import { parseConfig } from "../../lib/option.ts";
import {
  denoProgram,
  listenerSection,
  REPO,
  runMain,
  Supervisord,
  waitFor,
} from "../support/supervisord.ts";

const HOG = `${REPO}tests/fixtures/memory_hog.ts`;
const PARENT = `${REPO}tests/fixtures/memory_parent.ts`;

/** RSS figures (MB) of the healthy lines a listener logged for `spec` with `pid`. */
function healthyRssMb(log: string, spec: string, pid: number): number[] {
  const re = new RegExp(
    `${spec} \\(pid ${pid}\\): memory healthy: rss ([\\d.]+) MB`,
    "g",
  );
  return [...log.matchAll(re)].map((m) => Number(m[1]));
}

Deno.test("memory: a process that grows past -m is restarted; one that stays below is not", async () => {
  await using sv = await Supervisord.start({
    sections: (dir) =>
      denoProgram("hog", HOG, ["300"]) + denoProgram("calm", HOG, ["40"]) +
      "[group:mem]\nprograms=hog,calm\n" +
      listenerSection("memchk", ["memory", "-n", "memchk", "-g", "mem", "-m", "150MB", "-v"], dir),
  });
  const [hog, calm] = ["mem:hog", "mem:calm"];
  const before = await sv.waitRunning([hog, calm]);
  await waitFor("a round judging both healthy", async () => {
    const log = await sv.listenerLog("memchk");
    return healthyRssMb(log, hog, before[hog]).length > 0 &&
      healthyRssMb(log, calm, before[calm]).length > 0;
  });

  await sv.kill(hog, "SIGUSR2"); // grows by 300 MB
  await sv.kill(calm, "SIGUSR2"); // grows by 40 MB, stays below 150 MB
  const newPid = await sv.waitRestarted(hog, before[hog]);
  await waitFor("a round seeing calm grown", async () => {
    const log = await sv.listenerLog("memchk");
    return healthyRssMb(log, calm, before[calm]).some((mb) => mb >= 70);
  });

  assert.equal((await sv.process(calm)).pid, before[calm], "calm keeps its pid");
  const log = await sv.waitLog("memchk", /restarted/);
  assert.match(
    log,
    new RegExp(
      `${hog} \\(pid ${before[hog]}\\): memory unhealthy: rss [\\d.]+ MB exceeds 150 MB\n`,
    ),
  );
  assert.match(log, new RegExp(`${hog} \\(pid ${before[hog]}\\): restarted .*new pid ${newPid}`));
  assert.doesNotMatch(log, new RegExp(`${calm} .*(unhealthy|restart)`));
});

Deno.test("memory -c: a child growing past -m gets its small parent restarted", async () => {
  // cumchk sums parent and child; ownchk, same limit without -c, sees the small parent only
  await using sv = await Supervisord.start({
    sections: (dir) =>
      denoProgram("parent", PARENT, ["300"]) +
      "[group:fam]\nprograms=parent\n" +
      listenerSection("cumchk", [
        "memory",
        "-n",
        "cumchk",
        "-g",
        "fam",
        "--max-rss",
        "150MB",
        "--cumulative",
        "-v",
      ], dir) +
      listenerSection("ownchk", ["memory", "-n", "ownchk", "-g", "fam", "-m", "153600", "-v"], dir),
  });
  const parent = "fam:parent";
  const { [parent]: pid } = await sv.waitRunning([parent]);
  await waitFor("a cumulative round counting the parent and its child", async () => {
    const log = await sv.listenerLog("cumchk");
    return log.includes(`${parent} (pid ${pid}): memory healthy: rss`) &&
      log.includes("(cumulative over 2 processes), limit 150 MB");
  });

  await sv.kill(parent, "SIGUSR2"); // the child grows by 300 MB
  const newPid = await sv.waitRestarted(parent, pid);

  const cumulative = await sv.waitLog("cumchk", /restarted/);
  assert.match(
    cumulative,
    new RegExp(
      `${parent} \\(pid ${pid}\\): memory unhealthy: ` +
        `rss [\\d.]+ MB \\(cumulative over 2 processes\\) exceeds 150 MB\n`,
    ),
  );
  assert.match(cumulative, new RegExp(`${parent} \\(pid ${pid}\\): restarted .*new pid ${newPid}`));
  const own = await sv.listenerLog("ownchk");
  assert.ok(healthyRssMb(own, parent, pid).length > 0, own);
  assert.doesNotMatch(own, /unhealthy|restarting/, "the parent alone never exceeded the limit");
});

function context(): CheckContext {
  return { signal: new AbortController().signal, attempt: 1, state: new Map() };
}

function options(raw: Record<string, unknown>): MemoryOptions {
  return parseConfig(memoryCheck.options, raw, "memory");
}

const info = (pid: number) => ({
  name: "x",
  group: "g",
  pid,
  state: 20,
  statename: "RUNNING",
  start: 0,
});

Deno.test("memory, in-process: a process that has exited is unknown, not unhealthy", async () => {
  const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
  await child.status;
  const verdict = await memoryCheck.run(info(child.pid), options({ max_rss: 1 }), context());
  assert.equal(verdict.status, "unknown");
  assert.match(verdict.message, new RegExp(`pid ${child.pid}: the process has exited`));
});

Deno.test("memory, in-process: -c counts this test process and its child", async () => {
  const child = new Deno.Command("sleep", { args: ["30"], stdout: "null", stderr: "null" })
    .spawn();
  try {
    const generous = await memoryCheck.run(
      info(Deno.pid),
      options({ max_rss: "1GB", cumulative: true }),
      context(),
    );
    assert.equal(generous.status, "healthy");
    assert.match(generous.message, /^rss [\d.]+ MB \(cumulative over \d+ processes\), limit 1 GB$/);
    const count = Number(/over (\d+) processes/.exec(generous.message)![1]);
    assert.ok(count >= 2, generous.message);
    const tight = await memoryCheck.run(info(Deno.pid), options({ max_rss: 1024 }), context());
    assert.equal(tight.status, "unhealthy");
    assert.match(tight.message, /^rss [\d.]+ MB exceeds 1 MB$/);
  } finally {
    child.kill();
    await child.status;
  }
});

Deno.test("memory: sizes in KB or with a unit, from flags and from JSON", () => {
  const kb = (raw: unknown) => options({ max_rss: raw }).max_rss;
  assert.equal(kb("102400"), 102400);
  assert.equal(kb(102400), 102400);
  assert.equal(kb("100MB"), 102400);
  assert.equal(kb("512mb"), 524288);
  assert.equal(kb("2 GB"), 2 * 1024 * 1024);
  assert.equal(kb("1.5GiB"), 1.5 * 1024 * 1024);
  assert.equal(kb("800K"), 800);
  assert.equal(options({ max_rss: 1 }).cumulative, false);
  assert.equal(options({ max_rss: 1, cumulative: true }).cumulative, true);
  assert.equal(options({ max_rss: 1, cumulative: "false" }).cumulative, false);
});

Deno.test("memory: bad flags are refused at start-up, naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["-m", "12XB"], /-m\/--max-rss: expected a size in KB \(102400\) or with a unit .*got '12XB'/],
    [["--msx-rss", "0"], /-m\/--max-rss: must be greater than 0/],
    [[], /-m\/--max-rss: is required/],
    [["-m", "1", "-c", "yes"], /Unexpected argument 'yes'/],
  ];
  for (const [args, expected] of cases) {
    const { code, stderr } = await runMain(["memory", "-n", "m", "-g", "g", ...args]);
    assert.equal(code, 2, stderr);
    assert.match(stderr, expected);
  }
});
