/**
 * `run --config FILE`: many independent check sets, for many groups, in one
 * listener process. Each entry is the complex format plus its selection,
 * timing, thresholds and notifications; top-level keys are defaults for
 * every entry (docs/configuration.md#run-config, examples/run.yaml).
 */
import type { CheckDefinition } from "./check.ts";
import { checksFromConfig } from "./check_config.ts";
import { BEHAVIOUR } from "./cli.ts";
import type { ListenerJob } from "./listen.ts";
import { UsageError } from "./errors.ts";
import type { HelpSection } from "./help.ts";
import { combine, configKeys, parseValues } from "./option.ts";
import { LOG } from "./settings.ts";
import { ProcessSelector } from "./select.ts";
import { METRICS } from "./metrics_server.ts";

/** Keys an entry shares with the top level (its defaults): policy and notifications. */
const BEHAVIOUR_KEYS = configKeys(BEHAVIOUR.spec);
/** Top level only: one log and one metrics endpoint per listener process. */
const LISTENER_ONLY = combine({ log: LOG, metrics: METRICS });
const LOG_KEYS = configKeys(LISTENER_ONLY.spec);
/** Keys of the top level: `checks`, and defaults for every entry (logging: here only). */
const TOP_KEYS = ["checks", ...BEHAVIOUR_KEYS, ...LOG_KEYS];
/** How an entry selects its processes: the keys of -g, -N and -a. */
const SELECTION_KEYS = { process_group: "group", process_name: "process", any: "any" } as const;
/** Keys of an entry besides its check kinds (which therefore cannot take these names). */
export const ENTRY_KEYS = ["name", ...Object.values(SELECTION_KEYS), ...BEHAVIOUR_KEYS];

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
      ...kinds.map((k): [string, string] => [
        `  ${k.name}`,
        configKeys(k.options.spec).join(", "),
      ]),
    ],
    paragraphs: [
      "Each key means what the same option means in the subcommand's --help (its long " +
      "flag, mostly, with _ for -).",
    ],
  }];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The keys of `o` whose values are given (YAML's empty value, null, counts as absent). */
function given(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] != null).map((k) => [k, o[k]]));
}

/**
 * Turns a `run --config` document into one job per entry; UsageError names
 * the culprit by its key path in the file (`checks[1].http.port`,
 * `interval` for a top-level default).
 */
export function jobsFromRunConfig(
  config: unknown,
  kinds: CheckDefinition[],
  source: string,
): ListenerJob[] {
  if (!isObject(config)) {
    throw new UsageError(`${source}: expected a mapping of keys (${TOP_KEYS.join(", ")})`);
  }
  const unknownTop = Object.keys(config).filter((k) => !TOP_KEYS.includes(k));
  if (unknownTop.length > 0) {
    // an unknown key (a typo of `checks`?) explains more than what follows from it
    throw new UsageError(
      `${source}: unknown key${unknownTop.length > 1 ? "s" : ""} ${
        unknownTop.map((k) => `'${k}'`).join(", ")
      } (top level: ${TOP_KEYS.join(", ")})`,
    );
  }
  const entries = config.checks;
  if (entries == null) throw new UsageError(`${source}: checks: is required`);
  if (!Array.isArray(entries)) {
    throw new UsageError(`${source}: checks: expected a list of entries`);
  }
  if (entries.length === 0) throw new UsageError(`${source}: checks: must list at least one entry`);
  const defaults = given(config, BEHAVIOUR_KEYS);
  const withSource = <T>(load: () => T): T => {
    try {
      return load();
    } catch (e) {
      if (e instanceof UsageError) throw new UsageError(`${source}: ${e.message}`);
      throw e;
    }
  };
  const { log, metrics } = withSource(() =>
    parseValues(LISTENER_ONLY, given(config, LOG_KEYS), (key) => key)
  );
  const names = new Set<string>();
  return entries.map((entry: unknown, i) => {
    const path = `checks[${i}]`;
    if (!isObject(entry)) {
      throw new UsageError(`${source}: ${path}: expected a mapping of keys to values`);
    }
    const label = `${path}${typeof entry.name === "string" ? ` (${entry.name})` : ""}`;
    const at = `${source}: ${label}`;
    const kindNames = kinds.map((k) => k.name);
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
    if (entry.any != null && typeof entry.any !== "boolean") {
      throw new UsageError(`${source}: ${path}.any: expected true or false, got '${entry.any}'`);
    }
    for (const key of ["group", "process"]) {
      if (entry[key] != null && typeof entry[key] !== "string") {
        throw new UsageError(`${source}: ${path}.${key}: expected text`);
      }
    }
    let selector: ProcessSelector;
    try {
      selector = ProcessSelector.fromFlags(
        entry.group as string | undefined ?? undefined,
        entry.process as string | undefined ?? undefined,
        entry.any === true,
        (key) => key === "any" ? "any: true" : SELECTION_KEYS[key],
      );
    } catch (e) {
      if (e instanceof UsageError) throw new UsageError(`${at}: ${e.message}`);
      throw e;
    }
    // an entry's own value is named at the entry, a default at the top level
    const own = given(entry, BEHAVIOUR_KEYS);
    const { policy, notify } = withSource(() =>
      parseValues(BEHAVIOUR, { ...defaults, ...own }, (key) => key in own ? `${path}.${key}` : key)
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
      checks: checksFromConfig(
        Object.fromEntries(kindNames.filter((k) => k in entry).map((k) => [k, entry[k]])),
        kinds,
        source,
        path,
        label,
      ),
    };
  });
}
