/**
 * Prometheus text exposition format (version 0.0.4), as `promtool check
 * metrics` accepts it: `# HELP` and `# TYPE` lines, then one sample per line.
 */

/** The Content-Type of the format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Sample {
  labels?: Record<string, string>;
  value: number;
  /** A histogram's series: `_bucket`, `_sum`, `_count`. */
  suffix?: string;
}

export interface MetricFamily {
  /** snake_case; counters end in `_total`. */
  name: string;
  help: string;
  type: "gauge" | "counter" | "histogram";
  samples: Sample[];
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabel(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Renders families in order; a family without samples is left out. */
export function renderMetrics(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const labelText = labels.length
        ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`
        : "";
      lines.push(`${family.name}${sample.suffix ?? ""}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** Bumped by every change to a registry's value: a scrape between changes reuses its text. */
let generation = 0;

/** Label values by label name; the same names, in the same order, for every sample. */
type Labels = Record<string, string>;

/** A counter with labels; a label set appears once it is first counted. */
export class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();

  constructor(readonly name: string, readonly help: string) {}

  inc(labels: Labels = {}, by = 1) {
    generation++;
    const key = JSON.stringify(labels);
    const entry = this.#values.get(key);
    if (entry) entry.value += by;
    else this.#values.set(key, { labels, value: by });
  }

  /** The count of one label set (0 when never counted). */
  get(labels: Labels = {}): number {
    return this.#values.get(JSON.stringify(labels))?.value ?? 0;
  }

  family(): MetricFamily {
    return {
      name: this.name,
      help: this.help,
      type: "counter",
      samples: [...this.#values.values()].map(({ labels, value }) => ({ labels, value })),
    };
  }
}

/** Seconds, from 5 ms to 5 min: a check's timeout and a slow stop both fit. */
export const DURATION_BUCKETS = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
];

/** A histogram with labels (cumulative buckets, `_sum`, `_count`). */
export class Histogram {
  readonly #series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = DURATION_BUCKETS,
  ) {}

  observe(value: number, labels: Labels = {}) {
    generation++;
    const key = JSON.stringify(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    this.buckets.forEach((le, i) => {
      if (value <= le) s.counts[i]++;
    });
    s.sum += value;
    s.count++;
  }

  family(): MetricFamily {
    const samples: Sample[] = [];
    for (const { labels, counts, sum, count } of this.#series.values()) {
      this.buckets.forEach((le, i) =>
        samples.push({ suffix: "_bucket", labels: { ...labels, le: String(le) }, value: counts[i] })
      );
      samples.push({ suffix: "_bucket", labels: { ...labels, le: "+Inf" }, value: count });
      samples.push({ suffix: "_sum", labels, value: sum });
      samples.push({ suffix: "_count", labels, value: count });
    }
    return { name: this.name, help: this.help, type: "histogram", samples };
  }
}

/** What a supervisord process looks like to the metrics (a ProcessInfo's fields). */
export interface ProcessSample {
  group: string;
  name: string;
  state: number;
  statename: string;
  start: number;
  exitstatus?: number;
}

/** supervisord's process states (supervisor/states.py), for the one-hot state set. */
export const PROCESS_STATES = [
  "STOPPED",
  "STARTING",
  "RUNNING",
  "BACKOFF",
  "STOPPING",
  "EXITED",
  "FATAL",
  "UNKNOWN",
];

/**
 * supervisord's processes, named so that a dashboard of node_exporter's
 * old supervisord collector moves over by a rename (node_supervisord_up →
 * supervisord_process_up, _state, _exit_status, _start_time_seconds; labels
 * group and name). No pid or message in a label: one series per process
 * (per state, in the state set).
 */
export function processFamilies(processes: ProcessSample[]): MetricFamily[] {
  const id = (p: ProcessSample) => ({ group: p.group, name: p.name });
  const running = (p: ProcessSample) => p.statename === "RUNNING";
  return [
    {
      name: "supervisord_process_up",
      help: "Whether the process is RUNNING (1) or not (0), as supervisord said last.",
      type: "gauge",
      samples: processes.map((p) => ({ labels: id(p), value: running(p) ? 1 : 0 })),
    },
    {
      name: "supervisord_process_state",
      help: "supervisord's state code of the process (0 STOPPED, 10 STARTING, 20 RUNNING, " +
        "30 BACKOFF, 40 STOPPING, 100 EXITED, 200 FATAL, 1000 UNKNOWN).",
      type: "gauge",
      samples: processes.map((p) => ({ labels: id(p), value: p.state })),
    },
    {
      name: "supervisord_process_in_state",
      help: "One series per supervisord state: 1 for the process's state, 0 for the others.",
      type: "gauge",
      samples: processes.flatMap((p) => {
        const states = PROCESS_STATES.includes(p.statename)
          ? PROCESS_STATES
          : [...PROCESS_STATES, p.statename];
        return states.map((state) => ({
          labels: { ...id(p), state },
          value: state === p.statename ? 1 : 0,
        }));
      }),
    },
    {
      name: "supervisord_process_start_time_seconds",
      help: "Unix time the process was last started (0: never).",
      type: "gauge",
      samples: processes.map((p) => ({ labels: id(p), value: p.start })),
    },
    {
      name: "supervisord_process_exit_status",
      help: "Exit status of the process's last run (meaningful once it has exited).",
      type: "gauge",
      samples: processes.map((p) => ({ labels: id(p), value: p.exitstatus ?? 0 })),
    },
  ];
}

/** Whether supervisord answered the last process list query; no sample before the first. */
export function supervisordUpFamily(up: boolean | undefined): MetricFamily {
  return {
    name: "supervisor_checks_supervisord_up",
    help: "Whether supervisord answered the last process list query (1) or not (0).",
    type: "gauge",
    samples: up === undefined ? [] : [{ value: up ? 1 : 0 }],
  };
}

/** How a restart asked of supervisord (or decided against) ended. */
export type RestartCount =
  | "restarted"
  | "failed"
  | "skipped"
  | "handed-over"
  | "suppressed"
  | "dry-run";

/**
 * What a listener counts, process-wide: every listener of this OS process
 * (each entry of `run --config`, httpok) adds to the same registry, so one
 * /metrics shows them all, told apart by the `check` label. Counters start
 * at zero with the process; Prometheus handles the reset.
 */
export class ListenerMetrics {
  readonly startTime = Date.now() / 1000;
  readonly restarts = new Counter(
    "supervisor_checks_restarts_total",
    "Restarts (and --revive starts) by outcome: restarted, failed, skipped (it changed since " +
      "its check, e.g. a new pid), handed-over (to the finisher as the listener stopped), " +
      "suppressed (restart budget spent), dry-run.",
  );
  readonly verdicts = new Counter(
    "supervisor_checks_verdicts_total",
    "Check verdicts by check kind and verdict (healthy, unhealthy, unknown).",
  );
  readonly checkDuration = new Histogram(
    "supervisor_checks_probe_duration_seconds",
    "How long a check took on one process (or httpok's URL), retries included.",
  );
  readonly rounds = new Counter(
    "supervisor_checks_rounds_total",
    "Rounds started.",
  );
  readonly roundsSkipped = new Counter(
    "supervisor_checks_rounds_skipped_total",
    "Rounds not started because the previous one was still running.",
  );
  readonly roundDuration = new Histogram(
    "supervisor_checks_round_duration_seconds",
    "How long a round took.",
  );
  /** Whether supervisord answered the last process list query; undefined before the first. */
  supervisordUp: boolean | undefined;
  /** supervisord's processes at the last answer (empty when it did not answer). */
  processes: ProcessSample[] = [];

  /** supervisord answered a process list query (or, with undefined, did not). */
  sawProcesses(processes: ProcessSample[] | undefined) {
    generation++;
    this.supervisordUp = processes !== undefined;
    this.processes = processes ?? [];
  }

  #rendered?: { generation: number; text: string };

  /** The exposition text; rendered again only when something changed since the last scrape. */
  render(): string {
    if (this.#rendered?.generation !== generation) {
      this.#rendered = { generation, text: renderMetrics(this.families()) };
    }
    return this.#rendered.text;
  }

  families(): MetricFamily[] {
    return [
      {
        name: "supervisor_checks_start_time_seconds",
        help: "Unix time the listener started.",
        type: "gauge",
        samples: [{ value: this.startTime }],
      },
      supervisordUpFamily(this.supervisordUp),
      this.rounds.family(),
      this.roundsSkipped.family(),
      this.roundDuration.family(),
      this.verdicts.family(),
      this.checkDuration.family(),
      this.restarts.family(),
      ...processFamilies(this.processes),
    ];
  }
}

/** This OS process's registry. */
export const listenerMetrics = new ListenerMetrics();

/** One verdict of a check kind (`url`: httpok's URL) and how long it took. */
export function recordVerdict(kind: string, verdict: string, durationMs: number) {
  listenerMetrics.verdicts.inc({ kind, verdict });
  listenerMetrics.checkDuration.observe(durationMs / 1000, { kind });
}
