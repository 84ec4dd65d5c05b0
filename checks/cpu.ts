/**
 * cpu: the process is unhealthy when its CPU usage stayed above
 * -p/--max-cpu-percent for the whole of -i/--interval seconds, as measured
 * between rounds; a spike never restarts it. Flags of the original
 * supervisor_cpu_check. Usage is measured, not sampled by sleeping: every
 * round reads the process's CPU time and keeps it in the check's state.
 */
import { type CheckDefinition, healthy, unhealthy, unknown, type Verdict } from "../lib/check.ts";
import { option, options, type Result, seconds } from "../lib/option.ts";
import { readCpuTime } from "../lib/proc.ts";

const OPTIONS = options({
  max_cpu: option({
    flag: "max-cpu-percent",
    short: "p",
    metavar: "PERCENT",
    help: "Highest CPU usage allowed, in percent of one core (150 = one and a half cores).",
    required: true,
    parse: (value) => {
      const text = String(value).trim().replace(/%$/, "");
      const n = Number(text);
      if (text === "" || !Number.isFinite(n) || n <= 0) {
        throw new Error(`expected a percentage greater than 0 like 90 or 150, got '${value}'`);
      }
      return n;
    },
  }),
  interval: option({
    short: "i",
    metavar: "SECONDS",
    help: "How long usage must stay above -p before a restart; measured between rounds, " +
      "so make it longer than the TICK period.",
    required: true,
    parse: seconds(),
  }),
});

export type CpuOptions = Result<typeof OPTIONS>;

/** One reading of a process's CPU time. */
export interface CpuSample {
  pid: number;
  /** Start time in clock ticks; undefined where unknown (pidusage). */
  startTicks?: number;
  /** Monotonic time of the reading, seconds. */
  at: number;
  /** CPU time used so far, seconds. */
  cpuSeconds: number;
}

/** What the check keeps per process between rounds. */
export interface CpuHistory {
  last: CpuSample;
  /** The sample that opened the current run of above-threshold segments. */
  aboveSince?: CpuSample;
}

const pct = (n: number) => `${n.toFixed(1)}%`;
const secs = (n: number) => `${n.toFixed(1)} s`;

/**
 * Adds a sample to a process's history and judges it.
 *
 * A sample is the process's CPU time (user + system, all threads, from
 * /proc/<pid>/stat; from pidusage where there is no /proc). The usage of a
 * segment, the time between two consecutive samples, is CPU time used ÷ wall
 * time elapsed, in percent of one core (a multi-threaded process can reach 150).
 *
 * "Stayed above for the whole interval" means precisely: every segment of
 * the current unbroken run of segments whose usage is strictly above the
 * threshold, and that run covers at least `interval` seconds (from the
 * sample that opened it to the latest). One segment at or below the
 * threshold ends the run. The resolution is the round period (TICK_5 → 5 s):
 * usage within a segment is its average. So a burst can only ever cause a
 * restart if it used more than max_cpu% × interval of CPU time; anything
 * shorter is a spike and never restarts. Until a run covers the interval
 * the verdict is healthy, saying how long usage has been above (or that
 * samples are still being collected). The history restarts when the pid
 * (or, from /proc, the process start time) changes.
 */
export function judge(
  history: CpuHistory | undefined,
  sample: CpuSample,
  o: CpuOptions,
): { history: CpuHistory; verdict: Verdict } {
  const last = history?.last;
  if (
    !last || last.pid !== sample.pid || last.startTicks !== sample.startTicks ||
    sample.cpuSeconds < last.cpuSeconds
  ) {
    return {
      history: { last: sample },
      verdict: healthy(`collecting samples: first CPU-time sample of pid ${sample.pid}`),
    };
  }
  const elapsed = sample.at - last.at;
  if (elapsed <= 0) return { history, verdict: healthy("collecting samples") };
  const usage = (sample.cpuSeconds - last.cpuSeconds) / elapsed * 100;
  const segment = `${pct(usage)} of a core over the last ${secs(elapsed)}`;
  if (usage <= o.max_cpu) {
    return {
      history: { last: sample },
      verdict: healthy(`cpu ${segment}, not above ${pct(o.max_cpu)}`),
    };
  }
  const since = history.aboveSince ?? last;
  const aboveFor = sample.at - since.at;
  const next = { last: sample, aboveSince: since };
  if (aboveFor < o.interval) {
    return {
      history: next,
      verdict: healthy(
        `cpu ${segment}; above ${pct(o.max_cpu)} for ${secs(aboveFor)} of -i ${o.interval} s`,
      ),
    };
  }
  const average = (sample.cpuSeconds - since.cpuSeconds) / aboveFor * 100;
  return {
    history: next,
    verdict: unhealthy(
      `cpu above ${pct(o.max_cpu)} for ${secs(aboveFor)} (-i ${o.interval} s), ` +
        `averaging ${pct(average)} of a core`,
    ),
  };
}

const HISTORY = "history";

export const cpuCheck: CheckDefinition<CpuOptions> = {
  name: "cpu",
  description: "Restart processes whose CPU usage stays above a limit for a whole interval.",
  options: OPTIONS,
  async run(process, o, ctx) {
    const time = await readCpuTime(process.pid);
    const at = performance.now() / 1000;
    if (!time) {
      return unknown(`cannot read the CPU time of pid ${process.pid}: the process has exited`);
    }
    const { history, verdict } = judge(
      ctx.state.get(HISTORY) as CpuHistory | undefined,
      { pid: process.pid, startTicks: time.startTicks, at, cpuSeconds: time.cpuSeconds },
      o,
    );
    ctx.state.set(HISTORY, history);
    return verdict;
  },
};
