/**
 * The flag table of `httpok`, until it too is declared with lib/option.ts:
 * the former OptionSpec, its parser, the shared options seen as OptionSpecs
 * (derived from their one declaration), and the zod pieces it validates
 * with. Nothing else may import this module (zod costs every process that
 * loads it ~6 MB); delete it with httpok's conversion.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { UsageError } from "./errors.ts";
import { MAX_SECONDS, MIN_SECONDS } from "./limits.ts";
import { METRICS } from "./metrics_server.ts";
import { MODES } from "./modes.ts";
import { NOTIFY, type NotifyOptions } from "./notify.ts";
import { flagOf, type HelpRow, parseValues, type Spec } from "./option.ts";
import { LOG, POLICY } from "./settings.ts";

/** One command-line flag of a check; also names the key in config files. */
export interface OptionSpec {
  /** Key in the parsed options and in complex/--config JSON (`num_retries`). */
  key: string;
  /** Long flag without dashes (`num-retries`). */
  long: string;
  /** Short flag without dash (`r`). */
  short?: string;
  /** boolean flags take no value. */
  type: "string" | "boolean";
  /** Flag may be given more than once (values arrive as an array). */
  multiple?: boolean;
  /** Shown in --help. */
  help: string;
  /** Shown in --help as the default; the schema applies the real default. */
  defaultText?: string;
  /** Placeholder in --help (`PORT`). */
  metavar?: string;
  /** Other long spellings accepted for compatibility (`msx-rss`). */
  aliases?: string[];
}

/** The options of a spec as OptionSpecs (one declaration; this is a view of it). */
export function legacySpecs(spec: Spec): OptionSpec[] {
  return Object.entries(spec).filter(([, o]) => !o.keyOnly).map(([key, o]) => {
    const shown = o.defaultText ??
      (o.default === undefined || o.takes !== "value" ? undefined : String(o.default));
    return {
      key,
      long: flagOf(key, o),
      ...(o.short ? { short: o.short } : {}),
      type: o.takes === "switch" ? "boolean" : "string",
      ...(o.takes === "list" ? { multiple: true } : {}),
      help: o.required ? `${o.help} Required.` : o.help,
      ...(shown === undefined ? {} : { defaultText: shown }),
      ...(o.metavar ? { metavar: o.metavar } : {}),
      ...(o.aliases ? { aliases: o.aliases } : {}),
    };
  });
}

export const POLICY_OPTIONS = legacySpecs(POLICY.spec);
export const LOG_OPTIONS = legacySpecs(LOG.spec);
export const METRICS_OPTIONS = legacySpecs(METRICS.spec);
export const NOTIFY_OPTIONS = legacySpecs(NOTIFY.spec);
export const [ONCE_OPTION] = legacySpecs(MODES.spec);

/** The --help rows of OptionSpecs (lib/help.ts). */
export function legacyRows(specs: OptionSpec[]): HelpRow[] {
  return specs.map((spec) => {
    const names = [flagLabel(spec), ...(spec.aliases ?? []).map((a) => `--${a}`)].join(", ");
    const left = spec.type === "string" ? `${names} ${spec.metavar ?? "VALUE"}` : names;
    const text = spec.defaultText !== undefined
      ? `${spec.help} Default: ${spec.defaultText}`
      : spec.help;
    return { left, text, long: spec.long };
  });
}

/** NOTIFY's options from flag values; UsageError names the flag as `specs` spell it. */
export function parseNotifyOptions(
  values: Record<string, unknown>,
  specs: OptionSpec[],
): NotifyOptions {
  return parseValues(NOTIFY, values, (key) => {
    const spec = specs.find((s) => s.key === key);
    return spec ? flagLabel(spec) : `--${key}`;
  });
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

/** `-p/--port` for messages. */
export function flagLabel(spec: OptionSpec): string {
  return spec.short ? `-${spec.short}/--${spec.long}` : `--${spec.long}`;
}

/** A number given as a JSON number or a command-line string. */
function numeric(what: string) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const n = typeof value === "number" ? value : Number(value.trim());
    if (typeof value === "string" && value.trim() === "" || !Number.isFinite(n)) {
      ctx.addIssue({ code: "custom", message: `expected ${what}, got '${value}'` });
      return z.NEVER;
    }
    return n;
  });
}

/**
 * Seconds, fractions allowed, at most MAX_SECONDS. Without `min`: greater
 * than 0 and at least MIN_SECONDS (a timeout); with it: at least `min`.
 */
export function duration(min?: number) {
  return numeric("a number of seconds").superRefine((n, ctx) => {
    const problem = min !== undefined
      ? n < min ? `expected a number of seconds of at least ${min}, got '${n}'` : undefined
      : n <= 0
      ? "must be greater than 0"
      : n < MIN_SECONDS
      ? `must be at least ${MIN_SECONDS} (1 ms, the timers' resolution), got '${n}'`
      : undefined;
    const message = problem ??
      (n > MAX_SECONDS ? `must be at most ${MAX_SECONDS} seconds (7 days), got '${n}'` : undefined);
    if (message) ctx.addIssue({ code: "custom", message });
  });
}

/** A timeout-like duration (see `duration`) with a default. */
export function seconds(defaultValue: number) {
  return duration().default(defaultValue);
}
