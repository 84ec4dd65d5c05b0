/**
 * The `serve --config FILE` format (YAML, or JSON when the name ends in
 * .json): `checks` (what GET /healthcheck runs), `healthcheck` (its response
 * and caching) and `environment` (GET /environment). Validated at start-up
 * from the declarations below (lib/option.ts); every error names its key path
 * and all of them are reported at once. The format, commented, is in
 * docs/configuration.md ("serve config") and examples/serve.yaml.
 */
import { boolean, configKeys, nonEmpty, number, option, options, parseConfig } from "./option.ts";
import type { CheckDefinition, ConfiguredCheck, ProcessInfo } from "./check.ts";
import { BUILTIN_SECTIONS, type EnvironmentOptions } from "./environment.ts";
import type { HelpSection } from "./help.ts";
import { maskSecrets } from "./redact.ts";
import { UsageError } from "./errors.ts";
import { MAX_SECONDS } from "./limits.ts";
import { headerProblem } from "./options.ts";
import { ProcessSelector } from "./select.ts";
import { STATE_RUNNING } from "./supervisor.ts";

/** What one config entry checks. */
export type CheckTarget =
  /** supervisord processes, fetched at each run. */
  | { kind: "supervisord"; selector: ProcessSelector }
  /** A URL, address or command, judged through a synthetic process. */
  | { kind: "plain"; process: ProcessInfo };

export interface CheckEntry {
  name: string;
  target: CheckTarget;
  checks: ConfiguredCheck[];
}

export interface HealthcheckOptions {
  /** Seconds a passed result is reused; null: not cached. */
  successTtl: number | null;
  /** Seconds a failed result is reused; null: not cached. */
  failedTtl: number | null;
  successStatus: number;
  failedStatus: number;
  successHeaders: Record<string, string>;
  failedHeaders: Record<string, string>;
}

export interface ServeConfig {
  checks: CheckEntry[];
  healthcheck: HealthcheckOptions;
  environment: EnvironmentOptions;
  /** Whether the file has an `environment` key (which needs --environment). */
  environmentGiven: boolean;
}

/** Plain target keys, with the check kind each maps onto and the options it sets. */
const PLAIN_TARGETS: Record<
  string,
  { kind: string; options: (value: unknown) => Record<string, unknown> | string }
> = {
  url: { kind: "http", options: (url) => urlOptions(url as string) },
  address: { kind: "tcp", options: (address) => parseAddress(address as string) },
  command: { kind: "exec", options: (command) => ({ command }) },
};
const SUPERVISORD_TARGETS = ["group", "process"];
const TARGET_KEYS = [...SUPERVISORD_TARGETS, ...Object.keys(PLAIN_TARGETS)];

/**
 * A URL → http options; credentials in it become the check's basic-auth
 * username/password, so they never show in its messages. A string says
 * what is wrong.
 */
function urlOptions(text: string): Record<string, unknown> | string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    return `'${maskSecrets(text)}' is not an http:// or https:// URL`;
  }
  if (!url.username && !url.password) return { url: url.href };
  const credentials = {
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
  };
  url.username = "";
  url.password = "";
  return { url: url.href, ...credentials };
}

/** `host:port` or `[v6]:port` → tcp options; a string says what is wrong. */
function parseAddress(address: string): Record<string, unknown> | string {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address.trim());
  if (!m) return `'${address}' is not host:port (or [ipv6]:port)`;
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** Defaults of 004's HealthCheck: 27 s after success, 9 s after failure. */
export const DEFAULT_SUCCESS_TTL = 27;
export const DEFAULT_FAILED_TTL = 9;

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Seconds a result is reused, 0 to MAX_SECONDS; null: not cached. */
function ttl(raw: unknown): number | null {
  if (raw === null) return null;
  const n = number(raw, "a number of seconds (null: no caching)");
  if (n < 0) throw new Error("must be 0 or more seconds (null: no caching)");
  if (n > MAX_SECONDS) throw new Error(`must be at most ${MAX_SECONDS} seconds (7 days)`);
  return n;
}

