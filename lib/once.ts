/**
 * `--once`: one round now, judged but never acted on, printed as a
 * monitoring plugin prints it (summary with perfdata, one line per process,
 * Nagios exit status 0/1/2/3), for cron, Nagios/Icinga, Sensu and Docker
 * HEALTHCHECK. The format and exit statuses are in docs/configuration.md
 * ("Try before you deploy").
 */
import type { ProcessInfo } from "./check.ts";
import type { LogFormat } from "./log.ts";
import type { ProbeResult } from "./probe.ts";

export type OnceStatus = "OK" | "WARNING" | "CRITICAL" | "UNKNOWN";

/**
 * The Nagios plugin convention: OK every selected process RUNNING and
 * healthy; WARNING some not RUNNING (STARTING, BACKOFF, STOPPED, STOPPING,
 * EXITED), none unhealthy or unknown; CRITICAL some unhealthy, or FATAL
 * (supervisord gave up on it); UNKNOWN some verdict unknown, nothing
 * selected, or supervisord could not be asked; none CRITICAL.
 */
export const EXIT_CODES: Record<OnceStatus, number> = {
  OK: 0,
  WARNING: 1,
  CRITICAL: 2,
  UNKNOWN: 3,
};

/** Worst first, for the summary: CRITICAL beats UNKNOWN beats WARNING. */
const SEVERITY: Record<OnceStatus, number> = { OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3 };

/** One selected process as judged by one round. */
export interface OnceProcess {
  /** The entry (run --config) or check name. */
  check: string;
  process: ProcessInfo;
  /** Every check's result; empty when the process was not RUNNING. */
  results: Pick<ProbeResult, "check" | "status" | "message" | "attempts" | "durationMs">[];
}

/** What one round of one check set found. */
export interface OnceRound {
  check: string;
  /** Set when the round could not be run (supervisord unreachable). */
  error?: string;
  /** Set when the selection matched nothing: what was asked for. */
  nothingSelected?: string;
  processes: OnceProcess[];
}

export interface OnceOutcome {
  status: OnceStatus;
  code: number;
  /** The lines to print on stdout. */
  output: string;
}

type Verdict = "healthy" | "unhealthy" | "unknown" | "not-running";

function verdictOf(p: OnceProcess): Verdict {
  if (p.results.length === 0) return "not-running";
  if (p.results.some((r) => r.status === "unhealthy")) return "unhealthy";
  return p.results.every((r) => r.status === "healthy") ? "healthy" : "unknown";
}

function statusOf(p: OnceProcess, verdict: Verdict): OnceStatus {
  switch (verdict) {
    case "healthy":
      return "OK";
    case "unhealthy":
      return "CRITICAL";
    case "unknown":
      return "UNKNOWN";
    case "not-running":
      return p.process.statename === "FATAL" ? "CRITICAL" : "WARNING";
  }
}

function describe(p: OnceProcess, verdict: Verdict): string {
  if (verdict === "not-running") return `${p.process.statename}, not checked`;
  return p.results.map((r) =>
    `${r.check} ${r.status}: ${r.message}` +
    (r.attempts > 1 ? ` (after ${r.attempts} attempts)` : "")
  ).join("; ");
}

/** The worst verdict's reason, short, for the summary line. */
function shortReason(p: OnceProcess, verdict: Verdict): string {
  if (verdict === "not-running") return p.process.statename;
  const worst = p.results.find((r) => r.status === "unhealthy") ??
    p.results.find((r) => r.status !== "healthy");
  return worst ? `${worst.check}: ${worst.message}` : "";
}

/** `group:name`, or the name alone for a target outside supervisord (httpok's URL). */
function label(p: Pick<ProcessInfo, "group" | "name">): string {
  return p.group ? `${p.group}:${p.name}` : p.name;
}

/** Nagios perfdata: label=value;warn;crit;min;max. */
function perf(label: string, value: number, max: number) {
  return `${label}=${value};;;0;${max}`;
}

