/**
 * Benchmark: detection-to-restart latency with an own timer, and the memory
 * of one `run --config` listener against ten single-check listeners.
 *
 * Part 1 (latency): 20 port-named fixture web services in one supervisord
 * group `web`, watched by `supervisor-checks http -n det -g web -p ".+_(\d+)"
 * -u /ping --interval 1 -t 1 -r 0` on TICK_60 (so rounds come from the
 * listener's own 1 s timer). After a healthy warm-up, 5 services are frozen
 * (SIGSTOP) at the same moment. How long detection takes depends on where in
 * the 1 s cycle the freeze falls (the next round is 0–1 s away), so this is
 * done 3 times, with 5 other services each time, at 0.1 s, 0.5 s and 0.9 s
 * after one of the timer's rounds began (the timer's grid is known from the
 * listener's `listening:` log line). For each frozen service, from the freeze:
 *
 * - detection: the listener's `restarting:` log line for it;
 * - stop: until supervisord logs `stopped:` — a frozen process ignores
 *   SIGTERM, so this is mostly the program's stopwaitsecs=2 before SIGKILL;
 * - start: until supervisord logs `success: … entered RUNNING` (startsecs=1);
 *   completion = freeze → RUNNING, with the new pid confirmed by polling
 *   getAllProcessInfo every 100 ms.
 *
 * Target: every frozen service restarted (RUNNING, new pid) within 5 s.
 * Also counted: false restarts of services not frozen in that cycle (pid
 * change seen by the poll, or a `restarting:` line), from the warm-up on.
 *
 * Part 2 (memory): 10 groups g1…g10 of 2 fixture web services each (real
 * http checks of real services rather than `sleep` programs with tcp: more
 * representative), watched in the same supervisord, at the same time, by
 *
 * - ONE listener `run --config checks.yaml` with 10 entries (one per group,
 *   http on /ping, `interval: 2`), and
 * - TEN listeners `http -n gN -g gN -p ".+_(\d+)" -u /ping --interval 2`,
 *
 * all on TICK_60. After a 10 s warm-up, VmRSS of every listener (from
 * /proc/<pid>/status) is sampled 8 times, 1.5 s apart. Target: the single
 * listener under 45 MB (judged on its peak sample). For context, the idle
 * RSS of a bare `deno run`, of one that only imports the project's npm
 * packages, and of a listener that has loaded everything but has not run a
 * round. At the end each listener dumps its per-process state (SIGUSR2, not
 * SIGUSR1: that opens Deno's inspector), which shows that every process was
 * judged healthy and in how many rounds.
 *
 * Run:  deno run -A bench/detection.ts              (both parts, about 70 s)
 *       deno run -A bench/detection.ts latency      (part 1 only, about 32 s)
 *       deno run -A bench/detection.ts memory       (part 2 only, about 35 s)
 *
 * Prints each figure with its target and PASS/MISS; asserts nothing. Exits 0
 * whatever the figures, 1 only when the benchmark itself broke.
 * KEEP_SUPERVISORD_DIR=1 keeps the temp dirs (supervisord.log, listener logs).
 */
import type { ProcessInfo } from "../lib/check.ts";
import { STATE_RUNNING } from "../lib/supervisor.ts";
import {
  DENO,
  freePorts,
  listenerSection,
  REPO,
  RUN_MAIN,
  Supervisord,
  webProgram,
} from "../tests/support/supervisord.ts";

const START_TIMEOUT_MS = 120_000;
const PORT_REGEX = ".+_(\\d+)";

// part 1
const SERVICES = 20;
const FROZEN = 5;
const DETECT_LISTENER = "det";
const DETECT_ARGS = [
  "http",
  "-n",
  DETECT_LISTENER,
  "-g",
  "web",
  "-p",
  PORT_REGEX,
  "-u",
  "/ping",
  "--interval",
  "1",
  "-t",
  "1",
  "-r",
  "0",
];
/** Healthy rounds before the freeze (the timer fires every second). */
const WARMUP_MS = 5_000;
/** The listener's timer (--interval 1). */
const TIMER_MS = 1_000;
/** -t 1, and webProgram's stopwaitsecs=2 and startsecs=1: the waits the set-up imposes. */
const TIMEOUT_MS = 1_000;
const STOPWAIT_MS = 2_000;
const STARTSECS_MS = 1_000;
/**
 * Each cycle freezes FROZEN other services at once, this long after one of the
 * timer's rounds began: the wait for the next round (0–1 s) depends on it.
 */
