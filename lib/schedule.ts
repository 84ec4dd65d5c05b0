/**
 * When rounds run: on supervisord's TICK events and, with --interval, on an
 * own timer, never two at once. A trigger while a round runs is skipped
 * (logged; at debug for the timer, which would otherwise fill the log), and
 * with --interval a TICK starts a round only if none started within the
 * interval, so the two sources never double up.
 */
import type { Logger } from "./log.ts";

export class RoundScheduler<T> {
  #current: Promise<T> | undefined;
  #lastStarted = -Infinity;
  #timer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  constructor(
    /** seconds; undefined: rounds on TICK events only */
    private readonly interval: number | undefined,
    private readonly logger: Logger,
    private readonly runRound: () => Promise<T>,
  ) {}

  /** Starts the own timer when there is an interval. */
  start() {
    if (this.interval === undefined) return;
    this.#timer = setInterval(() => this.trigger("interval"), this.interval * 1000);
  }

  /** A TICK event (its name) or "interval": the started round, or undefined when skipped. */
  trigger(reason: string): Promise<T> | undefined {
    if (this.#stopped) return undefined;
    const sinceLast = (performance.now() - this.#lastStarted) / 1000;
    if (this.#current) {
      const message = `skipping ${reason}: the previous round is still running (${
        sinceLast.toFixed(1)
      }s)`;
      if (reason === "interval") this.logger.debug(message);
      else this.logger.info(message);
      return undefined;
    }
    if (reason !== "interval" && this.interval !== undefined && sinceLast < this.interval) {
      this.logger.debug(
        `${reason}: a round started ${sinceLast.toFixed(1)}s ago, not repeating it`,
      );
      return undefined;
    }
    this.#lastStarted = performance.now();
    const round = this.runRound().finally(() => {
      this.#current = undefined;
    });
    this.#current = round;
    return round;
  }

  /** No more rounds; waits for the one running (its failure is not ours to report here). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#current?.catch(() => {});
  }
}
