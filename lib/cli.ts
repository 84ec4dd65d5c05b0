/**
 * Command-line parsing for listener subcommands: the flags every listener
 * shares (-n, -g, -N) plus the check kind's own, parsed with node:util's
 * parseArgs and validated by the check's schema. Also renders --help.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import type { CheckDefinition, ConfiguredCheck, OptionSpec } from "./check.ts";
import { NOTIFY_OPTIONS, type NotifyOptions, parseNotifyOptions } from "./notify.ts";
import { describeIssues } from "./options.ts";
import type { RunnerSettings } from "./runner.ts";
import {
  LOG_OPTIONS,
  type LogSettings,
  logShape,
  POLICY_OPTIONS,
  type PolicySettings,
  policyShape,
  toLogSettings,
  toPolicySettings,
} from "./settings.ts";
import { UsageError } from "./errors.ts";
import { ProcessSelector } from "./select.ts";
import { MODE_OPTIONS, modeOf } from "./modes.ts";
import { METRICS_OPTIONS, type MetricsListen, parseMetricsListen } from "./metrics_server.ts";

/** Flags every listener subcommand takes besides its check's own. */
export const LISTENER_OPTIONS: OptionSpec[] = [
  {
    key: "check_name",
    long: "check-name",
    short: "n",
    type: "string",
    metavar: "NAME",
    help: "Health check name, shown in every log line (required).",
  },
  {
    key: "process_group",
    long: "process-group",
    short: "g",
    type: "string",
    metavar: "GROUP",
    help: "supervisord process group whose processes are checked.",
  },
  {
    key: "process_name",
    long: "process-name",
    short: "N",
    type: "string",
    metavar: "NAME",
    help: "Process to check, `name` or `group:name`; overrides -g.",
  },
  {
    key: "any",
    long: "any",
    short: "a",
    type: "boolean",
    help: "Check every process except the event listeners (instead of -g or -N).",
  },
  ...MODE_OPTIONS,
  ...POLICY_OPTIONS,
  ...NOTIFY_OPTIONS,
  ...LOG_OPTIONS,
  ...METRICS_OPTIONS,
  { key: "help", long: "help", short: "h", type: "boolean", help: "Show this help and exit." },
];

/**
 * The shared flags as the subcommand of a check with `options` offers them.
 * A check's own flags keep the original's meaning: where one takes a shared
 * flag's name (cpu's -i/--interval), the shared flag keeps only its other
 * spelling (--check-interval), under a key of its own.
 */
export function listenerOptionsFor(options: OptionSpec[]): OptionSpec[] {
  const names = new Set(options.flatMap((o) => [o.long, ...(o.aliases ?? [])]));
  const shorts = new Set(options.map((o) => o.short));
  const keys = new Set(options.map((o) => o.key));
  return LISTENER_OPTIONS.flatMap((spec) => {
    const free = [spec.long, ...(spec.aliases ?? [])].filter((n) => !names.has(n));
    if (free.length === 0) return [];
    return [{
      ...spec,
      key: keys.has(spec.key) ? `listener.${spec.key}` : spec.key,
      long: free[0],
      aliases: free.slice(1),
      short: spec.short && !shorts.has(spec.short) ? spec.short : undefined,
    }];
  });
}

/** Everything about a listener but its checks. */
export interface ListenerSettings extends RunnerSettings {
  log: LogSettings;
  notify: NotifyOptions;
  /** --once: one round, printed, then exit; --validate: print what would run, then exit. */
  mode?: "once" | "validate";
  /** --metrics-listen (run --config: the top-level metrics_listen) */
  metrics?: MetricsListen;
}

/** Keys of a listener's behaviour (flags or config entries), validated as one object. */
export const behaviourSchema = z.object({ ...policyShape, ...logShape });

/**
 * Validates the behaviour keys (policy, logging, notifications) of `raw`;
 * UsageError names the flags (or keys, for config files).
 */