const FREEZE_PHASES_MS = [100, 500, 900];
const RESTART_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
/** After the last restart, a few more rounds are watched for late false restarts. */
const SETTLE_MS = 3_000;
const TARGET_RESTARTED_S = 5;
const TARGET_FALSE_RESTARTS = 0;

// part 2
const GROUPS = 10;
const PER_GROUP = 2;
const INTERVAL_S = 2;
const SINGLE_LISTENER = "one";
const TEN_PREFIX = "ten_";
const RSS_WARMUP_MS = 10_000;
/** 1.5 s apart: not in step with the 2 s rounds. */
const RSS_SAMPLES = 8;
const RSS_EVERY_MS = 1_500;
const TARGET_SINGLE_MB = 45;
const BASELINE_SETTLE_MS = 2_500;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const spec = (p: Pick<ProcessInfo, "group" | "name">) => `${p.group}:${p.name}`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
const orNa = (kb: number | undefined) => (kb === undefined ? "n/a" : mb(kb));
const verdict = (ok: boolean) => (ok ? "PASS" : "MISS");
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => sum(xs) / xs.length;

function progress(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `min …, median …, max …` of some durations in ms, or a note when there are none. */
function spread(values: (number | undefined)[]): string {
  const known = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (known.length === 0) return "n/a";
  const missing = values.length - known.length;
  return `min ${s(known[0])}, median ${s(median(known))}, max ${s(known[known.length - 1])}` +
    (missing ? ` (${missing} unknown)` : "");
}

/** VmRSS of `pid` in kB, or undefined when it cannot be read (process gone). */
async function rssKb(pid: number): Promise<number | undefined> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lets the XML-RPC client's sockets of the calls just made close before the
 * harness's `supervisor.shutdown`. Under Deno's node:http, a call made in the
 * same tick as a burst of concurrent calls ends can go out on a pooled socket
 * that is closing (ECONNRESET, despite `Connection: close`); the harness then
 * SIGKILLs supervisord after 15 s and its programs are orphaned.
 */
const settleSockets = () => sleep(100);

/** Stops supervisord on Ctrl-C; returns the function that removes the handler. */
function stopOnInterrupt(sv: Supervisord): () => void {
  const onInterrupt = () => {
    progress("interrupted: stopping supervisord");
    sv.stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  return () => Deno.removeSignalListener("SIGINT", onInterrupt);
}

/** An [eventlistener:x] section on TICK_60 instead of the harness's TICK_5. */
function tick60Listener(name: string, args: string[], dir: string): string {
  const section = listenerSection(name, args, dir);
  if (!section.includes("events=TICK_5\n")) throw new Error("listenerSection changed its events");
  return section.replace("events=TICK_5\n", "events=TICK_60\n");
}

/** Listener log lines `TIME LEVEL [check] group:name (pid N): message`, parsed. */
interface ListenerLine {
  at: number;
  level: string;
  process?: string;
  message: string;
}

function listenerLines(log: string): ListenerLine[] {
  const lines: ListenerLine[] = [];
  for (const m of log.matchAll(/^(\S+) (\w+) \[[^\]]*\](?: (\S+) \(pid \d+\):)? (.*)$/gm)) {
    lines.push({ at: Date.parse(m[1]), level: m[2], process: m[3], message: m[4] });
  }
  return lines;
}

/** supervisord.log lines `2026-11-21 07:56:02,123 INFO message` (local time), parsed. */
function supervisordLines(log: string): { at: number; message: string }[] {
  const re = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}) \w+ (.*)$/gm;
  return [...log.matchAll(re)].map((m) => {
    const [y, mo, d, h, mi, sec, ms] = m.slice(1, 8).map(Number);
    return { at: new Date(y, mo - 1, d, h, mi, sec, ms).getTime(), message: m[8] };
  });
}

