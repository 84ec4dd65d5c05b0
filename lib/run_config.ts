/**
 * `run --config FILE`: many independent check sets, for many groups, in one
 * listener process. The file (YAML, or JSON by extension) is the complex
 * format per entry, plus the entry's selection, timing, thresholds and
 * notifications; top-level keys are defaults for every entry:
 *
 *   interval: 5               # defaults for all entries (any policy or notify key)
 *   email: [ops@example.com]
 *   log_format: json          # logging: top level only
 *   checks:
 *     - name: web
 *       group: web
 *       http: { port: ".+_(\\d+)", url: /ping, timeout: 2 }
 *       memory: { max_rss: 512MB }
 *       failure_threshold: 2
 *     - name: cache
 *       process: cache:redis
 *       tcp: { port: 6379 }
 */
import { z } from "zod";
import type { CheckDefinition } from "./check.ts";
import { checksFromConfig, describeConfigIssue } from "./check_config.ts";
import { behaviourFrom } from "./cli.ts";
import type { ListenerJob } from "./listen.ts";
import { UsageError } from "./errors.ts";
import type { HelpSection } from "./help.ts";
import { NOTIFY_OPTIONS } from "./notify.ts";
import { LOG_OPTIONS, POLICY_OPTIONS } from "./settings.ts";
import { ProcessSelector } from "./select.ts";
import { METRICS_OPTIONS, parseMetricsListen } from "./metrics_server.ts";

const POLICY_KEYS = POLICY_OPTIONS.map((o) => o.key);
const NOTIFY_KEYS = NOTIFY_OPTIONS.map((o) => o.key);
/** Top level only, like the log keys: one endpoint per listener process. */
const LOG_KEYS = [...LOG_OPTIONS, ...METRICS_OPTIONS].map((o) => o.key);
/** Keys of the top level: `checks`, and defaults for every entry (logging: here only). */
const TOP_KEYS = ["checks", ...POLICY_KEYS, ...NOTIFY_KEYS, ...LOG_KEYS];
/** Keys of an entry besides its check kinds. */
const ENTRY_KEYS = ["name", "group", "process", "any", ...POLICY_KEYS, ...NOTIFY_KEYS];

/** The keys of a `run --config` file, for `run --help` (from the same lists as the loader). */
export function runConfigHelp(kinds: CheckDefinition[]): HelpSection[] {
  return [{
    title: "Config file keys (docs/configuration.md#run-config)",
    entries: [
      [
        "top level",
        `${TOP_KEYS.join(", ")}. The policy and notification keys are defaults for every ` +
        "entry; the log and metrics keys are the listener's own.",
      ],
      [
        "each entry of checks",
        `${ENTRY_KEYS.join(", ")}, and one or more check kinds: ${
          kinds.map((k) => k.name).join(", ")
        }.`,
      ],
      ...kinds.map((
        k,
      ): [string, string] => [`  ${k.name}`, k.options.map((o) => o.key).join(", ")]),
    ],
    paragraphs: [
      "Each key means what the same option means in the subcommand's --help (its long " +
      "flag, mostly, with _ for -).",
    ],
  }];
}

/** Turns a `run --config` document into one job per entry; UsageError names the culprit. */
export function jobsFromRunConfig(
  config: unknown,
  kinds: CheckDefinition[],
  source: string,
): ListenerJob[] {
  const kindNames = kinds.map((k) => k.name);
  const anyValue = z.unknown().optional();
  const top = z.strictObject({
    ...Object.fromEntries(TOP_KEYS.map((k) => [k, anyValue])),
    checks: z.array(z.record(z.string(), z.unknown())).min(1, "must list at least one entry"),
  }).safeParse(config);
  if (!top.success) {
    // an unknown key (a typo of `checks`?) explains more than what follows from it
    const issue = top.error.issues.find((i) => i.code === "unrecognized_keys") ??
      top.error.issues[0];
    const hint = issue.code === "unrecognized_keys" ? ` (top level: ${TOP_KEYS.join(", ")})` : "";
    throw new UsageError(`${source}: ${describeConfigIssue(issue, config)}${hint}`);
  }
  const { checks: entries, ...defaults } = top.data as Record<string, unknown> & {
    checks: Record<string, unknown>[];
  };
  const metrics = parseMetricsListen(
    defaults.metrics_listen,
    defaults.metrics_allow_remote,
    `${source}: metrics_listen`,
    "metrics_allow_remote: true",
  );
  const names = new Set<string>();
  return entries.map((entry, i) => {
    const at = `${source}: checks[${i}]${typeof entry.name === "string" ? ` (${entry.name})` : ""}`;
    const allowed = new Set([...ENTRY_KEYS, ...kindNames]);
    const unknownKeys = Object.keys(entry).filter((k) => !allowed.has(k));
    if (unknownKeys.length > 0) {
      const logOnly = unknownKeys.filter((k) => LOG_KEYS.includes(k));
      throw new UsageError(
        logOnly.length > 0
          ? `${at}: ${logOnly.join(", ")} can be set at the top level only`
          : `${at}: unknown key${unknownKeys.length > 1 ? "s" : ""} ${
            unknownKeys.map((k) => `'${k}'`).join(", ")
          }`,
      );
    }
    if (typeof entry.name !== "string" || entry.name.trim() === "") {
      throw new UsageError(`${at}: name is required (it names the entry in every log line)`);
    }
    if (names.has(entry.name)) throw new UsageError(`${at}: name '${entry.name}' is used twice`);
    names.add(entry.name);
    try {
      if (entry.any !== undefined && typeof entry.any !== "boolean") {
        throw new UsageError(`${at}: any: expected true or false, got '${entry.any}'`);
      }
      const selector = ProcessSelector.fromFlags(
        entry.group as string | undefined,
        entry.process as string | undefined,
        entry.any === true,
      );
      const behaviour = { ...defaults };
      for (const k of [...POLICY_KEYS, ...NOTIFY_KEYS]) {
        if (entry[k] !== undefined) behaviour[k] = entry[k];
      }
      const { policy, log, notify } = behaviourFrom(behaviour, "key");
      const kindsConfig = Object.fromEntries(
        kindNames.filter((k) => entry[k] !== undefined).map((k) => [k, entry[k]]),
      );
      return {
        settings: {
          checkName: entry.name,
          selector,
          naming: "key",
          ...policy,
          log,
          notify,
          metrics,
        },
        checks: checksFromConfig(kindsConfig, kinds, at),
      };
    } catch (e) {
      if (e instanceof UsageError && !e.message.startsWith(source)) {
        throw new UsageError(
          `${at}: ${
            e.message
              .replace("-g/--process-group", "group")
              .replace("-N/--process-name", "process")
              .replaceAll("-a/--any", "any: true")
          }`,
        );
      }
      throw e;
    }
  });
}
