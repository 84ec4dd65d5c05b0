/**
 * The `serve --config FILE` format (YAML, or JSON when the name ends in
 * .json), validated at start-up; every error names its key path
 * (`checks.0.http.port: is required`) and all of them are reported at once.
 *
 *     checks:                      # GET /healthcheck runs these
 *       - name: web                # the checker name in results (required, unique)
 *         group: web               # supervisord processes: group, or process (name or group:name)
 *         http: {port: ".+_(\d+)", url: /ping, timeout: 2, num_retries: 0}
 *         memory: {max_rss: 512MB} # any check kind, options as in `complex`
 *       - name: api                # plain targets, each mapped onto one check kind:
 *         url: http://127.0.0.1:8080/ping   # url → http (more http options under http:)
 *       - name: db
 *         address: 127.0.0.1:5432 # address (host:port) → tcp
 *       - name: script
 *         command: [/usr/local/bin/check-queue, --max, "100"]  # command → exec
 *     healthcheck:                 # response of GET /healthcheck
 *       success_ttl: 27            # seconds a passed result is reused; null: never
 *       failed_ttl: 9              # the same for a failed one
 *       success_status: 200
 *       failed_status: 500
 *       success_headers: {}        # extra response headers
 *       failed_headers: {}
 *     environment:                 # GET /environment (needs --environment)
 *       include_os: true
 *       include_process: true
 *       include_runtime: true
 *       include_config: true
 *       sections: {application: {maintainer: ops@example.com}}
 */
import { z } from "zod";
import { describeConfigIssue } from "./legacy_options.ts";
import { parseConfig } from "./option.ts";
import type { CheckDefinition, ConfiguredCheck, ProcessInfo } from "./check.ts";
import { BUILTIN_SECTIONS, type EnvironmentOptions } from "./environment.ts";
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

const ttl = (fallback: number) =>
  z.number().min(0, "must be 0 or more seconds (null: no caching)")
    .max(MAX_SECONDS, `must be at most ${MAX_SECONDS} seconds (7 days)`).nullable()
    .default(fallback);
const status = (fallback: number) =>
  z.number().int().min(200, "must be an HTTP status 200-599").max(
    599,
    "must be an HTTP status 200-599",
  ).default(fallback);
const headers = z.record(z.string(), z.union([z.string(), z.number()])).default({}).transform(
  (value, ctx) => {
    const result: Record<string, string> = {};
    for (const [name, v] of Object.entries(value)) {
      const problem = headerProblem(name, String(v));
      if (problem) {
        ctx.addIssue({ code: "custom", path: [name], message: problem });
        return z.NEVER;
      }
      result[name] = String(v);
    }
    return result;
  },
);

const healthcheckSchema = z.strictObject({
  success_ttl: ttl(DEFAULT_SUCCESS_TTL),
  failed_ttl: ttl(DEFAULT_FAILED_TTL),
  success_status: status(200),
  failed_status: status(500),
  success_headers: headers,
  failed_headers: headers,
}).prefault({});

const environmentSchema = z.strictObject({
  include_os: z.boolean().default(true),
  include_process: z.boolean().default(true),
  include_runtime: z.boolean().default(true),
  include_config: z.boolean().default(true),
  sections: z.record(z.string(), z.unknown()).default({}).superRefine((sections, ctx) => {
    for (const name of Object.keys(sections)) {
      if ((BUILTIN_SECTIONS as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `is a built-in section; switch it with include_${name}`,
        });
      }
    }
  }),
}).prefault({});

/** The shape of a checks entry; each kind's options are validated afterwards. */
function entrySchema(kinds: CheckDefinition[]) {
  const kindOptions = z.record(z.string(), z.unknown()).nullable().optional();
  return z.strictObject({
    name: z.string().trim().min(1, "must not be empty"),
    group: z.string().trim().min(1, "must not be empty").optional(),
    process: z.string().trim().min(1, "must not be empty").optional(),
    url: z.string().trim().min(1, "must not be empty").optional(),
    address: z.string().trim().min(1, "must not be empty").optional(),
    command: z.union([z.string().min(1, "must not be empty"), z.array(z.string()).min(1)])
      .optional(),
    ...Object.fromEntries(kinds.map((k) => [k.name, kindOptions])),
  });
}

/** A synthetic RUNNING process standing for a plain target. */
function syntheticProcess(name: string): ProcessInfo {
  return { name, group: name, pid: 0, state: STATE_RUNNING, statename: "RUNNING", start: 0 };
}

