/**
 * How a listener judges and acts, shared by every listener subcommand and by
 * the entries of `run --config`: probe timing, thresholds, flap protection,
 * dry runs, logging. Flags and config keys map one to one
 * (`--failure-threshold` ↔ `failure_threshold`); one schema validates both.
 */
import { z } from "zod";
import type { OptionSpec } from "./check.ts";
import type { LogFormat } from "./log.ts";
import { MAX_SECONDS } from "./limits.ts";
import { duration, wholeNumber } from "./options.ts";
import { DEFAULT_POLICY, type Policy } from "./policy.ts";

/** Shortest --interval: rounds more often than this would only pile up. */
export const MIN_INTERVAL = 0.5;

export const POLICY_OPTIONS: OptionSpec[] = [
  {
    key: "interval",
    long: "interval",
    // the only spelling in cpu, whose own -i/--interval is the original's
    aliases: ["check-interval"],
    type: "string",
    metavar: "SECONDS",
    help: `Also run rounds on an own timer, every SECONDS (${MIN_INTERVAL} to ${MAX_SECONDS}); ` +
      "a TICK then starts a round only if none started within SECONDS.",
    defaultText: "off (rounds on TICK events only)",
  },
  {
    key: "failure_threshold",
    long: "failure-threshold",
    type: "string",
    metavar: "N",
    help: "Restart only after N consecutive failed rounds.",
    defaultText: "1",
  },
  {
    key: "success_threshold",
    long: "success-threshold",
    type: "string",
    metavar: "N",
    help: "Consecutive passes that end a failure streak.",
    defaultText: "1",
  },
  {
    key: "start_grace",
    long: "start-grace",
    type: "string",
    metavar: "SECONDS",
    help: "Do not judge a process until it has been RUNNING this long.",
    defaultText: "0",
  },
  {
    key: "max_restarts",
    long: "max-restarts",
    type: "string",
    metavar: "N",
    help: "Stop restarting a process restarted N times within --restart-window; resume when " +
      "it passes again or the window moves on.",
    defaultText: "unlimited",
  },
  {
    key: "restart_window",
    long: "restart-window",
    type: "string",
    metavar: "SECONDS",
    help: "The window of --max-restarts.",
    defaultText: "3600",
  },
  {
    key: "revive",
    long: "revive",
    type: "boolean",
    help: "Start selected processes that are FATAL or EXITED with a non-zero status, within " +
      "the same restart budget.",
  },
  {
    key: "dry_run",
    long: "dry-run",
    type: "boolean",
    help: "Log (and notify) what would be restarted; restart nothing.",
  },
  {
    key: "max_parallel_restarts",
    long: "max-parallel-restarts",
    type: "string",
    metavar: "N",
    help: "Never restart more than N processes of a group at once; the rest wait for a " +
      "later round.",
    defaultText: "all",
  },
];

export const LOG_OPTIONS: OptionSpec[] = [
  {
    key: "log_format",
    long: "log-format",
    type: "string",
    metavar: "FORMAT",
    help: "text, or json (one object per line).",
    defaultText: "text",
  },
  {
    key: "verbose",
    long: "verbose",
    short: "v",
    type: "boolean",
    help: "Also log healthy verdicts and skipped processes.",
  },
  {
    key: "quiet",
    long: "quiet",
    short: "q",
    type: "boolean",
    help: "Log only warnings and errors.",
  },
];

/** A whole number of 1 or more. */
const atLeastOne = () => wholeNumber(1);

const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")])
  .default(false);

/** Policy and timing keys of a listener (flags and config entries alike). */
export const policyShape = {
  interval: duration(MIN_INTERVAL).optional(),
  failure_threshold: atLeastOne().default(1),
  success_threshold: atLeastOne().default(1),
  start_grace: duration(0).default(0),
  max_restarts: atLeastOne().optional(),
  restart_window: duration(1).default(DEFAULT_POLICY.restartWindow),
  revive: flag,
  dry_run: flag,
  max_parallel_restarts: atLeastOne().optional(),
};

export const logShape = {
  log_format: z.enum(["text", "json"]).default("text"),
  verbose: flag,
  quiet: flag,
};

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

export function toPolicySettings(
  o: z.output<z.ZodObject<typeof policyShape>>,
): PolicySettings {
  return {
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
  };
}

export function toLogSettings(o: z.output<z.ZodObject<typeof logShape>>): LogSettings {
  return {
    format: o.log_format,
    level: o.verbose ? "debug" : o.quiet ? "warn" : "info",
  };
}

/** The defaults: the original's behaviour (act on every TICK, restart on the first failure). */
export const DEFAULT_POLICY_SETTINGS: PolicySettings = toPolicySettings(
  z.object(policyShape).parse({}),
);