/** A status /healthcheck may answer with. */
function httpStatus(raw: unknown): number {
  const n = number(raw, "an HTTP status");
  if (!Number.isInteger(n) || n < 200 || n > 599) throw new Error("must be an HTTP status 200-599");
  return n;
}

/** Extra response headers: a mapping of names to text (or numbers). */
function responseHeaders(raw: unknown): Record<string, string> {
  if (!isObject(raw)) throw new Error("expected a mapping of header names to values");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== "string" && typeof value !== "number") {
      throw new Error(`header ${name}: expected text or a number`);
    }
    const problem = headerProblem(name, String(value));
    if (problem) throw new Error(problem);
    headers[name] = String(value);
  }
  return headers;
}

/** The custom sections of /environment: any mapping, but not a built-in section's name. */
function sections(raw: unknown): Record<string, unknown> {
  if (!isObject(raw)) throw new Error("expected a mapping of section names to values");
  const builtin = Object.keys(raw).find((k) => (BUILTIN_SECTIONS as readonly string[]).includes(k));
  if (builtin) {
    throw new Error(`'${builtin}' is a built-in section; switch it with include_${builtin}`);
  }
  return raw;
}

/** A process name, `name` or `group:name` (a serve --process flag or a config entry's key). */
export function processName(raw: unknown): string {
  const name = nonEmpty(raw);
  try {
    ProcessSelector.fromFlags(undefined, name);
  } catch {
    throw new Error(`'${name}' is not a process name (name or group:name)`);
  }
  return name;
}

/** The `healthcheck:` keys: how GET /healthcheck answers. */
const HEALTHCHECK = options({
  success_ttl: option({
    nullable: true,
    help: "Seconds a passed result is reused; null: never.",
    parse: ttl,
    default: DEFAULT_SUCCESS_TTL as number | null,
  }),
  failed_ttl: option({
    nullable: true,
    help: "Seconds a failed result is reused; null: never.",
    parse: ttl,
    default: DEFAULT_FAILED_TTL as number | null,
  }),
  success_status: option({
    help: "Status when every check passed.",
    parse: httpStatus,
    default: 200,
  }),
  failed_status: option({ help: "Status when a check failed.", parse: httpStatus, default: 500 }),
  success_headers: option({
    help: "Extra response headers when every check passed.",
    parse: responseHeaders,
    default: {},
  }),
  failed_headers: option({
    help: "Extra response headers when a check failed.",
    parse: responseHeaders,
    default: {},
  }),
}, (v): HealthcheckOptions => ({
  successTtl: v.success_ttl,
  failedTtl: v.failed_ttl,
  successStatus: v.success_status,
  failedStatus: v.failed_status,
  successHeaders: v.success_headers,
  failedHeaders: v.failed_headers,
}));

/** A built-in section of /environment, on unless switched off. */
const include = (section: string) =>
  option({ help: `Show the ${section} section.`, parse: boolean, default: true });

/** The `environment:` keys: what GET /environment shows (with --environment). */
const ENVIRONMENT = options({
  include_os: include("os"),
  include_process: include("process"),
  include_runtime: include("runtime"),
  include_config: include("config"),
  sections: option({
    help: "Custom sections by name, shown as given (secrets masked).",
    parse: sections,
    default: {},
  }),
}, (v): EnvironmentOptions => ({
  os: v.include_os,
  process: v.include_process,
  runtime: v.include_runtime,
  config: v.include_config,
  sections: v.sections,
}));

/** The keys of a `checks:` entry besides its check kinds: its name and its one target. */
export const SERVE_ENTRY = options({
  name: option({ help: "The checker name in results.", required: true, parse: nonEmpty }),
  group: option({ help: "supervisord group whose processes are checked.", parse: nonEmpty }),
  process: option({ help: "supervisord process, name or group:name.", parse: processName }),
  url: option({ help: "An http(s) URL, checked by http.", parse: nonEmpty }),
  address: option({ help: "host:port, checked by tcp.", parse: nonEmpty }),
  // shell text or an argv list: exec's own command option validates it, named here
  command: option({ help: "A command, checked by exec.", parse: (raw: unknown) => raw }),
});