export function behaviourFrom(
  raw: Record<string, unknown>,
  naming: "flag" | "key" = "flag",
  /** How the flags were spelled, for messages (see listenerOptionsFor). */
  labels: OptionSpec[] = [...POLICY_OPTIONS, ...LOG_OPTIONS],
): { policy: PolicySettings; log: LogSettings; notify: NotifyOptions } {
  const pick = (specs: OptionSpec[]) =>
    Object.fromEntries(
      specs.filter((s) => raw[s.key] !== undefined).map((s) => [s.key, raw[s.key]]),
    );
  const behaviour = { ...pick(POLICY_OPTIONS), ...pick(LOG_OPTIONS) };
  const result = behaviourSchema.safeParse(behaviour);
  if (!result.success) {
    throw new UsageError(
      describeIssues(result.error, labels, behaviour, naming).join("; "),
    );
  }
  return {
    policy: toPolicySettings(result.data),
    log: toLogSettings(result.data),
    notify: parseNotifyOptions(pick(NOTIFY_OPTIONS), NOTIFY_OPTIONS, naming),
  };
}

type ParseArgsOptions = Record<
  string,
  { type: "string" | "boolean"; short?: string; multiple?: boolean }
>;

function parseArgsConfig(specs: OptionSpec[]): ParseArgsOptions {
  const config: ParseArgsOptions = {};
  for (const spec of specs) {
    const multiple = spec.multiple ?? false;
    config[spec.long] = spec.short
      ? { type: spec.type, multiple, short: spec.short }
      : { type: spec.type, multiple };
    for (const alias of spec.aliases ?? []) config[alias] = { type: spec.type, multiple };
  }
  return config;
}

/** argv → raw option values keyed by spec.key (aliases folded in). */
export function parseFlags(
  specs: OptionSpec[],
  argv: string[],
  allowPositionals = false,
): { values: Record<string, unknown>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: parseArgsConfig(specs),
      strict: true,
      allowPositionals,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const values: Record<string, unknown> = {};
  for (const spec of specs) {
    for (const name of [spec.long, ...(spec.aliases ?? [])]) {
      const value = (parsed.values as Record<string, unknown>)[name];
      if (value !== undefined) values[spec.key] = value;
    }
  }
  return { values, positionals: parsed.positionals };
}

/** Validates raw values with a check's schema; UsageError names the flags. */
export function configureCheck(
  definition: CheckDefinition,
  raw: Record<string, unknown>,
  naming: "flag" | "key" = "flag",
): ConfiguredCheck {
  const result = definition.schema.safeParse(raw);
  if (!result.success) {
    throw new UsageError(describeIssues(result.error, definition.options, raw, naming).join("; "));
  }
  return { definition, options: result.data };
}

/**
 * Parses a listener subcommand's argv: the shared listener flags plus
 * `options`. Returns "help" when --help was asked, else the settings and the
 * raw values of `options` (keyed by OptionSpec.key, absent when not given).
 */
export function parseListenerArgs(
  options: OptionSpec[],
  argv: string[],
): { settings: ListenerSettings; values: Record<string, unknown> } | "help" {
  const shared = listenerOptionsFor(options);
  const { values: parsed } = parseFlags([...shared, ...options], argv);
  // the shared values under their usual keys (`listener.interval` → `interval`)
  const values: Record<string, unknown> = {};
  for (const spec of shared) values[spec.key.replace(/^listener\./, "")] = parsed[spec.key];
  if (values.help) return "help";
  const checkName = values.check_name as string | undefined;
  if (!checkName || checkName.trim() === "") {
    throw new UsageError("-n/--check-name is required");
  }
  const selector = ProcessSelector.fromFlags(
    values.process_group as string | undefined,
    values.process_name as string | undefined,
    Boolean(values.any),
  );
  const labels = shared.map((spec) => ({ ...spec, key: spec.key.replace(/^listener\./, "") }));
  const { policy, log, notify } = behaviourFrom(values, "flag", labels);
  const own: Record<string, unknown> = {};
  for (const spec of options) {
    if (parsed[spec.key] !== undefined) own[spec.key] = parsed[spec.key];
  }
  return {
    settings: {
      checkName,
      selector,
      ...policy,
      log,
      notify,
      mode: modeOf(values),
      metrics: parseMetricsListen(values.metrics_listen, values.metrics_allow_remote),
    },
    values: own,
  };
}

export { renderHelp } from "./help.ts";
