/**
 * Benchmark: the cost of one round of memory + cpu checks, and of memmon's,
 * over 200 processes.
 *
 * 200 `sleep 600` programs in one supervisord group `bench`. Two measures:
 *
 * 1. In-process (the target): the check definitions are imported and run
 *    as the runner runs them — probe() for every process and check,
 *    concurrently — on the 200 ProcessInfo from supervisord's
 *    getAllProcessInfo(). After warm-up rounds, each round's wall time
 *    (performance.now) and this process's CPU time (process.cpuUsage(),
 *    user + system of all threads, so Deno's I/O threads count) are
 *    recorded. Target: under 50 ms of CPU per memory+cpu round.
 * 2. Real listeners: `supervisor-checks memory -c`, `supervisor-checks
 *    cpu` and `supervisor-checks memmon -c` as [eventlistener:x] on TICK_5, through the real entry point; their
 *    CPU time (utime + stime from /proc/<pid>/stat) over a span of TICK_5
 *    rounds, divided by the rounds in it. This includes the XML-RPC call and
 *    the event protocol, so it is given for information only; with each
 *    listener's peak RSS (VmHWM) at the end.
 *
 * Run:  deno run -A bench/memory_cpu_round.ts
 *
 * Prints figures with PASS/MISS; exits 0 whatever they are, 1 only when the
 * benchmark itself broke.
 */
import { parse, parseConfig } from "../lib/option.ts";
import process from "node:process";
import { cpuCheck } from "../checks/cpu.ts";
import { memoryCheck } from "../checks/memory.ts";
import { MEMMON_OPTIONS, memmonCheck } from "../checks/memmon.ts";
import type { CheckDefinition, ConfiguredCheck, ProcessInfo } from "../lib/check.ts";
import { probe } from "../lib/probe.ts";
import { readStat } from "../lib/proc.ts";
import { peakRssMb } from "../tests/support/memory.ts";
import { listenerSection, Supervisord } from "../tests/support/supervisord.ts";