/** One freeze of FROZEN services at once: when, which, and what happened to each. */
interface Cycle {
  phaseMs: number;
  frozenAt: number;
  endedAt: number;
  frozen: string[];
  /** The pid each frozen service was seen RUNNING with afterwards (XML-RPC poll). */
  newPid: Map<string, number>;
  rows: {
    sp: string;
    detect?: number;
    stop?: number;
    start?: number;
    total?: number;
    killed: boolean;
  }[];
}

/** Part 1: freeze 5 of 20 at once, at three points of the timer; time detection, stop, start. */
async function latency(): Promise<void> {
  const ports = freePorts(SERVICES);
  const names = ports.map((p) => `web_${p}`);
  const specs = names.map((n) => `web:${n}`);

  progress(`part 1: starting supervisord with ${SERVICES} web services and the listener`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n, i) => webProgram(n, ports[i])).join("\n") +
      `[group:web]\nprograms=${names.join(",")}\n\n` +
      tick60Listener(DETECT_LISTENER, DETECT_ARGS, dir),
  });
  progress(`supervisord dir: ${sv.dir}`);
  const removeInterruptHandler = stopOnInterrupt(sv);
  try {
    const t0 = performance.now();
    const expected = await sv.waitRunning(specs, START_TIMEOUT_MS);
    progress(
      `all ${SERVICES} services RUNNING after ${s(performance.now() - t0)}; ` +
        `${WARMUP_MS / 1000} s of healthy rounds`,
    );
    // the timer starts right after this line: rounds begin at listeningAt + k s
    const listening = listenerLines(await sv.waitLog(DETECT_LISTENER, /listening: /))
      .find((l) => l.message.startsWith("listening: "));
    if (!listening) throw new Error("the listener's 'listening:' line cannot be parsed");
    const warmupFrom = Date.now();
    await sleep(WARMUP_MS);

    const falseRestarts = new Set<string>();
    const notePidChanges = (now: Map<string, ProcessInfo>, except: string[]) => {
      for (const sp of specs) {
        const p = now.get(sp);
        if (except.includes(sp) || (p && p.pid === expected[sp] && p.state === STATE_RUNNING)) {
          continue;
        }
        if (!falseRestarts.has(sp)) {
          progress(`false restart: ${sp} now ${p ? `pid ${p.pid} (${p.statename})` : "gone"}`);
        }
        falseRestarts.add(sp);
      }
    };
    const cycles: Cycle[] = [];
    const restartedTwice = new Set<string>();
    for (const [c, phaseMs] of FREEZE_PHASES_MS.entries()) {
      const frozen = specs.slice(c * FROZEN, (c + 1) * FROZEN);
      notePidChanges(new Map((await sv.processes()).map((p) => [spec(p), p])), []);
      // freeze `phaseMs` after one of the timer's rounds began, at least 200 ms from now
      const k = Math.ceil((Date.now() + 200 - listening.at - phaseMs) / TIMER_MS);
      await sleep(listening.at + k * TIMER_MS + phaseMs - Date.now());
      const frozenAt = Date.now();
      for (const sp of frozen) Deno.kill(expected[sp], "SIGSTOP");
      progress(
        `cycle ${c + 1}: froze ${frozen.join(", ")} ` +
          `${s(frozenAt - listening.at - k * TIMER_MS)} after a timer tick`,
      );

      const newPid = new Map<string, number>();
      let settleUntil = Infinity;
      const deadline = frozenAt + RESTART_TIMEOUT_MS;
      while (Date.now() < Math.min(deadline, settleUntil)) {
        await sleep(POLL_MS);
        const now = new Map((await sv.processes()).map((p) => [spec(p), p]));
        for (const sp of frozen) {
          const p = now.get(sp);
          if (!p || p.state !== STATE_RUNNING || p.pid === expected[sp]) continue;
          const first = newPid.get(sp);
          if (first === undefined) newPid.set(sp, p.pid);
          else if (first !== p.pid) restartedTwice.add(sp);
        }
        notePidChanges(now, frozen);
        if (newPid.size === FROZEN && settleUntil === Infinity) {
          progress(
            `cycle ${c + 1}: all ${FROZEN} RUNNING again after ${s(Date.now() - frozenAt)}; ` +
              `watching ${SETTLE_MS / 1000} s more`,
          );
          settleUntil = Date.now() + SETTLE_MS;
        }
      }
      for (const [sp, pid] of newPid) expected[sp] = pid;
      cycles.push({ phaseMs, frozenAt, endedAt: Date.now(), frozen, newPid, rows: [] });
    }
    const listenerAfter = await sv.process(DETECT_LISTENER);
    const log = listenerLines(await sv.listenerLog(DETECT_LISTENER));
    const svLog = supervisordLines(await sv.supervisordLog());

    // per frozen service: detection (listener log), stopped and RUNNING (supervisord's log)
    for (const cycle of cycles) {
      const inCycle = <T extends { at: number }>(l: T) =>
        l.at >= cycle.frozenAt && l.at <= cycle.endedAt;
      cycle.rows = cycle.frozen.map((sp) => {
        const name = sp.slice("web:".length);
        const detected = log.find((l) =>
          inCycle(l) && l.process === sp && l.message.startsWith("restarting:")
        )?.at;
        const stopped = svLog.find((l) => inCycle(l) && l.message.startsWith(`stopped: ${name} `))
          ?.at;
        const running = svLog.find((l) =>
          inCycle(l) && l.message.startsWith(`success: ${name} entered RUNNING`)
        )?.at;
        const after = (from?: number, to?: number) =>
          from === undefined || to === undefined ? undefined : to - from;
        return {
          sp,
          detect: after(cycle.frozenAt, detected),
          stop: after(detected, stopped),
          start: after(stopped, running),
          total: cycle.newPid.has(sp) ? after(cycle.frozenAt, running) : undefined,
          killed: svLog.some((l) =>
            inCycle(l) && l.message.startsWith(`killing '${name}'`) && /SIGKILL/.test(l.message)
          ),
        };
      });
    }
    // restarts the listener logged outside a cycle of the process's own freeze
    for (const l of log) {
      if (l.at < warmupFrom || !l.message.startsWith("restarting:") || !l.process) continue;
      const own = cycles.some((c) =>
        c.frozen.includes(l.process!) && l.at >= c.frozenAt && l.at <= c.endedAt
      );
      if (!own) falseRestarts.add(l.process);
    }
    const count = (re: RegExp) => log.filter((l) => re.test(l.message)).length;
    const rows = cycles.flatMap((c) => c.rows);
    const totals = rows.map((r) => r.total);
    const complete = totals.filter((t) => t !== undefined) as number[];
    const slowest = complete.length ? Math.max(...complete) : undefined;
    const frozenCount = cycles.length * FROZEN;

    console.log(
      `detection benchmark, part 1: ${SERVICES} services in [group:web], http -u /ping ` +
        `--interval 1 -t 1 -r 0 on TICK_60 (stopwaitsecs=2, startsecs=1); ${FROZEN} frozen at ` +
        `once, ${cycles.length} times, at ${
          FREEZE_PHASES_MS.map((p) => `${p / 1000}`).join(", ")
        } s after one of the listener's rounds began`,
    );
    console.log(
      `every frozen service restarted within ${TARGET_RESTARTED_S} s:  ` +
        `${complete.length}/${frozenCount} RUNNING again with a new pid` +
        (slowest !== undefined ? `, the slowest ${s(slowest)} after its freeze` : "") +
        `  (target ≤ ${TARGET_RESTARTED_S} s)  ` +
        verdict(complete.length === frozenCount && slowest! <= TARGET_RESTARTED_S * 1000),
    );
    const stages: [string, (r: Cycle["rows"][number]) => number | undefined][] = [
      ['detection  freeze → "restarting:" logged', (r) => r.detect],
      ['stop       → "stopped:" (SIGCONT, else SIGKILL after stopwaitsecs)', (r) => r.stop],
      ["start      → RUNNING (new pid, startsecs=1)", (r) => r.start],
      ["completion freeze → RUNNING", (r) => r.total],
    ];
    for (const cycle of cycles) {
      console.log(
        `  ${FROZEN} frozen ${cycle.phaseMs / 1000} s after a round began ` +
          `(next round ${(TIMER_MS - cycle.phaseMs) / 1000} s away), ` +
          `${cycle.rows.filter((r) => r.killed).length}/${FROZEN} needed SIGKILL:`,
      );
      for (const [label, pick] of stages) {
        console.log(`    ${label.padEnd(44)} ${spread(cycle.rows.map(pick))}`);
      }
    }
    console.log(`  all ${frozenCount}:`);
    for (const [label, pick] of [stages[0], stages[3]]) {
      console.log(`    ${label.padEnd(44)} ${spread(rows.map(pick))}`);
    }
    // what each stage took beyond the waits the configuration imposes
    const beyond = (pick: (c: Cycle, r: Cycle["rows"][number]) => number | undefined) => {
      const xs = cycles.flatMap((c) => c.rows.map((r) => pick(c, r)))
        .filter((x): x is number => x !== undefined).sort((a, b) => a - b);
      return xs.length ? median(xs) : 0;
    };
    const extra = [
      beyond((c, r) =>
        r.detect === undefined ? undefined : r.detect - (TIMER_MS - c.phaseMs) - TIMEOUT_MS
      ),
      // a process resumed with SIGCONT stops at once; only a SIGKILL waits out stopwaitsecs
      beyond((_, r) => r.stop === undefined ? undefined : r.stop - (r.killed ? STOPWAIT_MS : 0)),
      beyond((_, r) => r.start === undefined ? undefined : r.start - STARTSECS_MS),
    ];
    const anyKilled = cycles.some((c) => c.rows.some((r) => r.killed));
    const stopWait = anyKilled ? STOPWAIT_MS : 0;
    const budget = TIMER_MS + TIMEOUT_MS + stopWait + STARTSECS_MS;
    console.log(
      `  configured waits: next round ≤ ${TIMER_MS / 1000} s + timeout ${TIMEOUT_MS / 1000} s + ` +
        (anyKilled ? `stopwaitsecs ${STOPWAIT_MS / 1000} s + ` : "") +
        `startsecs ${STARTSECS_MS / 1000} s = ${budget / 1000} s; on top (medians): detection ` +
        `+${s(extra[0])}, stop +${s(extra[1])}, start +${s(extra[2])} → worst case (freeze just ` +
        `after a round) ≈ ${s(budget + sum(extra))}`,
    );
    console.log(
      `false restarts:  ${falseRestarts.size} (among the ${SERVICES - FROZEN} not frozen in ` +
        `each cycle, and all ${SERVICES} during the warm-up)` +
        (falseRestarts.size ? ` (${[...falseRestarts].join(", ")})` : "") +
        `  (target ${TARGET_FALSE_RESTARTS})  ` +
        verdict(falseRestarts.size <= TARGET_FALSE_RESTARTS),
    );
    console.log(
      `  listener log:  ${count(/^restarted \(/)} restarted, ` +
        `${count(/^restart failed/)} failed, ${count(/^restart skipped/)} skipped, ` +
        `${count(/^http unhealthy/)} unhealthy verdicts; listener ${listenerAfter.statename}` +
        (restartedTwice.size ? `; restarted twice: ${[...restartedTwice].join(", ")}` : ""),
    );
  } finally {
    removeInterruptHandler();
    await settleSockets();
    progress("stopping supervisord");
  }
}

