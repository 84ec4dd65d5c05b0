/**
 * The metric families of `serve`'s GET /metrics that only the sidecar has:
 * the workers gauge as /health/live sees it, the StatsD traffic behind it,
 * and the /healthcheck checks. supervisord's processes come from
 * lib/metrics.ts, as every listener exports them.
 */
import type { MetricFamily } from "./metrics.ts";
import type { CheckResult } from "./serve_checks.ts";
import type { StatsdCounters, WorkersGauge } from "./statsd.ts";

/** The workers gauge (0 before the first report and once expired) and the datagrams counted. */
export function workersFamilies(gauge: WorkersGauge, counters: StatsdCounters): MetricFamily[] {
  return [
    {
      name: "supervisor_checks_workers",
      help: "Workers as /health/live sees them: the last StatsD workers gauge, " +
        "0 before the first and after --workers-ttl.",
      type: "gauge",
      samples: [{ value: gauge.value() }],
    },
    {
      name: "supervisor_checks_workers_updated_timestamp_seconds",
      help: "Unix time of the last StatsD workers gauge update.",
      type: "gauge",
      samples: gauge.updatedAt === undefined ? [] : [{ value: gauge.updatedAt / 1000 }],
    },
    {
      name: "supervisor_checks_statsd_datagrams_total",
      help: "StatsD datagrams received.",
      type: "counter",
      samples: [{ value: counters.datagrams }],
    },
    {
      name: "supervisor_checks_statsd_malformed_datagrams_total",
      help: "StatsD datagrams with at least one line that is not a metric (ignored).",
      type: "counter",
      samples: [{ value: counters.malformed }],
    },
  ];
}

/** The last result of each /healthcheck check, labelled by its checker name. */
export function checkFamilies(latest: Iterable<CheckResult>): MetricFamily[] {
  const results = [...latest];
  return [
    {
      name: "supervisor_checks_check_passed",
      help: "Whether the last run of each /healthcheck check passed (1) or failed (0).",
      type: "gauge",
      samples: results.map((r) => ({ labels: { checker: r.checker }, value: r.passed ? 1 : 0 })),
    },
    {
      name: "supervisor_checks_check_duration_seconds",
      help: "How long the last run of each /healthcheck check took, retries included.",
      type: "gauge",
      samples: results.map((r) => ({ labels: { checker: r.checker }, value: r.response_time })),
    },
  ];
}
