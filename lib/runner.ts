/**
 * The runner: one round = select processes → run every check on every
 * RUNNING selected process concurrently → decide (lib/policy.ts) → restart.
 *
 * Only an `unhealthy` verdict can lead to a restart; `unknown` (configuration
 * error, a check that threw, the listener stopping) is logged and the
 * process left alone. Rounds never overlap: a trigger while one is running
 * is logged and skipped. Restarts run beside the rounds, so a slow stop
 * (a frozen process waits out its stopwaitsecs) does not delay the checks of
 * the other processes; a process being restarted is not judged meanwhile.
 */
import { type ConfiguredCheck, namespec, type ProcessInfo } from "./check.ts";
import type { LogFields, Logger } from "./log.ts";
import type { Notifier } from "./notify.ts";
import { describeRestarts, describeStreak, ProcessTracker } from "./policy.ts";
import { EventListenerDetector } from "./event_listeners.ts";
import { probe, type ProbeResult } from "./probe.ts";
import {
  countRestart,
  needsRevival,
  restartProcess,
  type RestartResult,
  reviveProcess,
} from "./restart.ts";
import { RoundScheduler } from "./schedule.ts";
import type { ProcessSelector } from "./select.ts";
import type { PolicySettings } from "./settings.ts";
import { STATE_RUNNING, type SupervisorClient, SupervisorUnavailable } from "./supervisor.ts";

export interface RunnerSettings extends PolicySettings {
  checkName: string;
  selector: ProcessSelector;
  /** How messages name a setting: the flag (`--max-restarts`) or the config key. */
  naming?: "flag" | "key";
}

export interface ProcessReport {
  process: ProcessInfo;
  results: ProbeResult[];
}

export interface RoundReport {
  /** false when supervisord could not be asked */
  completed: boolean;
  /** why it was not completed */
  error?: string;
  /** the selection matched no process */
  nothingSelected?: boolean;
  processes: ProcessReport[];
}

const nowSeconds = () => Date.now() / 1000;

export class Runner {
  readonly #shutdown = new AbortController();
  readonly #scheduler: RoundScheduler<RoundReport>;
  readonly #trackers = new Map<string, ProcessTracker>();
  /** Restarts under way, and how many per group. */
  readonly #restarts = new Set<Promise<void>>();
  readonly #restartingInGroup = new Map<string, number>();
  /** Last message of each repeating warning: repeats go to debug. */
  readonly #lastWarning = new Map<string, string>();
  /** What each check keeps per process between rounds (CheckContext.state). */
  readonly #checkState = new Map<ConfiguredCheck, Map<string, Map<string, unknown>>>();
  /** Processes whose checks are running now, for the overrun warning. */
  readonly #inFlight = new Set<string>();
  readonly #listeners: EventListenerDetector;