const PROCESSES = 200;
const WARMUP_ROUNDS = 3;
const ROUNDS = 20;
const TARGET_CPU_MS = 50;
/** TICK_5 rounds watched for the real listeners. */
const LISTENER_ROUNDS = 6;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function progress(message: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 23)}] ${message}`);
}

function configured(
  definition: typeof memoryCheck | typeof cpuCheck,
  raw: Record<string, unknown>,
): ConfiguredCheck {
  return {
    definition,
    options: parseConfig(definition.options as CheckDefinition["options"], raw, definition.name),
  };
}

interface Figures {
  wallMs: number[];
  cpuMs: number[];
  statuses: Map<string, number>;
}

/** Runs `rounds` rounds of `checks` over `processes` as the runner would. */
async function measure(
  checks: ConfiguredCheck[],
  processes: ProcessInfo[],
  rounds: number,
): Promise<Figures> {
  const signal = new AbortController().signal;
  const states = new Map(
    checks.map((c) => [c, new Map(processes.map((p) => [p.name, new Map<string, unknown>()]))]),
  );
  const figures: Figures = { wallMs: [], cpuMs: [], statuses: new Map() };
  for (let round = -WARMUP_ROUNDS; round < rounds; round++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const results = await Promise.all(
      processes.flatMap((p) => checks.map((c) => probe(c, p, signal, states.get(c)!.get(p.name)!))),
    );
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (round < 0) continue;
    figures.wallMs.push(wall);
    figures.cpuMs.push((cpu.user + cpu.system) / 1000);
    for (const r of results) {
      const key = `${r.check} ${r.status}`;
      figures.statuses.set(key, (figures.statuses.get(key) ?? 0) + 1);
    }
    await sleep(100); // rounds are apart in real life; lets the CPU samples differ
  }
  return figures;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ms = (n: number) => `${n.toFixed(1)} ms`;

function report(label: string, f: Figures, target?: number): void {
  const cpu = mean(f.cpuMs);
  const verdict = target === undefined
    ? ""
    : `  (target < ${target} ms)  ${cpu < target ? "PASS" : "MISS"}`;
  console.log(
    `${label.padEnd(34)} cpu ${ms(cpu)}/round (max ${ms(Math.max(...f.cpuMs))}), ` +
      `wall ${ms(mean(f.wallMs))}/round (max ${ms(Math.max(...f.wallMs))})${verdict}`,
  );
  console.log(
    `${"".padEnd(34)} verdicts: ${
      [...f.statuses].map(([k, n]) => `${k} ${n / f.cpuMs.length}`).join(", ")
    } per round`,
  );
}

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readStat(pid);
  if (!stat) throw new Error(`listener pid ${pid} has gone`);
  return stat.cpuSeconds;
}

async function run(): Promise<void> {
  const names = Array.from({ length: PROCESSES }, (_, i) => `sleep_${i}`);
  progress(`starting supervisord with ${PROCESSES} sleep processes and three listeners`);
  await using sv = await Supervisord.start({
    sections: (dir) =>
      names.map((n) => `[program:${n}]\ncommand=sleep 600\nstartsecs=0\nstopwaitsecs=1\n`)
        .join("") +
      `[group:bench]\nprograms=${names.join(",")}\n\n` +
      listenerSection("memlistener", [
        "memory",
        "-n",
        "memlistener",
        "-g",
        "bench",
        "-m",
        "1GB",
        "-c",
      ], dir) +
      listenerSection("cpulistener", [
        "cpu",
        "-n",
        "cpulistener",
        "-g",
        "bench",
        "-p",
        "90",
        "-i",
        "60",
      ], dir) +
      listenerSection("mmlistener", ["memmon", "-n", "mmlistener", "-g", "bench=1GB", "-c"], dir),
  });
  const specs = names.map((n) => `bench:${n}`);
  const t0 = performance.now();
  await sv.waitRunning(specs, 120_000);
  progress(`all ${PROCESSES} RUNNING after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const processes = (await sv.processes()).filter((p) => p.group === "bench");

  const memory = configured(memoryCheck, { max_rss: "1GB" });
  const memoryCumulative = configured(memoryCheck, { max_rss: "1GB", cumulative: true });
  const cpu = configured(cpuCheck, { max_cpu: 90, interval: 60 });

  console.log(
    `memory+cpu round benchmark: ${PROCESSES} processes (sleep 600) in [group:bench]; ` +
      `in-process, ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up, probe() as the runner does`,
  );
  report("memory + cpu", await measure([memory, cpu], processes, ROUNDS), TARGET_CPU_MS);
  report(
    "memory -c + cpu",
    await measure([memoryCumulative, cpu], processes, ROUNDS),
    TARGET_CPU_MS,
  );
  report("memory alone", await measure([memory], processes, ROUNDS));
  report("memory -c alone", await measure([memoryCumulative], processes, ROUNDS));
  report("cpu alone", await measure([cpu], processes, ROUNDS));
  const memmon = (...argv: string[]): ConfiguredCheck => ({
    definition: memmonCheck,
    options: parse(MEMMON_OPTIONS, argv).values,
  });
  report("memmon -g bench=1GB", await measure([memmon("-g", "bench=1GB")], processes, ROUNDS));
  report(
    "memmon -g bench=1GB -c",
    await measure([memmon("-g", "bench=1GB", "-c")], processes, ROUNDS),
    TARGET_CPU_MS,
  );

  progress(`watching the real listeners for ${LISTENER_ROUNDS} TICK_5 rounds`);
  const listeners = await sv.waitRunning(["memlistener", "cpulistener", "mmlistener"]);
  // start at a round boundary: just after a TICK_5 (multiples of 5 s of the clock)
  await sleep(5000 - (Date.now() % 5000) + 1000);
  const before = await Promise.all(Object.values(listeners).map(cpuSeconds));
  await sleep(LISTENER_ROUNDS * 5000);
  const after = await Promise.all(Object.values(listeners).map(cpuSeconds));
  const perRound = Object.keys(listeners).map((name, i) =>
    `${name} ${ms((after[i] - before[i]) * 1000 / LISTENER_ROUNDS)}`
  );
  console.log(
    `real listeners (TICK_5, /proc CPU time over ${LISTENER_ROUNDS} rounds, 10 ms resolution): ` +
      `${perRound.join(", ")} of CPU per round, XML-RPC and protocol included`,
  );
  const peaks = await Promise.all(Object.values(listeners).map(peakRssMb));
  console.log(
    `real listeners' peak RSS (VmHWM): ${
      Object.keys(listeners).map((name, i) => `${name} ${peaks[i]} MB`).join(", ")
    }`,
  );
  for (const name of Object.keys(listeners)) {
    const log = await sv.listenerLog(name);
    const problems = log.split("\n").filter((l) => / (WARN|ERROR) /.test(l));
    if (problems.length) console.log(`  ${name} logged: ${problems.slice(0, 3).join(" | ")}`);
  }
}

try {
  await run();
} catch (e) {
  console.error(`benchmark broke: ${(e as Error).stack ?? e}`);
  Deno.exit(1);
}