/**
 * Judges rounds into one status and the text to print: the first stdout line
 * is the summary with perfdata after `|`, one line per selected process
 * follows (or, with --log-format json, one JSON document).
 */
export function renderOnce(
  rounds: OnceRound[],
  elapsedSeconds: number,
  format: LogFormat,
): OnceOutcome {
  const rows = rounds.flatMap((round) =>
    round.processes.map((p) => {
      const verdict = verdictOf(p);
      return { p, verdict, status: statusOf(p, verdict) };
    })
  );
  const problems: { status: OnceStatus; text: string }[] = [];
  const multi = new Set(rounds.map((r) => r.check)).size > 1;
  const where = (round: OnceRound) => multi ? `[${round.check}] ` : "";
  for (const round of rounds) {
    if (round.error !== undefined) {
      problems.push({ status: "UNKNOWN", text: `${where(round)}${round.error}` });
    } else if (round.nothingSelected !== undefined) {
      problems.push({
        status: "UNKNOWN",
        text: `${where(round)}no process matches ${round.nothingSelected}`,
      });
    }
  }
  const count = (v: Verdict) => rows.filter((r) => r.verdict === v).length;
  const counts = {
    healthy: count("healthy"),
    unhealthy: count("unhealthy"),
    unknown: count("unknown"),
    not_running: count("not-running"),
  };
  const total = rows.length;
  let status: OnceStatus = "OK";
  for (const s of [...rows.map((r) => r.status), ...problems.map((p) => p.status)]) {
    if (SEVERITY[s] > SEVERITY[status]) status = s;
  }
  const named = rows.filter((r) => r.status === status && status !== "OK")
    .map((r) => `${label(r.p.process)}: ${shortReason(r.p, r.verdict)}`);
  const parts: string[] = [];
  if (counts.unhealthy) parts.push(`${counts.unhealthy} of ${total} unhealthy`);
  if (counts.unknown) parts.push(`${counts.unknown} of ${total} unknown`);
  if (counts.not_running) parts.push(`${counts.not_running} of ${total} not RUNNING`);
  if (parts.length === 0 && total > 0) {
    parts.push(`${total === 1 ? "1 process" : `all ${total} processes`} healthy`);
  }
  const why = [...problems.filter((p) => p.status === status).map((p) => p.text), ...named];
  const text = `${parts.join(", ") || "nothing checked"}` +
    (why.length ? ` (${why.slice(0, 3).join("; ")}${why.length > 3 ? "; …" : ""})` : "");
  const time = `${elapsedSeconds.toFixed(2)}s`;
  const perfdata = [
    perf("healthy", counts.healthy, total),
    perf("unhealthy", counts.unhealthy, total),
    perf("unknown", counts.unknown, total),
    perf("not_running", counts.not_running, total),
    `time=${time}`,
  ].join(" ");
  const summary = `SUPERVISOR-CHECKS ${status} - ${text.replaceAll("|", "/")} | ${perfdata}`;
  const code = EXIT_CODES[status];
  if (format === "json") {
    const document = {
      status,
      code,
      summary,
      counts: { ...counts, total },
      seconds: Number(elapsedSeconds.toFixed(3)),
      problems: problems.map((p) => p.text),
      processes: rows.map(({ p, verdict, status }) => ({
        check: p.check,
        process: label(p.process),
        pid: p.process.pid || undefined,
        state: p.process.statename,
        status,
        verdict,
        results: p.results,
      })),
    };
    return { status, code, output: JSON.stringify(document) + "\n" };
  }
  const lines = [summary, ...problems.map((p) => `${p.status} ${p.text}`)];
  for (const { p, verdict, status } of rows) {
    const pid = p.process.pid ? ` (pid ${p.process.pid})` : "";
    lines.push(
      `${status}${multi ? ` [${p.check}]` : ""} ${label(p.process)}${pid}: ` +
        describe(p, verdict),
    );
  }
  return { status, code, output: lines.join("\n") + "\n" };
}
