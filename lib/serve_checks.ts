/**
 * The checks behind `serve`'s GET /healthcheck, answered the way 004's
 * HealthCheck does: one result per check with `checker`, `output`,
 * `passed`, `timestamp`, `expires` (Unix seconds) and `response_time`
 * (seconds). A check is one check kind of one config entry on one process.
 */
import { type ConfiguredCheck, namespec, type ProcessInfo } from "./check.ts";
import { redact } from "./redact.ts";
import { HealthCache } from "./health_cache.ts";
import type { Logger } from "./log.ts";
import { probe } from "./probe.ts";
import type { CheckEntry, HealthcheckOptions } from "./serve_config.ts";
import type { ProcessList } from "./serve_processes.ts";
import { STATE_RUNNING } from "./supervisor.ts";

export interface CheckResult {
  checker: string;
  output: string;
  passed: boolean;
  /** Unix time (seconds) the result was produced. */
  timestamp: number;
  /** Unix time until which it is reused; null when it is not cached. */
  expires: number | null;
  /** Seconds the check took (retries included). */
  response_time: number;
}

export interface SuiteReport {
  passed: boolean;
  results: CheckResult[];
}

const unixNow = () => Date.now() / 1000;

/** A result produced without running a check (nothing to run it on). */
function failure(checker: string, output: string): CheckResult {
  return {
    checker,
    output: redact(output),
    passed: false,
    timestamp: unixNow(),
    expires: null,
    response_time: 0,
  };
}

/**
 * The config's checks, run on request. Each result is cached under its
 * checker name and the process's pid (a restart means a fresh run) for
 * success_ttl / failed_ttl seconds, and concurrent requests share a run in
 * flight. Checker names: the entry's name for a plain target (url, address,
 * command), `name/kind/group:process` for supervisord processes. A check that
 * throws, or cannot be configured for a process, is a failed result carrying
 * the error text. Outputs (and the log lines carrying them) go through
 * lib/redact.ts: secrets masked as in /environment, control characters
 * visible, at most TEXT_CHARS long.
 */
export class CheckSuite {
  readonly #cache: HealthCache<CheckResult>;
  /** Each check's latest result, by checker name (for /metrics). */
  readonly latest = new Map<string, CheckResult>();
  /** What each check keeps between runs (CheckContext.state), by checker name. */
  readonly #state = new Map<string, Map<string, unknown>>();

  constructor(
    readonly entries: CheckEntry[],
    readonly options: HealthcheckOptions,
    private readonly processes: ProcessList | undefined,
    private readonly signal: AbortSignal,
    private readonly logger: Logger,
  ) {
    if (!processes && entries.some((e) => e.target.kind === "supervisord")) {
      throw new Error("checks of supervisord processes need a ProcessList");
    }
    this.#cache = new HealthCache((r) => {
      const ttl = r.passed ? options.successTtl : options.failedTtl;
      return ttl === null || signal.aborted ? null : ttl * 1000;
    });
  }

  /** Runs (or reuses) every check; results in config order. */
  async run(): Promise<SuiteReport> {
    this.#cache.prune();
    const list = this.entries.some((e) => e.target.kind === "supervisord")
      ? await this.processes?.get()
      : undefined;
    const pending: Promise<CheckResult>[] = [];
    for (const entry of this.entries) {
      const target = entry.target;
      if (target.kind === "plain") {
        for (const check of entry.checks) {
          pending.push(this.#cached(entry.name, check, target.process));
        }
        continue;
      }
      if (list === undefined) continue; // never: the constructor requires a ProcessList
      if ("error" in list) {
        pending.push(Promise.resolve(failure(entry.name, list.error)));
        continue;
      }
      const selected = list.processes.filter((p) => target.selector.matches(p))
        .sort((a, b) => namespec(a).localeCompare(namespec(b)));
      if (selected.length === 0) {
        pending.push(
          Promise.resolve(failure(entry.name, `no process matches ${target.selector.describe()}`)),
        );
      }
      for (const process of selected) {
        for (const check of entry.checks) {
          const checker = `${entry.name}/${check.definition.name}/${namespec(process)}`;
          pending.push(
            process.state === STATE_RUNNING
              ? this.#cached(checker, check, process)
              : Promise.resolve(failure(checker, `not checked: ${process.statename}`)),
          );
        }
      }
    }
    const results = await Promise.all(pending);
    for (const result of results) this.latest.set(result.checker, result);
    return { passed: results.every((r) => r.passed), results };
  }

  /** Cached per checker and pid: a restarted process is checked afresh. */
  #cached(checker: string, check: ConfiguredCheck, process: ProcessInfo): Promise<CheckResult> {
    return this.#cache.get(
      `${checker}\n${process.pid}`,
      () => this.#runCheck(checker, check, process),
    );
  }

  async #runCheck(
    checker: string,
    check: ConfiguredCheck,
    process: ProcessInfo,
  ): Promise<CheckResult> {
    let state = this.#state.get(checker);
    if (!state) this.#state.set(checker, state = new Map());
    const started = performance.now();
    const verdict = await probe(check, process, this.signal, state);
    const elapsed = (performance.now() - started) / 1000;
    const passed = verdict.status === "healthy";
    const timestamp = unixNow();
    const ttl = passed ? this.options.successTtl : this.options.failedTtl;
    const result: CheckResult = {
      checker,
      output: redact(
        verdict.attempts > 1
          ? `${verdict.message} (after ${verdict.attempts} attempts)`
          : verdict.message,
      ),
      passed,
      timestamp,
      expires: ttl ? timestamp + ttl : null,
      response_time: Math.round(elapsed * 1e6) / 1e6,
    };
    if (passed) this.logger.debug(`check ${checker} passed: ${result.output}`);
    else this.logger.warn(`check ${checker} failed: ${result.output}`);
    return result;
  }
}
