/**
 * The runner: one round = select processes → run every check on every
 * RUNNING selected process concurrently → decide → restart the unhealthy.
 *
 * Only an `unhealthy` verdict leads to a restart; `unknown` (configuration
 * error, a check that threw, the listener stopping) is logged and the
 * process left alone. Rounds never overlap: a trigger while one is running
 * is logged and skipped.
 */
import { type ConfiguredCheck, namespec, type ProcessInfo } from "./check.ts";
import type { ListenerSettings } from "./cli.ts";
import type { Logger } from "./log.ts";
import { probe, type ProbeResult } from "./probe.ts";
import { restartProcess, type RestartResult } from "./restart.ts";
import { STATE_RUNNING, type SupervisorClient, SupervisorUnavailable } from "./supervisor.ts";

export interface ProcessReport {
  process: ProcessInfo;
  results: ProbeResult[];
  restart?: RestartResult;
}

export interface RoundReport {
  /** false when supervisord could not be asked */
  completed: boolean;
  processes: ProcessReport[];
}

export class Runner {
  #current: Promise<RoundReport> | undefined;
  /** Last `unknown` message per process: repeats go to debug, not every round to warn. */
  readonly #lastUnknown = new Map<string, string>();
  /** What each check keeps per process between rounds (CheckContext.state). */
  readonly #checkState = new Map<ConfiguredCheck, Map<string, Map<string, unknown>>>();
  #currentStarted = 0;
  readonly #shutdown = new AbortController();

  constructor(
    private readonly settings: ListenerSettings,
    private readonly checks: ConfiguredCheck[],
    private readonly client: SupervisorClient,
    private readonly logger: Logger,
  ) {}

  /** Starts a round unless one is running; returns it, or undefined when skipped. */
  trigger(reason: string): Promise<RoundReport> | undefined {
    if (this.#shutdown.signal.aborted) return undefined;
    if (this.#current) {
      const age = ((performance.now() - this.#currentStarted) / 1000).toFixed(1);
      this.logger.info(`skipping ${reason}: the previous round is still running (${age}s)`);
      return undefined;
    }
    this.#currentStarted = performance.now();
    const round = this.round(this.#shutdown.signal).finally(() => {
      this.#current = undefined;
    });
    this.#current = round;
    return round;
  }

  /** Stops judging: checks in flight end as unknown; restarts in flight finish. */
  async stop(): Promise<void> {
    this.#shutdown.abort();
    await this.#current?.catch(() => {});
  }

  async round(signal: AbortSignal): Promise<RoundReport> {
    let all: ProcessInfo[];
    try {
      all = await this.client.getAllProcessInfo();
    } catch (e) {
      const message = e instanceof SupervisorUnavailable
        ? e.message
        : `asking supervisord for its processes failed: ${(e as Error).message}`;
      this.logger.error(`${message}; nothing checked this round, retrying next round`);
      return { completed: false, processes: [] };
    }
    const selected = all.filter((p) => this.settings.selector.matches(p));
    if (selected.length === 0) {
      this.logger.warn(`no process matches ${this.settings.selector.describe()}`);
    }
    const running = selected.filter((p) => {
      if (p.state === STATE_RUNNING) return true;
      this.logger.debug(`not checked: ${p.statename}`, { process: namespec(p) });
      return false;
    });
    const processes = await Promise.all(running.map((p) => this.#checkProcess(p, signal)));
    return { completed: true, processes };
  }

  #stateOf(check: ConfiguredCheck, spec: string): Map<string, unknown> {
    let byProcess = this.#checkState.get(check);
    if (!byProcess) this.#checkState.set(check, byProcess = new Map());
    let state = byProcess.get(spec);
    if (!state) byProcess.set(spec, state = new Map());
    return state;
  }

  async #checkProcess(process: ProcessInfo, signal: AbortSignal): Promise<ProcessReport> {
    const fields = { process: namespec(process), pid: process.pid };
    const results = await Promise.all(
      this.checks.map((c) => probe(c, process, signal, this.#stateOf(c, fields.process))),
    );
    for (const r of results) {
      const line = `${r.check} ${r.status}: ${r.message}` +
        (r.attempts > 1 ? ` (after ${r.attempts} attempts)` : "");
      const key = `${fields.process} ${r.check}`;
      if (r.status === "unhealthy") this.logger.warn(line, fields);
      else if (r.status === "healthy") this.logger.debug(line, fields);
      else if (this.#lastUnknown.get(key) === r.message) this.logger.debug(line, fields);
      else this.logger.warn(`${line}; not restarting (repeats are logged with -v)`, fields);
      if (r.status === "unknown") this.#lastUnknown.set(key, r.message);
      else this.#lastUnknown.delete(key);
    }
    const failed = results.filter((r) => r.status === "unhealthy");
    if (failed.length === 0 || signal.aborted) return { process, results };

    const reasons = failed.map((r) => r.check).join(", ");
    this.logger.warn(`restarting: failed ${reasons}`, fields);
    const restart = await restartProcess(this.client, process);
    if (restart.outcome === "restarted") {
      this.logger.warn(
        `restarted (${restart.detail}): new pid ${restart.newPid ?? "unknown"}`,
        fields,
      );
    } else if (restart.outcome === "skipped") {
      this.logger.warn(`restart skipped: ${restart.detail}`, fields);
    } else {
      this.logger.error(`restart failed: ${restart.detail}`, fields);
    }
    return { process, results, restart };
  }
}