  constructor(
    private readonly settings: RunnerSettings,
    private readonly checks: ConfiguredCheck[],
    private readonly client: SupervisorClient,
    private readonly logger: Logger,
    private readonly notifier?: Notifier,
  ) {
    this.#scheduler = new RoundScheduler(
      settings.interval,
      logger,
      () => this.round(this.#shutdown.signal),
      () => [...this.#inFlight].join(", "),
    );
    this.#listeners = new EventListenerDetector(client);
  }

  /**
   * --once: one round now, every selected process judged (thresholds,
   * start grace and the restart budget do not apply), nothing restarted,
   * nothing logged per process: the caller prints the report.
   */
  once(): Promise<RoundReport> {
    return this.round(this.#shutdown.signal, true);
  }

  get checkName(): string {
    return this.settings.checkName;
  }

  /** What is selected, for messages. */
  get selection(): string {
    return this.settings.selector.describe();
  }

  /** Starts the own timer when --interval is set. */
  start() {
    this.#scheduler.start();
  }

  /** A TICK event or the timer: a round, unless one is running (see RoundScheduler). */
  trigger(reason: string): Promise<RoundReport> | undefined {
    return this.#shutdown.signal.aborted ? undefined : this.#scheduler.trigger(reason);
  }

  /**
   * Stops judging: checks in flight end as unknown; restarts in flight end
   * as soon as the finisher holds them (lib/restart.ts), else when done.
   */
  async stop(): Promise<void> {
    this.#shutdown.abort();
    await this.#scheduler.stop();
    await Promise.all([...this.#restarts]);
  }

  async round(signal: AbortSignal, once = false): Promise<RoundReport> {
    let selected: ProcessInfo[];
    try {
      const { selector } = this.settings;
      selected = (await this.client.getAllProcessInfo()).filter((p) => selector.matches(p));
      if (selector.any) selected = await this.#listeners.withoutListeners(selected);
    } catch (e) {
      const message = e instanceof SupervisorUnavailable
        ? e.message
        : `asking supervisord for its processes failed: ${(e as Error).message}`;
      if (!once) this.logger.error(`${message}; nothing checked this round, retrying next round`);
      return { completed: false, error: message, processes: [] };
    }
    const nothingSelected = selected.length === 0;
    if (!once) {
      this.#warnOnChange(
        "selection",
        nothingSelected ? `no process matches ${this.settings.selector.describe()}` : undefined,
      );
    }
    this.#forgetAllBut(new Set(selected.map(namespec)));
    const reports = await Promise.all(
      selected.map((p) => once ? this.#judge(p, signal) : this.#handle(p, signal)),
    );
    return { completed: true, nothingSelected, processes: reports.filter((r) => r !== undefined) };
  }

  /** --once: the checks' verdicts on one process, with no decision; not RUNNING: no results. */
  async #judge(process: ProcessInfo, signal: AbortSignal): Promise<ProcessReport> {
    if (process.state !== STATE_RUNNING) return { process, results: [] };
    const spec = namespec(process);
    return {
      process,
      results: await Promise.all(
        this.checks.map((c) => probe(c, process, signal, this.#stateOf(c, spec))),
      ),
    };
  }

  /** How the user turns on debug lines: `-v`, or `verbose: true` in a config file. */
  #verbose(): string {
    return this.settings.naming === "key" ? "verbose: true" : "-v";
  }

  /** A setting as the user wrote it: `--max-restarts 3` or `max_restarts: 3`. */
  #setting(key: string, value: unknown): string {
    return this.settings.naming === "key"
      ? `${key}: ${value}`
      : `--${key.replaceAll("_", "-")} ${value}`;
  }

  /** Logs a warning when it differs from the last one under `key`; repeats go to debug. */
  #warnOnChange(key: string, message: string | undefined, fields?: LogFields) {
    if (message === undefined) {
      this.#lastWarning.delete(key);
      return;
    }
    if (this.#lastWarning.get(key) === message) this.logger.debug(message, fields);
    else this.logger.warn(message, fields);
    this.#lastWarning.set(key, message);
  }

  /**
   * Drops what is kept for processes no longer selected (removed groups,
   * renamed programs), unless a restart of theirs is still under way.
   */
  #forgetAllBut(present: Set<string>) {
    for (const [spec, tracker] of this.#trackers) {
      if (present.has(spec) || tracker.restarting) continue;
      this.#trackers.delete(spec);
      for (const byProcess of this.#checkState.values()) byProcess.delete(spec);
      for (const key of this.#lastWarning.keys()) {
        if (key.startsWith(`${spec} `)) this.#lastWarning.delete(key);
      }
    }
  }

  #tracker(spec: string): ProcessTracker {
    let tracker = this.#trackers.get(spec);
    if (!tracker) this.#trackers.set(spec, tracker = new ProcessTracker(this.settings.policy));
    return tracker;
  }

  #stateOf(check: ConfiguredCheck, spec: string): Map<string, unknown> {
    let byProcess = this.#checkState.get(check);
    if (!byProcess) this.#checkState.set(check, byProcess = new Map());
    let state = byProcess.get(spec);
    if (!state) byProcess.set(spec, state = new Map());
    return state;
  }

  async #handle(process: ProcessInfo, signal: AbortSignal): Promise<ProcessReport | undefined> {
    const spec = namespec(process);
    const fields = { process: spec, pid: process.pid || undefined };
    const tracker = this.#tracker(spec);
    if (tracker.restarting) {
      this.logger.debug("restart under way, not judged this round", fields);
      return undefined;
    }
    if (process.state !== STATE_RUNNING) {
      if (this.settings.revive && needsRevival(process)) this.#revive(process, tracker);
      else this.logger.debug(`not checked: ${process.statename}`, fields);
      return undefined;
    }
    tracker.observePid(process.pid);
    const age = nowSeconds() - process.start;
    if (age < this.settings.startGrace) {
      this.logger.debug(
        `in start grace (${age.toFixed(1)}s of ${this.settings.startGrace}s), not judged`,
        fields,
      );
      return undefined;
    }

    this.#inFlight.add(spec);
    const results = await Promise.all(
      this.checks.map((c) => probe(c, process, signal, this.#stateOf(c, spec))),
    ).finally(() => this.#inFlight.delete(spec));
    if (signal.aborted) return { process, results };
    // a suppression already reported: its failures are news only at debug
    const quiet = tracker.suppressed && results.some((r) => r.status === "unhealthy");
    for (const r of results) this.#logResult(r, fields, quiet);

    const failed = results.filter((r) => r.status === "unhealthy");
    const status = failed.length > 0
      ? "unhealthy"
      : results.every((r) => r.status === "healthy")
      ? "healthy"
      : "unknown";
    const reason = failed.map((r) => r.check).join(", ");
    const message = results.map((r) => `${r.check}: ${r.message}`).join("; ");
    const decision = tracker.observe(status, message, nowSeconds());
    const policy = this.settings.policy;
    if (decision.action === "restart") {
      this.#restart(process, tracker, reason, message);
    } else if (decision.action === "suppressed") {
      this.#suppressed(process, tracker, decision.first, reason, message);
    } else if (status === "unhealthy") {
      this.logger.warn(
        `failed ${reason} ${tracker.consecutiveFailures} of ${policy.failureThreshold} ` +
          `times in a row: not restarting yet`,
        { ...fields, verdict: status, reason },
      );
    }
    return { process, results };
  }

  #logResult(r: ProbeResult, fields: LogFields, quiet = false) {
    const line = `${r.check} ${r.status}: ${r.message}` +
      (r.attempts > 1 ? ` (after ${r.attempts} attempts)` : "");
    const structured = { ...fields, verdict: r.status, durationMs: r.durationMs };
    if (r.status === "unhealthy") {
      this.logger.log(quiet ? "debug" : "warn", line, { ...structured, reason: r.check });
    } else if (r.status === "healthy") this.logger.debug(line, structured);
    else {
      this.#warnOnChange(
        `${fields.process} ${r.check}`,
        `${line}; not restarting (repeats are logged with ${this.#verbose()})`,
        structured,
      );
      return;
    }
    this.#lastWarning.delete(`${fields.process} ${r.check}`);
  }

  #suppressed(
    process: ProcessInfo,
    tracker: ProcessTracker,
    first: boolean,
    reason: string,
    message: string,
  ) {
    const fields = { process: namespec(process), pid: process.pid || undefined, reason };
    const { maxRestarts, restartWindow } = this.settings.policy;
    countRestart(this.settings.checkName, process, "suppressed");
    const text = `NOT restarting: already restarted ${tracker.restarts.length} times within ` +
      `${restartWindow}s (${this.#setting("max_restarts", maxRestarts)}); resuming when it ` +
      `passes again or the window moves on (said once; repeats are logged with ${this.#verbose()})`;
    if (!first) {
      this.logger.debug(text, fields);
      return;
    }
    this.logger.error(text, fields);
    this.#notify(process, reason || "revive", "suppressed", `${text}. Last result: ${message}`);
  }

