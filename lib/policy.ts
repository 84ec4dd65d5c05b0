/**
 * What to do about one process, round after round: Kubernetes-probe and
 * monit semantics (thresholds, a restart budget) on top of single verdicts.
 * Pure bookkeeping, no I/O: the runner feeds it verdicts and the clock.
 */
import type { VerdictStatus } from "./check.ts";

/** `unknown` verdicts count for nothing: they neither fail nor pass. */
export interface Policy {
  /** Restart only after this many consecutive unhealthy rounds. */
  failureThreshold: number;
  /**
   * A failure streak ends only after this many consecutive healthy rounds
   * (a lone pass between failures does not reset it).
   */
  successThreshold: number;
  /**
   * At most this many restarts within `restartWindow`; undefined: no limit.
   * Over budget, the process is *suppressed*: it is not restarted, which is
   * said loudly once; suppression ends when the window moves on (an old
   * restart drops out) or when the process passes again (recovered: the
   * budget starts afresh).
   */
  maxRestarts?: number;
  /** seconds */
  restartWindow: number;
}

export const DEFAULT_POLICY: Policy = {
  failureThreshold: 1,
  successThreshold: 1,
  restartWindow: 3600,
};

export type Decision =
  /** nothing to do */
  | { action: "none" }
  /** failed often enough: restart it */
  | { action: "restart" }
  /** would restart, but the budget is spent; `first` on the first round of a suppression */
  | { action: "suppressed"; first: boolean; restartsInWindow: number };

export interface TrackerSnapshot {
  pid: number;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastStatus?: VerdictStatus;
  lastMessage?: string;
  /** Unix seconds of the restarts still in the window */
  restarts: number[];
  suppressed: boolean;
}

/** The state kept for one process (by `group:name`) across rounds. */
export class ProcessTracker {
  pid = 0;
  consecutiveFailures = 0;
  consecutiveSuccesses = 0;
  lastStatus?: VerdictStatus;
  lastMessage?: string;
  /** Unix seconds of restarts (and revivals) we made. */
  restarts: number[] = [];
  suppressed = false;
  /** A restart of ours is under way: the process is not judged meanwhile. */
  restarting = false;

  constructor(private readonly policy: Policy) {}

  /** A new pid means a new life: verdict streaks start over, the restart history stays. */
  observePid(pid: number) {
    if (pid === this.pid) return;
    this.pid = pid;
    this.consecutiveFailures = 0;
    this.consecutiveSuccesses = 0;
  }

  /** Restarts within the window ending at `now` (older ones are forgotten). */
  restartsInWindow(now: number): number {
    this.restarts = this.restarts.filter((t) => now - t < this.policy.restartWindow);
    return this.restarts.length;
  }

  /** May we restart (or revive) now, within the budget? */
  withinBudget(now: number): boolean {
    return this.policy.maxRestarts === undefined ||
      this.restartsInWindow(now) < this.policy.maxRestarts;
  }

  recordRestart(now: number) {
    this.restarts.push(now);
    this.consecutiveFailures = 0;
    this.consecutiveSuccesses = 0;
  }

  /** Takes one round's verdict; says what to do. */
  observe(status: VerdictStatus, message: string, now: number): Decision {
    this.lastStatus = status;
    this.lastMessage = message;
    if (status === "unknown") return { action: "none" };
    if (status === "healthy") {
      this.consecutiveSuccesses++;
      if (this.consecutiveSuccesses >= this.policy.successThreshold) {
        this.consecutiveFailures = 0;
        if (this.suppressed) {
          // recovered while suppressed: it works again, the budget starts afresh
          this.suppressed = false;
          this.restarts = [];
        }
      }
      return { action: "none" };
    }
    this.consecutiveSuccesses = 0;
    this.consecutiveFailures++;
    if (this.consecutiveFailures < this.policy.failureThreshold) return { action: "none" };
    if (this.withinBudget(now)) {
      this.suppressed = false;
      return { action: "restart" };
    }
    const first = !this.suppressed;
    this.suppressed = true;
    return { action: "suppressed", first, restartsInWindow: this.restarts.length };
  }

  snapshot(): TrackerSnapshot {
    return {
      pid: this.pid,
      consecutiveFailures: this.consecutiveFailures,
      consecutiveSuccesses: this.consecutiveSuccesses,
      lastStatus: this.lastStatus,
      lastMessage: this.lastMessage,
      restarts: [...this.restarts],
      suppressed: this.suppressed,
    };
  }
}

const times = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/**
 * A tracker's streak in words, for the state dump: "failed 6 rounds in a
 * row (restart after 1), 0 passes since; last unhealthy (…)".
 */
export function describeStreak(
  s: TrackerSnapshot,
  failureThreshold: number,
  unit: string,
): string {
  const streak = s.consecutiveFailures > 0
    ? `failed ${times(s.consecutiveFailures, unit)} in a row (restarts after ${failureThreshold})`
    : "no failure streak";
  const passes = s.consecutiveSuccesses > 0
    ? `, passed the last ${times(s.consecutiveSuccesses, unit)}`
    : "";
  const last = s.lastStatus
    ? `; last verdict ${s.lastStatus}${s.lastMessage ? ` (${s.lastMessage})` : ""}`
    : "; not judged yet";
  return `${streak}${passes}${last}`;
}

/** Restarts in the window and suppression in words, for the state dump. */
export function describeRestarts(s: TrackerSnapshot, restartWindow: number): string {
  const at = s.restarts.map((t) => new Date(t * 1000).toISOString()).join(", ");
  return `restarted ${times(s.restarts.length, "time")} in the last ${restartWindow}s` +
    (at ? ` (at ${at})` : "") +
    (s.suppressed ? "; restarts SUPPRESSED (budget spent)" : "");
}