/** Keys of the top level of the file. */
const TOP_KEYS = ["checks", "healthcheck", "environment"];

/** The keys of a serve config, for `serve --help` (from the declarations the loader uses). */
export function serveConfigHelp(kinds: CheckDefinition[]): HelpSection {
  return {
    title: "Config file keys (docs/configuration.md#serve-config)",
    entries: [
      ["top level", TOP_KEYS.join(", ")],
      [
        "each entry of checks",
        `name, and one target of ${TARGET_KEYS.join(", ")}; with ` +
        `${SUPERVISORD_TARGETS.join(" or ")}, one or more check kinds (` +
        `${kinds.map((k) => k.name).join(", ")}); with ${
          Object.entries(PLAIN_TARGETS).map(([key, t]) => `${key} (${t.kind})`).join(", ")
        }, that kind's options, if any.`,
      ],
      ["healthcheck", configKeys(HEALTHCHECK.spec).join(", ")],
      ["environment", configKeys(ENVIRONMENT.spec).join(", ")],
    ],
  };
}

/** A synthetic RUNNING process standing for a plain target. */
function syntheticProcess(name: string): ProcessInfo {
  return { name, group: name, pid: 0, state: STATE_RUNNING, statename: "RUNNING", start: 0 };
}

/** Runs `load`; a UsageError it throws becomes one more of `errors`. */
function collect<T>(errors: string[], load: () => T): T | undefined {
  try {
    return load();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    errors.push(e.message);
    return undefined;
  }
}

/**
 * Validates the entry at `checks[i]`: its keys, its target and its check
 * options; pushes every problem to `errors`.
 */
function buildEntry(
  raw: unknown,
  at: string,
  kinds: CheckDefinition[],
  errors: string[],
): CheckEntry | undefined {
  const label = isObject(raw) && typeof raw.name === "string" ? `${at} (${raw.name})` : at;
  const kindNames = kinds.map((k) => k.name);
  if (isObject(raw)) {
    const known = [...configKeys(SERVE_ENTRY.spec), ...kindNames];
    const unknown = Object.keys(raw).filter((k) => !known.includes(k));
    if (unknown.length) {
      errors.push(
        `${label}: unknown key${unknown.length > 1 ? "s" : ""} ` +
          `${unknown.map((k) => `'${k}'`).join(", ")} (known: ${known.join(", ")})`,
      );
      return undefined;
    }
  }
  const own = collect(errors, () => parseConfig(SERVE_ENTRY, raw, at, kindNames));
  if (!own) return undefined;
  const entry = raw as Record<string, unknown>;
  const targets = TARGET_KEYS.filter((k) => own[k as keyof typeof own] !== undefined);
  if (targets.length !== 1) {
    errors.push(
      `${label}: give exactly one target of ${TARGET_KEYS.join(", ")}` +
        (targets.length ? ` (got ${targets.join(", ")})` : ""),
    );
    return undefined;
  }
  const [target] = targets;
  const given = kinds.filter((k) => entry[k.name] !== undefined);
  const before = errors.length;
  const checks: ConfiguredCheck[] = [];
  const configure = (definition: CheckDefinition, input: unknown, nameOf?: (k: string) => string) =>
    collect(errors, () =>
      checks.push({
        definition,
        options: parseConfig(definition.options, input, `${at}.${definition.name}`, [], nameOf),
      }));

  if (SUPERVISORD_TARGETS.includes(target)) {
    const selector = ProcessSelector.fromFlags(own.group, own.process);
    if (given.length === 0) {
      errors.push(`${label}: names no check; add one or more of ${kindNames.join(", ")}`);
    }
    for (const definition of given) configure(definition, entry[definition.name] ?? {});
    if (errors.length > before) return undefined;
    return { name: own.name, target: { kind: "supervisord", selector }, checks };
  }

  const plain = PLAIN_TARGETS[target];
  const definition = kinds.find((k) => k.name === plain.kind);
  if (!definition) {
    errors.push(`${at}.${target}: the ${plain.kind} check kind is not available`);
    return undefined;
  }
  for (const other of given.filter((k) => k !== definition)) {
    errors.push(`${at}.${other.name}: a ${target} target takes ${plain.kind} options only`);
  }
  const derived = plain.options(own[target as keyof typeof own]);
  if (typeof derived === "string") {
    errors.push(`${at}.${target}: ${derived}`);
    return undefined;
  }
  const options = entry[definition.name] ?? {};
  if (!isObject(options)) {
    errors.push(`${at}.${definition.name}: expected a mapping of keys to values`);
    return undefined;
  }
  for (const key of Object.keys(derived)) {
    if (options[key] !== undefined) {
      errors.push(`${at}.${definition.name}.${key}: comes from ${at}.${target}; leave it out`);
    }
  }
  if (errors.length > before) return undefined;
  configure(
    definition,
    { ...options, ...derived },
    // a problem with an option the target set is reported at the target
    (key) =>
      key && Object.hasOwn(derived, key)
        ? `${at}.${target}`
        : `${at}.${definition.name}${key ? `.${key}` : ""}`,
  );
  if (errors.length > before) return undefined;
  return { name: own.name, target: { kind: "plain", process: syntheticProcess(own.name) }, checks };
}

