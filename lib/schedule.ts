/**
 * When rounds run: on supervisord's TICK events and, with --interval, on an
 * own timer, never two at once. A trigger while a round runs is skipped
 * (at debug), and with --interval a TICK starts a round only if none
 * started within the interval, so the two sources never double up. A round
 * that outlasts its period (the interval, else the TICK's) is said once, at
 * WARN, naming what it waits for; a later round that fits its period again
 * is said once, at INFO.
 */
import type { Logger } from "./log.ts";
import { listenerMetrics } from "./metrics.ts";

export class RoundScheduler<T> {
  #current: Promise<T> | undefined;
  #lastStarted = -Infinity;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;
  /** An overrun has been reported and no round has fitted its period since. */
  #overrunning = false;

  constructor(
    /** seconds; undefined: rounds on TICK events only */
    private readonly interval: number | undefined,
    private readonly logger: Logger,
    private readonly runRound: () => Promise<T>,
    /** What a running round waits for (process names), for the overrun warning. */
    private readonly describeBusy: () => string = () => "",
  ) {}

  /** Seconds a round may take: the interval, else the TICK's period (TICK_5: 5). */
  #period(reason: string): number | undefined {
    if (this.interval !== undefined) return this.interval;
    const tick = /^TICK_(\d+)$/.exec(reason);
    return tick ? Number(tick[1]) : undefined;
  }

  /** Starts the own timer when there is an interval. */
  start() {
    if (this.interval === undefined) return;
    this.#timer = setInterval(() => this.trigger("interval"), this.interval * 1000);
  }

  /** A TICK event (its name) or "interval": the started round, or undefined when skipped. */
  trigger(reason: string): Promise<T> | undefined {
    if (this.#stopped) return undefined;
    const sinceLast = (performance.now() - this.#lastStarted) / 1000;
    const check = { check: this.logger.checkName };
    if (this.#current) {
      listenerMetrics.roundsSkipped.inc(check);
      this.logger.debug(
        `skipping ${reason}: the previous round is still running (${sinceLast.toFixed(1)}s)`,
      );
      const period = this.#period(reason);
      // 0.9: a timer's or supervisord's TICK may come a little early
      if (!this.#overrunning && period !== undefined && sinceLast >= period * 0.9) {
        this.#overrunning = true;
        const busy = this.describeBusy();
        this.logger.warn(
          `round overran its ${period}s period: still running after ${sinceLast.toFixed(1)}s` +
            (busy ? `, waiting for ${busy}` : "") +
            "; rounds are skipped until it ends (said once, and once when rounds fit again)",
        );
      }
      return undefined;
    }
    if (reason !== "interval" && this.interval !== undefined && sinceLast < this.interval) {
      this.logger.debug(
        `${reason}: a round started ${sinceLast.toFixed(1)}s ago, not repeating it`,
      );
      return undefined;
    }
    const started = this.#lastStarted = performance.now();
    listenerMetrics.rounds.inc(check);
    const period = this.#period(reason);
    const round = this.runRound().finally(() => {
      this.#current = undefined;
      const took = (performance.now() - started) / 1000;
      listenerMetrics.roundDuration.observe(took, check);
      if (this.#overrunning && (period === undefined || took < period)) {
        this.#overrunning = false;
        this.logger.info(`rounds fit their period again: the last took ${took.toFixed(1)}s`);
      }
    });
    this.#current = round;
    // a round that throws is a defect, not a reason to die: said, and the next round runs
    round.catch((e) => this.logger.error(`round failed: ${(e as Error)?.stack ?? e}`));
    return round;
  }

  /** No more rounds; waits for the one running (its failure is not ours to report here). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#current?.catch(() => {});
  }
}
