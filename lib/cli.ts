/**
 * The options every listener subcommand shares (-n, -g, -N, -a, the modes,
 * the policy, notifications, logging, metrics), declared once, and the
 * parsing of a listener's command line: those plus the check kind's own,
 * on one command line (lib/option.ts's parseGroups).
 */
import type { CheckDefinition, ConfiguredCheck } from "./check.ts";
import { NOTIFY, type NotifyOptions } from "./notify.ts";
import {
  combine,
  flagNames,
  HELP_ROW,
  type HelpRow,
  helpRows,
  nonEmpty,
  option,
  type Options,
  options,
  parseConfig,
  parseGroups,
  type Spec,
  text,
  toggle,
} from "./option.ts";
import type { RunnerSettings } from "./runner.ts";
import { LOG, type LogSettings, POLICY } from "./settings.ts";
import { ProcessSelector } from "./select.ts";
import { MODES } from "./modes.ts";
import { METRICS, type MetricsListen } from "./metrics_server.ts";

/** Everything about a listener but its checks. */
export interface ListenerSettings extends RunnerSettings {
  log: LogSettings;
  notify: NotifyOptions;
  /** --once: one round, printed, then exit; --validate: print what would run, then exit. */
  mode?: "once" | "validate";
  /** --metrics-listen (run --config: the top-level metrics_listen) */
  metrics?: MetricsListen;
}

/** How a listener judges, acts and tells: the keys a run --config entry shares with the flags. */
export const BEHAVIOUR = combine({ policy: POLICY, notify: NOTIFY });

/** Which processes a listener subcommand checks, and under what name. */
const SELECTION = options({
  check_name: option({
    short: "n",
    metavar: "NAME",
    help: "Health check name, shown in every log line.",
    required: true,
    parse: nonEmpty,
  }),
  process_group: option({
    short: "g",
    metavar: "GROUP",
    help: "supervisord process group whose processes are checked.",
    parse: text,
  }),
  process_name: option({
    short: "N",
    metavar: "NAME",
    help: "Process to check, `name` or `group:name`; overrides -g.",
    parse: text,
  }),
  any: toggle({
    short: "a",
    defaultText: undefined,
    help: "Check every process except the event listeners (instead of -g or -N).",
  }),
}, (v, name) => ({
  checkName: v.check_name,
  selector: ProcessSelector.fromFlags(v.process_group, v.process_name, v.any, name),
}));

/** The options every listener subcommand takes besides its check's own. */
export const LISTENER = options({
  ...SELECTION.spec,
  ...MODES.spec,
  ...POLICY.spec,
  ...NOTIFY.spec,
  ...LOG.spec,
  ...METRICS.spec,
}, (v, name): ListenerSettings => ({
  ...SELECTION.finish(v, name),
  ...POLICY.finish(v, name),
  log: LOG.finish(v, name),
  notify: NOTIFY.finish(v, name),
  mode: MODES.finish(v, name),
  metrics: METRICS.finish(v, name),
}));

/**
 * Validates raw option values of a check kind, keyed by config key (strings
 * from a command line, JSON values from a file or code); UsageError names
 * the flags, or the keys. A key the check does not have is refused.
 */
export function configureCheck(
  definition: CheckDefinition,
  raw: Record<string, unknown>,
  naming: "flag" | "key" = "flag",
): ConfiguredCheck {
  const name = naming === "key" ? undefined : flagNames(definition.options.spec);
  return { definition, options: parseConfig(definition.options, raw, "", [], name) };
}

/**
 * Parses a listener subcommand's argv: `own` (the check kind's options, or
 * complex's) and the shared listener options; own flags win a clash of
 * spellings. "help" when -h/--help was given.
 */
export function parseListenerArgs<O>(
  own: Options<Spec, O>,
  argv: string[],
): { settings: ListenerSettings; options: O } | "help" {
  const parsed = parseGroups([own, LISTENER], argv, { help: true });
  if (parsed === "help") return "help";
  const [options, settings] = parsed.results;
  return { settings, options: options as O };
}

/** The --help rows of a listener subcommand: the shared options, then `own`. */
export function listenerHelpRows(own: Spec): { listener: HelpRow[]; own: HelpRow[] } {
  const [ownRows, listener] = helpRows([own, LISTENER.spec]);
  return { listener: [...listener, HELP_ROW], own: ownRows };
}

export { renderHelp } from "./help.ts";