/** The entries of `checks:`; pushes every problem to `errors`. */
function entriesFrom(raw: unknown, kinds: CheckDefinition[], errors: string[]): CheckEntry[] {
  if (raw == null) return [];
  if (!Array.isArray(raw)) {
    errors.push("checks: expected a list of entries");
    return [];
  }
  const entries: CheckEntry[] = [];
  const seen = new Map<string, number>();
  raw.forEach((item, i) => {
    const entry = buildEntry(item, `checks[${i}]`, kinds, errors);
    const name = isObject(item) && typeof item.name === "string" ? item.name.trim() : undefined;
    if (name !== undefined && name !== "") {
      if (seen.has(name)) {
        errors.push(`checks[${i}].name: '${name}' is also the name of checks[${seen.get(name)}]`);
      } else seen.set(name, i);
    }
    if (entry) entries.push(entry);
  });
  return entries;
}

/**
 * Validates a parsed config file against the check kinds; throws a
 * UsageError listing every problem, each prefixed by `source`.
 */
export function serveConfigFrom(
  config: unknown,
  kinds: CheckDefinition[],
  source: string,
): ServeConfig {
  if (config === null || config === undefined) {
    throw new UsageError(`${source}: is empty; give checks:, healthcheck: or environment:`);
  }
  if (!isObject(config)) {
    throw new UsageError(`${source}: expected a mapping of keys (${TOP_KEYS.join(", ")})`);
  }
  const errors: string[] = [];
  const checks = entriesFrom(config.checks, kinds, errors);
  const healthcheck = collect(
    errors,
    () => parseConfig(HEALTHCHECK, config.healthcheck ?? {}, "healthcheck"),
  );
  const environment = collect(
    errors,
    () => parseConfig(ENVIRONMENT, config.environment ?? {}, "environment"),
  );
  const unknown = Object.keys(config).filter((k) => !TOP_KEYS.includes(k));
  if (unknown.length) {
    errors.push(
      `unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `'${k}'`).join(", ")} ` +
        `(top level: ${TOP_KEYS.join(", ")})`,
    );
  }
  if (errors.length || !healthcheck || !environment) {
    throw new UsageError(`${source}: ${errors.join("; ")}`);
  }
  return {
    checks,
    healthcheck,
    environment,
    environmentGiven: config.environment != null,
  };
}