/** Validates one entry's targets and check options; pushes problems to `errors`. */
function buildEntry(
  raw: Record<string, unknown>,
  at: (string | number)[],
  kinds: CheckDefinition[],
  errors: string[],
): CheckEntry | undefined {
  const where = at.join(".");
  const targets = TARGET_KEYS.filter((k) => raw[k] !== undefined);
  if (targets.length !== 1) {
    errors.push(
      `${where}: give exactly one target of ${TARGET_KEYS.join(", ")}` +
        (targets.length ? ` (got ${targets.join(", ")})` : ""),
    );
    return undefined;
  }
  const [target] = targets;
  const given = kinds.filter((k) => raw[k.name] !== undefined);
  const name = raw.name as string;
  const before = errors.length;
  const checks: ConfiguredCheck[] = [];
  const configure = (
    definition: CheckDefinition,
    input: Record<string, unknown>,
    nameOf: (key: string) => string,
  ) => {
    try {
      const where = [...at, definition.name].join(".");
      checks.push({
        definition,
        options: parseConfig(definition.options, input, where, [], nameOf),
      });
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      errors.push(e.message);
    }
  };

  if (SUPERVISORD_TARGETS.includes(target)) {
    let selector: ProcessSelector | undefined;
    if (target === "group") selector = ProcessSelector.fromFlags(raw.group as string);
    else {
      try {
        selector = ProcessSelector.fromFlags(undefined, raw.process as string);
      } catch {
        errors.push(
          `${where}.process: '${raw.process}' is not a process name (name or group:name)`,
        );
      }
    }
    if (given.length === 0) {
      errors.push(
        `${where}: names no check; add one or more of ${kinds.map((k) => k.name).join(", ")}`,
      );
    }
    for (const definition of given) {
      configure(
        definition,
        (raw[definition.name] ?? {}) as Record<string, unknown>,
        (key) => [...at, definition.name, ...(key ? [key] : [])].join("."),
      );
    }
    if (errors.length > before || !selector) return undefined;
    return { name, target: { kind: "supervisord", selector }, checks };
  }

  const plain = PLAIN_TARGETS[target];
  const definition = kinds.find((k) => k.name === plain.kind);
  if (!definition) {
    errors.push(`${where}.${target}: the ${plain.kind} check kind is not available`);
    return undefined;
  }
  for (const other of given.filter((k) => k !== definition)) {
    errors.push(`${where}.${other.name}: a ${target} target takes ${plain.kind} options only`);
  }
  const derived = plain.options(raw[target]);
  if (typeof derived === "string") {
    errors.push(`${where}.${target}: ${derived}`);
    return undefined;
  }
  const own = (raw[definition.name] ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(derived)) {
    if (own[key] !== undefined) {
      errors.push(
        `${where}.${definition.name}.${key}: comes from ${where}.${target}; leave it out`,
      );
    }
  }
  if (errors.length > before) return undefined;
  configure(
    definition,
    { ...own, ...derived },
    // a problem with an option the target set is reported at the target
    (key) =>
      (key && Object.hasOwn(derived, key)
        ? [...at, target]
        : [...at, definition.name, ...(key ? [key] : [])]).join("."),
  );
  if (errors.length > before) return undefined;
  return { name, target: { kind: "plain", process: syntheticProcess(name) }, checks };
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
  const checksSchema = z.array(entrySchema(kinds)).default([]);
  const schema = z.strictObject({
    checks: checksSchema,
    healthcheck: healthcheckSchema,
    environment: environmentSchema,
  });
  const result = schema.safeParse(config);
  const errors = result.success
    ? []
    : result.error.issues.map((i) => describeConfigIssue(i, config, i.path));
  // the entries' own checks run whenever their shape is right, so that one
  // start-up reports every problem of the file
  const shapeOk = result.success || result.error.issues.every((i) => i.path[0] !== "checks");
  const entries = result.success
    ? result.data.checks
    : shapeOk
    ? checksSchema.parse((config as Record<string, unknown>).checks)
    : [];
  const checks: CheckEntry[] = [];
  const seen = new Map<string, number>();
  entries.forEach((raw, i) => {
    const name = raw.name;
    if (seen.has(name)) {
      errors.push(`checks.${i}.name: '${name}' is also the name of checks.${seen.get(name)}`);
    } else seen.set(name, i);
    const entry = buildEntry(raw as Record<string, unknown>, ["checks", i], kinds, errors);
    if (entry) checks.push(entry);
  });
  if (!result.success || errors.length) throw new UsageError(`${source}: ${errors.join("; ")}`);
  const h = result.data.healthcheck;
  const e = result.data.environment;
  return {
    checks,
    healthcheck: {
      successTtl: h.success_ttl,
      failedTtl: h.failed_ttl,
      successStatus: h.success_status,
      failedStatus: h.failed_status,
      successHeaders: h.success_headers,
      failedHeaders: h.failed_headers,
    },
    environment: {
      os: e.include_os,
      process: e.include_process,
      runtime: e.include_runtime,
      config: e.include_config,
      sections: e.sections,
    },
    environmentGiven: (config as Record<string, unknown>).environment !== undefined,
  };
}