/** Peak RSS (kB) of a process that idles, after it settled; undefined when it died. */
async function idleKb(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; keepStdinOpen?: boolean } = {},
): Promise<number | undefined> {
  const child = new Deno.Command(DENO, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: options.keepStdinOpen ? "piped" : "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await sleep(BASELINE_SETTLE_MS);
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      const kb = await rssKb(child.pid);
      if (kb !== undefined) samples.push(kb);
      await sleep(200);
    }
    return samples.length ? Math.max(...samples) : undefined;
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    if (options.keepStdinOpen) await child.stdin.close().catch(() => {});
    await child.status;
  }
}

/** RSS of an idle `deno run` of `source` (written to a temp file, no config). */
async function idleScriptKb(source: string): Promise<number | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "supervisor-checks-baseline-" });
  const file = `${dir}/idle.ts`;
  await Deno.writeTextFile(file, `${source}\nawait new Promise((r) => setTimeout(r, 60_000));\n`);
  try {
    return await idleKb(["run", "-A", "--no-prompt", "--no-config", file], { cwd: dir });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * RSS of a listener that has loaded everything and waits for its first event,
 * which never comes (no --interval, supervisord not involved, never asked).
 */
function idleListenerKb(): Promise<number | undefined> {
  return idleKb(
    [...RUN_MAIN, "http", "-n", "idle", "-g", "none", "-p", "8080"],
    {
      cwd: REPO,
      env: { SUPERVISOR_SERVER_URL: "unix:///nonexistent/supervisor.sock" },
      keepStdinOpen: true,
    },
  );
}

/** The npm packages the product imports (deno.lock's specifiers), as `npm:` specifiers. */
async function npmImports(): Promise<string[]> {
  const lock = JSON.parse(await Deno.readTextFile(`${REPO}deno.lock`));
  return Object.keys(lock.specifiers ?? {}).filter((s) => s.startsWith("npm:"));
}

/** Part 2: one `run --config` listener for 10 groups against ten single-check listeners. */
async function memory(): Promise<void> {
  progress("part 2: baselines (idle deno processes)");
  const bareKb = await idleScriptKb("");
  const packages = await npmImports();
  const npmKb = await idleScriptKb(packages.map((p) => `import "${p}";`).join("\n"));
  const listenerKb = await idleListenerKb();

  const ports = freePorts(GROUPS * PER_GROUP);
  const groups = Array.from({ length: GROUPS }, (_, g) => `g${g + 1}`);
  const members = groups.map((g, i) =>
    ports.slice(i * PER_GROUP, (i + 1) * PER_GROUP).map((p) => `${g}_${p}`)
  );
  const specs = groups.flatMap((g, i) => members[i].map((n) => `${g}:${n}`));
  const tenNames = groups.map((g) => `${TEN_PREFIX}${g}`);
  const listeners = [SINGLE_LISTENER, ...tenNames];
  const yaml = `interval: ${INTERVAL_S}\nchecks:\n` +
    groups.map((g) =>
      `  - name: ${g}\n    group: ${g}\n` +
      `    http: { port: ${JSON.stringify(PORT_REGEX)}, url: /ping }\n`
    ).join("");

  progress(
    `starting supervisord with ${GROUPS} groups × ${PER_GROUP} web services and ` +
      `${listeners.length} listeners`,
  );
  await using sv = await Supervisord.start({
    sections: (dir) => {
      Deno.writeTextFileSync(`${dir}/checks.yaml`, yaml);
      return groups.map((g, i) =>
        members[i].map((n, j) => webProgram(n, ports[i * PER_GROUP + j])).join("\n") +
        `[group:${g}]\nprograms=${members[i].join(",")}\n\n`
      ).join("") +
        tick60Listener(SINGLE_LISTENER, ["run", "--config", `${dir}/checks.yaml`], dir) +
        groups.map((g, i) =>
          tick60Listener(tenNames[i], [
            "http",
            "-n",
            g,
            "-g",
            g,
            "-p",
            PORT_REGEX,
            "-u",
            "/ping",
            "--interval",
            String(INTERVAL_S),
          ], dir)
        ).join("");
    },
  });
  progress(`supervisord dir: ${sv.dir}`);
  const removeInterruptHandler = stopOnInterrupt(sv);
  try {
    const t0 = performance.now();
    await sv.waitRunning(specs, START_TIMEOUT_MS);
    const pids = await sv.waitRunning(listeners, START_TIMEOUT_MS);
    for (const l of listeners) await sv.waitLog(l, /listening: /);
    progress(
      `all services and listeners up after ${s(performance.now() - t0)}; ` +
        `${RSS_WARMUP_MS / 1000} s warm-up`,
    );
    await sleep(RSS_WARMUP_MS);

    const samples = new Map<string, number[]>(listeners.map((l) => [l, []]));
    for (let i = 0; i < RSS_SAMPLES; i++) {
      const kbs = await Promise.all(listeners.map((l) => rssKb(pids[l])));
      listeners.forEach((l, j) => {
        if (kbs[j] === undefined) throw new Error(`listener ${l} (pid ${pids[l]}) has gone`);
        samples.get(l)!.push(kbs[j]!);
      });
      if (i < RSS_SAMPLES - 1) await sleep(RSS_EVERY_MS);
    }

    // every listener writes its per-process state: proof that it judged, and how often
    const dumpFrom = Date.now();
    for (const l of listeners) Deno.kill(pids[l], "SIGUSR2");
    await sleep(1_000);
    const states = new Map<string, { healthy: number; rounds: number[] }>();
    let restarts = 0;
    const problems: string[] = [];
    for (const l of listeners) {
      const lines = listenerLines(await sv.listenerLog(l));
      const dump = lines.filter((x) => x.at >= dumpFrom && x.message.startsWith("state: "));
      states.set(l, {
        healthy: dump.filter((x) => /; last verdict healthy\b/.test(x.message)).length,
        rounds: dump.map((x) => Number(/passed the last (\d+)/.exec(x.message)?.[1] ?? 0)),
      });
      restarts += lines.filter((x) => x.message.startsWith("restarting:")).length;
      problems.push(
        ...lines.filter((x) => x.level === "WARN" || x.level === "ERROR")
          .map((x) => `${l}: ${x.process ?? ""} ${x.message}`),
      );
    }
    const stillRunning = (await Promise.all(listeners.map((l) => sv.process(l))))
      .filter((p) => p.state === STATE_RUNNING).length;

    const meanKb = (l: string) => mean(samples.get(l)!);
    const peakKb = (l: string) => Math.max(...samples.get(l)!);
    const single = { mean: meanKb(SINGLE_LISTENER), peak: peakKb(SINGLE_LISTENER) };
    const tenMeans = tenNames.map(meanKb);
    const tenPeaks = tenNames.map(peakKb);
    const singleState = states.get(SINGLE_LISTENER)!;
    const tenHealthy = sum(tenNames.map((l) => states.get(l)!.healthy));
    const allRounds = listeners.flatMap((l) => states.get(l)!.rounds);

    console.log(
      `detection benchmark, part 2: ${GROUPS} groups × ${PER_GROUP} web services, http -u /ping ` +
        `every ${INTERVAL_S} s (TICK_60), all listeners in one supervisord at the same time; ` +
        `VmRSS sampled ${RSS_SAMPLES}× ${RSS_EVERY_MS / 1000} s apart after ` +
        `${RSS_WARMUP_MS / 1000} s`,
    );
    console.log(
      `one \`run --config\` listener, ${GROUPS} entries:  mean ${mb(single.mean)}, ` +
        `peak ${mb(single.peak)}  (target < ${TARGET_SINGLE_MB} MB)  ` +
        verdict(single.peak < TARGET_SINGLE_MB * 1024),
    );
    console.log(
      `ten single-check listeners:            sum ${mb(sum(tenMeans))} ` +
        `(mean ${mb(mean(tenMeans))} each, ${mb(Math.min(...tenMeans))}…` +
        `${mb(Math.max(...tenMeans))}; sum of peaks ${mb(sum(tenPeaks))})`,
    );
    console.log(
      `  one listener instead of ten saves ${mb(sum(tenMeans) - single.mean)} ` +
        `(${(sum(tenMeans) / single.mean).toFixed(1)}× less)`,
    );
    console.log(
      `  baseline per process (idle, deno run): bare deno ${orNa(bareKb)}; importing only ` +
        `${packages.map((p) => p.slice(4)).join(", ")} ${orNa(npmKb)}; a listener that ` +
        `loaded everything and awaits its first event ${orNa(listenerKb)}`,
    );
    console.log(
      `  state dump (SIGUSR2): one listener ${singleState.healthy}/${GROUPS * PER_GROUP} ` +
        `processes last healthy, the ten ${tenHealthy}/${GROUPS * PER_GROUP}; ` +
        `${Math.min(...allRounds)}…${Math.max(...allRounds)} healthy rounds per process; ` +
        `${restarts} restarts; ${stillRunning}/${listeners.length} listeners RUNNING`,
    );
    for (const p of problems.slice(0, 5)) console.log(`  logged: ${p}`);
  } finally {
    removeInterruptHandler();
    await settleSockets();
    progress("stopping supervisord");
  }
}

const parts = Deno.args.length ? Deno.args : ["latency", "memory"];
const unknown = parts.filter((p) => p !== "latency" && p !== "memory");
if (unknown.length) {
  console.error(`unknown part(s) ${unknown.join(", ")}: give latency and/or memory, or nothing`);
  Deno.exit(2);
}
let broke = false;
for (const part of parts) {
  try {
    await (part === "latency" ? latency() : memory());
  } catch (e) {
    console.error(`benchmark broke (${part}): ${(e as Error).stack ?? e}`);
    broke = true;
  }
}
if (broke) Deno.exit(1);
