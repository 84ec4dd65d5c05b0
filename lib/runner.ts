/**
 * The runner, for every listener and httpok: one round = select processes →
 * obtain verdicts (every check on every RUNNING selected process
 * concurrently, or one SharedProbe for them all) → decide (lib/policy.ts) →
 * act (lib/restart.ts, adapted by RestartHooks) → report (per restart
 * through the Notifier, or the whole round to a Reporter).
 *
 * Only an `unhealthy` verdict can lead to a restart; `unknown` (configuration
 * error, a check that threw, the listener stopping) is logged and the
 * process left alone. Rounds never overlap: a trigger while one is running
 * is logged and skipped. Restarts run beside the rounds, so a slow stop
 * (a frozen process waits out its stopwaitsecs) does not delay the checks of
 * the other processes; a process being restarted is not judged meanwhile.
 */
import {
  type ConfiguredCheck,
  namespec,
  type ProcessInfo,
  type Verdict,
  type VerdictStatus,
} from "./check.ts";
import type { Level, LogFields, Logger } from "./log.ts";
import type { Notifier } from "./notify.ts";
import { describeRestarts, describeStreak, ProcessTracker } from "./policy.ts";
import { EventListenerDetector } from "./event_listeners.ts";
import { probe, type ProbeResult, probeShared } from "./probe.ts";
import {
  countRestart,
  needsRevival,
  type RestartHooks,
  restartProcess,
  type RestartResult,
  reviveProcess,
  stateText,
} from "./restart.ts";
import { RoundScheduler } from "./schedule.ts";
import type { PolicySettings } from "./settings.ts";
import { STATE_RUNNING, type SupervisorClient, SupervisorUnavailable } from "./supervisor.ts";

/** Which processes a round looks at; lib/select.ts's ProcessSelector is one. */
export interface Selection {
  /** Every process but the event listeners. */
  readonly any: boolean;
  /** Selects nothing on purpose (httpok without -p or -a): no "no process matches" warning. */
  readonly none?: boolean;
  matches(p: Pick<ProcessInfo, "group" | "name">): boolean;
  describe(): string;
  /** The names it gives that supervisord lacks (httpok's -p). */
  missing?(all: ProcessInfo[]): string[];
}

export interface RunnerSettings extends PolicySettings {
  checkName: string;
  selector: Selection;
  /** How messages name a setting: the flag (`--max-restarts`) or the config key. */
  naming?: "flag" | "key";
}

/**
 * A verdict that depends on no process (httpok's URL): obtained once per
 * round and applied to every selected RUNNING process.
 */
export interface SharedProbe {
  /** Its kind, in logs and metrics (`url`). */
  kind: string;
  /** What it probes, for messages (the URL, its password hidden). */
  target: string;
  /** Probe even when no selected process is RUNNING (superlance's -e; -E: false). */
  eager: boolean;
  run(signal: AbortSignal): Promise<Verdict>;
}

/** What a round did about one selected process. */
export type Step =
  | { kind: "not-running" }
  | { kind: "grace"; age: number }
  | { kind: "waiting"; failures: number }
  | { kind: "suppressed"; first: boolean; restarts: number; revive: boolean }
  | { kind: "deferred"; busy: number; revive: boolean }
  | { kind: "dry-run"; revive: boolean }
  /** `result` is set once it has ended */
  | { kind: "restart" | "revive"; result?: RestartResult };

/** One round as a Reporter sees it, once every restart it started has ended. */
export interface RoundRecord {
  /** ISO 8601 time the round started. */
  time: string;
  /** Every process supervisord reported. */
  processes: ProcessInfo[];
  /** Names the selection gives that supervisord lacks (Selection.missing). */
  missing: string[];
  /** The shared verdict, when one was obtained. */
  shared?: ProbeResult;
  /** Its failure streak, this round included. */
  sharedFailures: number;
  /** In the order decided. */
  steps: { process: ProcessInfo; step: Step }[];
}

/** Reports whole rounds (httpok's mail) instead of one notification per restart. */
export interface Reporter {
  roundEnded(round: RoundRecord): void;
}

/** The parts that make a runner httpok (or anything else than per-process checks). */
export interface RunnerParts {
  shared?: SharedProbe;
  hooks?: RestartHooks;
  reporter?: Reporter;
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
  /** the selection matched no process, or some name it gives matched none */
  nothingSelected?: boolean;
  processes: ProcessReport[];
}

const nowSeconds = () => Date.now() / 1000;

/** What a round collects while it runs. */
interface Round {
  record: RoundRecord;
  /** The restarts it started. */
  actions: Promise<void>[];
}

