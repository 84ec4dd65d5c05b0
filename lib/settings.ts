/**
 * How a listener judges and acts, shared by every listener subcommand and by
 * the entries of `run --config`: probe timing, thresholds, flap protection,
 * dry runs, logging. Flags and config keys map one to one
 * (`--failure-threshold` ↔ `failure_threshold`); declared once (lib/option.ts).
 */
import type { LogFormat } from "./log.ts";
import { MAX_SECONDS } from "./limits.ts";
import { choice, count, option, options, parseValues, seconds, toggle } from "./option.ts";
import { DEFAULT_POLICY, type Policy } from "./policy.ts";

/** Shortest --interval: rounds more often than this would only pile up. */
export const MIN_INTERVAL = 0.5;

export interface PolicySettings {
  /** seconds; undefined: rounds on TICK events only */
  interval?: number;
  startGrace: number;
  policy: Policy;
  revive: boolean;
  dryRun: boolean;
  maxParallelRestarts?: number;
}

export interface LogSettings {
  format: LogFormat;
  level: "debug" | "info" | "warn";
}

/** Policy and timing options of a listener (flags and config entries alike). */
export const POLICY = options({
  interval: option({
    // the only spelling in cpu, whose own -i/--interval is the original's
    aliases: ["check-interval"],
    metavar: "SECONDS",
    help: `Also run rounds on an own timer, every SECONDS (${MIN_INTERVAL} to ${MAX_SECONDS}); ` +
      "a TICK then starts a round only if none started within SECONDS.",
    defaultText: "off (rounds on TICK events only)",
    parse: seconds(MIN_INTERVAL),
  }),
  failure_threshold: option({
    metavar: "N",
    help: "Restart only after N consecutive failed rounds.",
    parse: count(1),
    default: 1,
  }),
  success_threshold: option({
    metavar: "N",
    help: "Consecutive passes that end a failure streak.",
    parse: count(1),
    default: 1,
  }),
  start_grace: option({
    metavar: "SECONDS",
    help: "Do not judge a process until it has been RUNNING this long.",
    parse: seconds(0),
    default: 0,
  }),
  max_restarts: option({
    metavar: "N",
    help: "Stop restarting a process restarted N times within --restart-window; resume when " +
      "it passes again or the window moves on.",
    defaultText: "unlimited",
    parse: count(1),
  }),
  restart_window: option({
    metavar: "SECONDS",
    help: "The window of --max-restarts.",
    parse: seconds(1),
    default: DEFAULT_POLICY.restartWindow,
  }),
  revive: toggle({
    help: "Start selected processes that are FATAL or EXITED with a non-zero status, within " +
      "the same restart budget.",
  }),
  dry_run: toggle({ help: "Log (and notify) what would be restarted; restart nothing." }),
  max_parallel_restarts: option({
    metavar: "N",
    help: "Never restart more than N processes of a group at once; the rest wait for a " +
      "later round.",
    defaultText: "all",
    parse: count(1),
  }),
}, (o): PolicySettings => ({
  interval: o.interval,
  startGrace: o.start_grace,
  policy: {
    failureThreshold: o.failure_threshold,
    successThreshold: o.success_threshold,
    maxRestarts: o.max_restarts,
    restartWindow: o.restart_window,
  },
  revive: o.revive,
  dryRun: o.dry_run,
  maxParallelRestarts: o.max_parallel_restarts,
}));

/** Logging options of a listener (top level only in a run --config file). */
export const LOG = options({
  log_format: option({
    metavar: "FORMAT",
    help: "text, or json (one object per line).",
    parse: choice<LogFormat>("text", "json"),
    default: "text" as LogFormat,
  }),
  verbose: toggle({ short: "v", help: "Also log healthy verdicts and skipped processes." }),
  quiet: toggle({ short: "q", help: "Log only warnings and errors." }),
}, (o): LogSettings => ({
  format: o.log_format,
  level: o.verbose ? "debug" : o.quiet ? "warn" : "info",
}));

/** The defaults: the original's behaviour (act on every TICK, restart on the first failure). */
export const DEFAULT_POLICY_SETTINGS: PolicySettings = parseValues(POLICY, {});