  /** Starts a restart beside the round, within the group's parallel limit. */
  #restart(process: ProcessInfo, tracker: ProcessTracker, reason: string, message: string) {
    this.#act(
      process,
      tracker,
      "restart",
      reason,
      message,
      () =>
        restartProcess(this.client, process, {
          owner: this.settings.checkName,
          signal: this.#shutdown.signal,
        }),
    );
  }

  #revive(process: ProcessInfo, tracker: ProcessTracker) {
    const now = nowSeconds();
    if (!tracker.withinBudget(now)) {
      const first = !tracker.suppressed;
      tracker.suppressed = true;
      this.#suppressed(process, tracker, first, "", process.statename);
      return;
    }
    this.#act(
      process,
      tracker,
      "revive",
      `was ${process.statename}`,
      process.statename,
      () => reviveProcess(this.client, process, this.settings.checkName),
    );
  }

  #act(
    process: ProcessInfo,
    tracker: ProcessTracker,
    kind: "restart" | "revive",
    reason: string,
    message: string,
    run: () => Promise<RestartResult>,
  ) {
    const fields = { process: namespec(process), pid: process.pid || undefined, reason };
    const verb = kind === "restart" ? `restart (failed ${reason})` : `revive (${reason})`;
    const limit = this.settings.maxParallelRestarts;
    const busy = this.#restartingInGroup.get(process.group) ?? 0;
    if (limit !== undefined && busy >= limit) {
      this.logger.warn(
        `${verb} deferred: ${busy} restart(s) in group '${process.group}' under way ` +
          `(${this.#setting("max_parallel_restarts", limit)})`,
        fields,
      );
      return;
    }
    tracker.recordRestart(nowSeconds());
    if (this.settings.dryRun) {
      countRestart(this.settings.checkName, process, "dry-run");
      this.logger.warn(`dry run: would ${verb}; nothing done`, fields);
      this.#notify(process, reason, "dry-run", message);
      return;
    }
    this.logger.warn(
      kind === "restart" ? `restarting: failed ${reason}` : `reviving: ${reason}`,
      fields,
    );
    tracker.restarting = true;
    this.#restartingInGroup.set(process.group, busy + 1);
    const done = run().then((result) => {
      this.#logOutcome(result, fields);
      this.#notify(process, reason, result.outcome, `${message}. ${result.detail}`);
    }).finally(() => {
      tracker.restarting = false;
      this.#restartingInGroup.set(
        process.group,
        (this.#restartingInGroup.get(process.group) ?? 1) - 1,
      );
      this.#restarts.delete(done);
    });
    this.#restarts.add(done);
  }

  #logOutcome(restart: RestartResult, fields: LogFields) {
    if (restart.resumed) {
      this.logger.info(
        "it was stopped by a signal (state T): sent SIGCONT so it could act on the stop " +
          "signal instead of waiting out stopwaitsecs",
        fields,
      );
    }
    if (restart.outcome === "restarted") {
      this.logger.warn(
        `restarted (${restart.detail}): new pid ${restart.newPid ?? "unknown"}`,
        fields,
      );
    } else if (restart.outcome === "skipped") {
      this.logger.warn(`restart skipped: ${restart.detail}`, fields);
    } else if (restart.outcome === "handed-over") {
      this.logger.warn(`restart handed over: ${restart.detail}`, fields);
    } else {
      this.logger.error(`restart failed: ${restart.detail}`, fields);
    }
  }

  #notify(process: ProcessInfo, reason: string, outcome: string, detail: string) {
    void this.notifier?.notify({
      check: this.settings.checkName,
      process: namespec(process),
      group: process.group,
      name: process.name,
      pid: process.pid,
      reason,
      outcome,
      detail,
      time: new Date().toISOString(),
      host: Deno.hostname(),
      uptime: process.start > 0 ? Math.max(0, nowSeconds() - process.start) : undefined,
    });
  }

  /** Per-process state, for SIGUSR2. */
  dumpState() {
    if (this.#trackers.size === 0) {
      this.logger.info("state: no process judged yet");
      return;
    }
    const { failureThreshold, restartWindow } = this.settings.policy;
    for (const [spec, tracker] of this.#trackers) {
      const s = tracker.snapshot();
      this.logger.info(
        `state: ${describeStreak(s, failureThreshold, "round")}; ` +
          describeRestarts(s, restartWindow) +
          `${tracker.restarting ? "; restarting now" : ""}`,
        { process: spec, pid: s.pid || undefined },
      );
    }
  }
}