export class Runner {
  readonly #shutdown = new AbortController();
  readonly #scheduler: RoundScheduler<RoundReport>;
  readonly #trackers = new Map<string, ProcessTracker>();
  /** The shared verdict's streak (RunnerParts.shared). */
  readonly #sharedTracker: ProcessTracker;
  /** Restarts under way (and round reports waiting for them), and how many per group. */
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
    private readonly parts: RunnerParts = {},
  ) {
    this.#scheduler = new RoundScheduler(
      settings.interval,
      logger,
      () => this.round(this.#shutdown.signal),
      () => [...this.#inFlight].join(", "),
    );
    this.#listeners = new EventListenerDetector(client);
    this.#sharedTracker = new ProcessTracker(settings.policy);
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
    const time = new Date().toISOString();
    const { selector } = this.settings;
    let all: ProcessInfo[];
    let selected: ProcessInfo[];
    try {
      all = await this.client.getAllProcessInfo();
      // a listener never judges itself
      selected = all.filter((p) => selector.matches(p) && !this.#listeners.isSelf(p));
      if (selector.any) selected = await this.#listeners.withoutListeners(selected);
    } catch (e) {
      const message = e instanceof SupervisorUnavailable
        ? e.message
        : `asking supervisord for its processes failed: ${(e as Error).message}`;
      if (!once) this.logger.error(`${message}; nothing checked this round, retrying next round`);
      return { completed: false, error: message, processes: [] };
    }
    const nothingSelected = selected.length === 0 && !selector.none;
    const missing = selector.missing?.(all) ?? [];
    if (!once) {
      this.#sayOnChange(
        "warn",
        "selection",
        nothingSelected ? `no process matches ${selector.describe()}` : undefined,
      );
      this.#sayOnChange(
        "warn",
        "missing",
        missing.length ? `not found in supervisord: ${missing.join(", ")}` : undefined,
      );
    }
    this.#forgetAllBut(new Set(selected.map(namespec)));
    const shared = await this.#probeShared(selected, signal, once);
    if (once) {
      const processes = await Promise.all(selected.map((p) => this.#judge(p, signal, shared)));
      // nothing selected: the shared verdict stands for itself
      if (selected.length === 0 && this.parts.shared) {
        processes.push({ process: this.#sharedTarget(), results: shared ? [shared] : [] });
      }
      return { completed: true, nothingSelected: nothingSelected || missing.length > 0, processes };
    }
    const round: Round = {
      record: {
        time,
        processes: all,
        missing,
        shared,
        sharedFailures: this.#sharedTracker.consecutiveFailures,
        steps: [],
      },
      actions: [],
    };
    // the longest-failing first: with a shared verdict they are decided in
    // this order, so a restart deferred by the parallel limit goes first next time
    const failures = (p: ProcessInfo) => this.#trackers.get(namespec(p))?.consecutiveFailures ?? 0;
    selected.sort((a, b) => failures(b) - failures(a));
    const reports = await Promise.all(selected.map((p) => this.#handle(p, signal, round, shared)));
    this.#report(round);
    return {
      completed: true,
      nothingSelected,
      processes: reports.filter((r) => r !== undefined),
    };
  }

  /**
   * The shared verdict of this round (one probe for every process), logged
   * once; undefined without a shared probe, or when it is not eager and no
   * selected process is RUNNING.
   */
  async #probeShared(
    selected: ProcessInfo[],
    signal: AbortSignal,
    once: boolean,
  ): Promise<ProbeResult | undefined> {
    const shared = this.parts.shared;
    if (!shared) return undefined;
    const idle = !shared.eager && !selected.some((p) => p.state === STATE_RUNNING);
    if (!once) {
      this.#sayOnChange(
        "info",
        "not eager",
        idle
          ? `${shared.kind} not checked: none of ${this.selection} is RUNNING (not eager; ` +
            `repeats are logged with ${this.#verbose()})`
          : undefined,
      );
    }
    if (idle) return undefined;
    this.#inFlight.add(shared.target);
    const result = await probeShared(shared.kind, (s) => shared.run(s), signal)
      .finally(() => this.#inFlight.delete(shared.target));
    if (once || signal.aborted) return result;
    this.#sharedTracker.observe(result.status, result.message, nowSeconds());
    const fields = { verdict: result.status, durationMs: result.durationMs };
    const line = `${shared.kind} ${result.status}: ${result.message}`;
    if (result.status === "unknown") {
      this.#sayOnChange(
        "warn",
        "shared",
        `${line}; not restarting (repeats are logged with ${this.#verbose()})`,
        fields,
      );
      return result;
    }
    this.#lastWarning.delete("shared");
    // every suppression already said: the failure is no news
    const trackers = selected.flatMap((p) => this.#trackers.get(namespec(p)) ?? []);
    const known = trackers.length > 0 && trackers.every((t) => t.suppressed);
    if (result.status === "healthy") this.logger.debug(line, fields);
    else this.logger.log(known ? "debug" : "warn", line, { ...fields, reason: shared.kind });
    return result;
  }

  /** The shared probe's target as a row of --once when nothing is selected. */
  #sharedTarget(): ProcessInfo {
    const name = this.parts.shared?.target ?? "";
    return { name, group: "", pid: 0, state: STATE_RUNNING, statename: "RUNNING", start: 0 };
  }

  /** Hands the round to the reporter once every restart it started has ended. */
  #report(round: Round) {
    const reporter = this.parts.reporter;
    if (!reporter) return;
    const done: Promise<void> = Promise.all(round.actions)
      .then(() => reporter.roundEnded(round.record))
      .finally(() => this.#restarts.delete(done));
    this.#restarts.add(done);
  }

  /** --once: the verdicts on one process, with no decision; not RUNNING: no results. */
  async #judge(
    process: ProcessInfo,
    signal: AbortSignal,
    shared?: ProbeResult,
  ): Promise<ProcessReport> {
    if (process.state !== STATE_RUNNING) return { process, results: [] };
    if (this.parts.shared) return { process, results: shared ? [shared] : [] };
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

  /** Logs a message when it differs from the last one under `key`; repeats go to debug. */
  #sayOnChange(level: Level, key: string, message: string | undefined, fields?: LogFields) {
    if (message === undefined) {
      this.#lastWarning.delete(key);
      return;
    }
    this.logger.log(this.#lastWarning.get(key) === message ? "debug" : level, message, fields);
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

  async #handle(
    process: ProcessInfo,
    signal: AbortSignal,
    round: Round,
    shared?: ProbeResult,
  ): Promise<ProcessReport | undefined> {
    const spec = namespec(process);
    const fields = { process: spec, pid: process.pid || undefined };
    const tracker = this.#tracker(spec);
    const step = (s: Step) => round.record.steps.push({ process, step: s });
    if (tracker.restarting) {
      this.logger.debug("restart under way, not judged this round", fields);
      return undefined;
    }
    if (process.state !== STATE_RUNNING) {
      if (this.settings.revive && needsRevival(process)) this.#revive(process, tracker, round);
      else {
        this.logger.debug(`not checked: ${process.statename}`, fields);
        step({ kind: "not-running" });
      }
      return undefined;
    }
    tracker.observePid(process.pid);
    const age = nowSeconds() - process.start;
    if (age < this.settings.startGrace) {
      this.logger.debug(
        `in start grace (${age.toFixed(1)}s of ${this.settings.startGrace}s), not judged`,
        fields,
      );
      step({ kind: "grace", age });
      return undefined;
    }

    let results: ProbeResult[];
    if (this.parts.shared) {
      // logged once by #probeShared; none when it was not probed
      if (shared === undefined) return undefined;
      results = [shared];
    } else {
      this.#inFlight.add(spec);
      results = await Promise.all(
        this.checks.map((c) => probe(c, process, signal, this.#stateOf(c, spec))),
      ).finally(() => this.#inFlight.delete(spec));
      if (signal.aborted) return { process, results };
      // a suppression already reported: its failures are news only at debug
      const quiet = tracker.suppressed && results.some((r) => r.status === "unhealthy");
      for (const r of results) this.#logResult(r, fields, quiet);
    }
    if (signal.aborted) return { process, results };

    const failed = results.filter((r) => r.status === "unhealthy");
    const status: VerdictStatus = failed.length > 0
      ? "unhealthy"
      : results.every((r) => r.status === "healthy")
      ? "healthy"
      : "unknown";
    const reason = failed.map((r) => r.check).join(", ");
    const message = results.map((r) => `${r.check}: ${r.message}`).join("; ");
    const decision = tracker.observe(status, message, nowSeconds());
    const policy = this.settings.policy;
    if (decision.action === "restart") {
      this.#restart(process, tracker, reason, message, round);
    } else if (decision.action === "suppressed") {
      this.#suppressed(process, tracker, decision.first, reason, message, round);
    } else if (status === "unhealthy") {
      this.logger.warn(
        `failed ${reason} ${tracker.consecutiveFailures} of ${policy.failureThreshold} ` +
          `times in a row: not restarting yet`,
        { ...fields, verdict: status, reason },
      );
      step({ kind: "waiting", failures: tracker.consecutiveFailures });
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
      this.#sayOnChange(
        "warn",
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
    round: Round,
    revive = false,
  ) {
    const fields = { process: namespec(process), pid: process.pid || undefined, reason };
    const { maxRestarts, restartWindow } = this.settings.policy;
    countRestart(this.settings.checkName, process, "suppressed");
    const restarts = tracker.restarts.length;
    round.record.steps.push({ process, step: { kind: "suppressed", first, restarts, revive } });
    const text = `NOT ${revive ? "reviving" : "restarting"}: already restarted ${restarts} ` +
      `times within ${restartWindow}s (${this.#setting("max_restarts", maxRestarts)}); ` +
      `resuming when it passes again or the window moves on (said once; repeats are logged ` +
      `with ${this.#verbose()})`;
    if (!first) {
      this.logger.debug(text, fields);
      return;
    }
    this.logger.error(text, fields);
    this.#notify(process, reason || "revive", "suppressed", `${text}. Last result: ${message}`);
  }

  /** Starts a restart beside the round, within the group's parallel limit. */
  #restart(
    process: ProcessInfo,
    tracker: ProcessTracker,
    reason: string,
    message: string,
    round: Round,
  ) {
    this.#act(
      process,
      tracker,
      "restart",
      reason,
      message,
      round,
      () =>
        restartProcess(this.client, process, {
          owner: this.settings.checkName,
          signal: this.#shutdown.signal,
          hooks: this.parts.hooks,
        }),
    );
  }

  #revive(process: ProcessInfo, tracker: ProcessTracker, round: Round) {
    const was = `was ${stateText(process)}`;
    if (!tracker.withinBudget(nowSeconds())) {
      const first = !tracker.suppressed;
      tracker.suppressed = true;
      this.#suppressed(process, tracker, first, "", was, round, true);
      return;
    }
    this.#act(
      process,
      tracker,
      "revive",
      was,
      process.statename,
      round,
      () => reviveProcess(this.client, process, this.settings.checkName),
    );
  }

  #act(
    process: ProcessInfo,
    tracker: ProcessTracker,
    kind: "restart" | "revive",
    reason: string,
    message: string,
    round: Round,
    run: () => Promise<RestartResult>,
  ) {
    const fields = { process: namespec(process), pid: process.pid || undefined, reason };
    const revive = kind === "revive";
    const verb = revive ? `revive (${reason})` : `restart (failed ${reason})`;
    const steps = round.record.steps;
    const limit = this.settings.maxParallelRestarts;
    const busy = this.#restartingInGroup.get(process.group) ?? 0;
    if (limit !== undefined && busy >= limit) {
      this.logger.warn(
        `${verb} deferred: ${busy} restart(s) in group '${process.group}' under way ` +
          `(${this.#setting("max_parallel_restarts", limit)})`,
        fields,
      );
      steps.push({ process, step: { kind: "deferred", busy, revive } });
      return;
    }
    tracker.recordRestart(nowSeconds());
    if (this.settings.dryRun) {
      countRestart(this.settings.checkName, process, "dry-run");
      const how = revive ? "" : this.parts.hooks?.dryRun ?? "";
      this.logger.warn(`dry run: would ${verb}${how}; nothing done`, fields);
      steps.push({ process, step: { kind: "dry-run", revive } });
      this.#notify(process, reason, "dry-run", message);
      return;
    }
    this.logger.warn(revive ? `reviving: ${reason}` : `restarting: failed ${reason}`, fields);
    const step: Step = { kind };
    steps.push({ process, step });
    tracker.restarting = true;
    this.#restartingInGroup.set(process.group, busy + 1);
    const done: Promise<void> = run().then((result) => {
      step.result = result;
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
    round.actions.push(done);
  }

  #logOutcome(restart: RestartResult, fields: LogFields) {
    if (restart.before) this.logger.info(restart.before, fields);
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

  /** One report per restart, unless a Reporter reports whole rounds. */
  #notify(process: ProcessInfo, reason: string, outcome: string, detail: string) {
    if (this.parts.reporter) return;
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

  /** Per-process state (and the shared verdict's streak), for SIGUSR2. */
  dumpState() {
    const { failureThreshold, restartWindow } = this.settings.policy;
    const shared = this.parts.shared;
    if (shared) {
      const streak = describeStreak(this.#sharedTracker.snapshot(), failureThreshold, "round");
      this.logger.info(`state: ${shared.target}: ${streak}`);
    }
    if (this.#trackers.size === 0) {
      this.logger.info("state: no process judged yet");
      return;
    }
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
