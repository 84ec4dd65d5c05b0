/**
 * Options declared once. Every option of every subcommand is one entry of
 * a {@link Spec}: from it come the command-line flag (node:util's
 * parseArgs), the config-file key, the --help line with the real default,
 * the validation, and errors that name the flag on a command line and the
 * key in a file.
 *
 *   const OPTIONS = options({
 *     port: option({ short: "p", metavar: "PORT", help: "Port to probe.", parse: port }),
 *     timeout: option({ short: "t", help: "Seconds per try.", parse: seconds(), default: 10 }),
 *     verbose: toggle({ short: "v", help: "Say more." }),
 *   });
 *   const { values } = parse(OPTIONS, Deno.args);        // -p/--port: …
 *   const fromFile = parseConfig(OPTIONS, entry, "http"); // http.port: …
 */
import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";
import { MAX_COUNT, MAX_SECONDS, MIN_SECONDS } from "./limits.ts";

/** What an option is told about how it is written (for --help). */
export interface Declaration {
  /** Long flag without dashes; by default the key with `_` → `-` (`num_retries` → `num-retries`). */
  flag?: string;
  /** Short flag without its dash. */
  short?: string;
  /** Other long spellings accepted (the original's typos, renamed flags). */
  aliases?: string[];
  /** Placeholder of the value in --help (`SECONDS`). */
  metavar?: string;
  help: string;
  /** What --help says the default is, when `String(default)` would not say it well. */
  defaultText?: string;
  /** Only on the command line (`--help`, `--config`), never a config-file key. */
  flagOnly?: boolean;
  /** Only in config files, never a flag. */
  keyOnly?: boolean;
  /** In a file, `null` is a value handed to parse (serve's TTLs: no caching), not an absent key. */
  nullable?: boolean;
  /** Absent is an error (`is required`); --help says "Required.". */
  required?: boolean;
}

/**
 * One option. `parse` turns what the user wrote (a string from the command
 * line; a string, number, boolean or array from a file) into the value, or
 * throws an Error whose message says what is wrong (without naming the
 * option: the caller names it as the user wrote it).
 */
export interface Option<T> extends Declaration {
  takes: "value" | "switch" | "list";
  parse(raw: unknown): T;
  default?: T;
}

// deno-lint-ignore no-explicit-any
export type Spec = Record<string, Option<any>>;

/** The parsed values of a spec: absent options hold their default (undefined without one). */
export type Values<S extends Spec> = { [K in keyof S]: S[K] extends Option<infer T> ? T : never };

/** Spells an option the way the user wrote it: `-p/--port` on a command line, `http.port` in a file. */
export type Namer = (key: string) => string;

/** A spec and the rules across its options (and the resolution of what they name: files, env). */
export interface Options<S extends Spec, R> {
  spec: S;
  /** Throws OptionError(key, …) naming the culprit; returns the settings the command uses. */
  finish(values: Values<S>, name: Namer): R;
}

/** A problem with one option's value, found after parsing (a rule across options, a secret not found). */
export class OptionError extends Error {
  override name = "OptionError";
  constructor(readonly key: string, message: string) {
    super(message);
  }
}

/** An option that takes a value. */
export function option<T>(d: Declaration & { parse(raw: unknown): T; default: T }): Option<T>;
export function option<T>(d: Declaration & { parse(raw: unknown): T; required: true }): Option<T>;
export function option<T>(d: Declaration & { parse(raw: unknown): T }): Option<T | undefined>;
export function option<T>(d: Declaration & { parse(raw: unknown): T; default?: T }): Option<T> {
  return { ...d, takes: "value" };
}

/** A boolean flag (false unless given); in a file, `true` or `false`. */
export function toggle(d: Declaration): Option<boolean> {
  return { defaultText: "off", ...d, takes: "switch", parse: boolean, default: false };
}

/** A flag that may be given several times; in a file, one value or a list. Empty by default. */
export function list<T>(d: Declaration & { parse(raw: unknown): T }): Option<T[]> {
  return {
    ...d,
    takes: "list",
    parse: (raw) => (Array.isArray(raw) ? raw : [raw]).map((v) => d.parse(v)),
    default: [],
  };
}

/** The result type of an option group. */
export type Result<O> = O extends Options<Spec, infer R> ? R : never;

/**
 * Several option groups as one (the listener's: policy, notifications,
 * logging…): their specs side by side; finish gives each group's result
 * under the group's name.
 */
export function combine<G extends Record<string, Options<Spec, unknown>>>(
  groups: G,
): Options<Spec, { [K in keyof G]: Result<G[K]> }> {
  const spec: Spec = Object.assign({}, ...Object.values(groups).map((g) => g.spec));
  const own = (g: Options<Spec, unknown>, values: Record<string, unknown>) =>
    Object.fromEntries(Object.keys(g.spec).map((key) => [key, values[key]]));
  return options(spec, (values, name) =>
    Object.fromEntries(
      Object.entries(groups).map(([k, g]) => [k, g.finish(own(g, values) as never, name)]),
    ) as { [K in keyof G]: Result<G[K]> });
}

/** A spec with no rules across its options. */
export function options<S extends Spec>(spec: S): Options<S, Values<S>>;
/** A spec with rules across its options; `finish` returns the command's settings. */
export function options<S extends Spec, R>(
  spec: S,
  finish: (values: Values<S>, name: Namer) => R,
): Options<S, R>;
export function options<S extends Spec, R>(
  spec: S,
  finish?: (values: Values<S>, name: Namer) => R,
): Options<S, R> {
  return { spec, finish: finish ?? ((values) => values as unknown as R) };
}

/** The long flag of the option at `key`. */
export function flagOf(key: string, o: Declaration): string {
  return o.flag ?? key.replaceAll("_", "-");
}

/** `-p/--port` or `--port`. */
export function flagLabel(key: string, o: Declaration): string {
  return o.short ? `-${o.short}/--${flagOf(key, o)}` : `--${flagOf(key, o)}`;
}

/** Names each option by its flag (`-p/--port`); `options` for a problem of no one option. */
export function flagNames(spec: Spec): Namer {
  return (key) => (key === "" ? "options" : spec[key] ? flagLabel(key, spec[key]) : `'${key}'`);
}

/**
 * The settings from raw values keyed as the spec (strings from a command
 * line, JSON values from a file or code): each option parsed or defaulted,
 * then the rules across them. UsageError naming each culprit with `name`.
 */
export function parseValues<S extends Spec, R>(
  opts: Options<S, R>,
  raw: Record<string, unknown>,
  name: Namer = flagNames(opts.spec),
): R {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, o] of Object.entries(opts.spec)) {
    if (raw[key] === undefined) {
      if (o.required) problems.push(`${name(key)}: is required`);
      values[key] = o.default;
      continue;
    }
    try {
      values[key] = o.parse(raw[key]);
    } catch (e) {
      problems.push(`${name(key)}: ${(e as Error).message}`);
    }
  }
  if (problems.length) throw new UsageError(problems.join("; "));
  try {
    return opts.finish(values as Values<S>, name);
  } catch (e) {
    if (e instanceof OptionError) throw new UsageError(`${name(e.key)}: ${e.message}`);
    throw e;
  }
}

/** The flags of several specs on one command line: the first spec to claim a spelling keeps it. */
function flagTable(specs: Spec[]): Map<string, { spec: number; key: string }> {
  const table = new Map<string, { spec: number; key: string }>();
  specs.forEach((spec, i) => {
    for (const [key, o] of Object.entries(spec)) {
      if (o.keyOnly) continue;
      for (const name of [flagOf(key, o), ...(o.aliases ?? [])]) {
        if (!table.has(name)) table.set(name, { spec: i, key });
      }
    }
  });
  return table;
}

/** The short flags of several specs: the first to claim a letter keeps it. */
function shortTable(specs: Spec[]): Map<string, { spec: number; key: string }> {
  const table = new Map<string, { spec: number; key: string }>();
  specs.forEach((spec, i) => {
    for (const [key, o] of Object.entries(spec)) {
      if (o.short && !o.keyOnly && !table.has(o.short)) table.set(o.short, { spec: i, key });
    }
  });
  return table;
}

/**
 * How the options of `specs` read on one command line, in order of
 * precedence: an option keeps the spellings no earlier spec took (cpu's own
 * -i/--interval leaves the shared timer option --check-interval only); one
 * left with no spelling is not offered.
 */
export function spellings(
  specs: Spec[],
): { spec: number; key: string; long: string[]; short?: string; option: Option<unknown> }[] {
  const longs = flagTable(specs);
  const shorts = shortTable(specs);
  const out: ReturnType<typeof spellings> = [];
  specs.forEach((spec, i) => {
    for (const [key, o] of Object.entries(spec)) {
      if (o.keyOnly) continue;
      const long = [flagOf(key, o), ...(o.aliases ?? [])].filter((n) => {
        const owner = longs.get(n);
        return owner?.spec === i && owner.key === key;
      });
      if (long.length === 0) continue;
      const owner = o.short ? shorts.get(o.short) : undefined;
      const short = owner?.spec === i && owner.key === key ? o.short : undefined;
      out.push({ spec: i, key, long, short, option: o });
    }
  });
  return out;
}

/**
 * Parses a command line against several option groups at once (a listener:
 * the shared listener flags and the check's own); resolves to each group's
 * settings. Errors name the flag as written; UsageError on any problem.
 */
export function parseGroups<G extends Options<Spec, unknown>[]>(
  groups: [...G],
  argv: string[],
  how: { positionals?: boolean; help: true },
): Parsed<G> | "help";
export function parseGroups<G extends Options<Spec, unknown>[]>(
  groups: [...G],
  argv: string[],
  how?: { positionals?: boolean },
): Parsed<G>;
export function parseGroups<G extends Options<Spec, unknown>[]>(
  groups: [...G],
  argv: string[],
  { positionals = false, help = false }: { positionals?: boolean; help?: boolean } = {},
): Parsed<G> | "help" {
  const specs = groups.map((g) => g.spec);
  const written = spellings(specs);
  type ParseArgsOption = { type: "string" | "boolean"; multiple: boolean; short?: string };
  const config: Record<string, ParseArgsOption> = {};
  for (const w of written) {
    const type = w.option.takes === "switch" ? "boolean" : "string";
    const multiple = w.option.takes === "list";
    w.long.forEach((name, n) => {
      config[name] = n === 0 && w.short ? { type, multiple, short: w.short } : { type, multiple };
    });
  }
  if (help && !config.help) {
    config.help = shortTable(specs).has("h") ? HELP_SWITCH : { ...HELP_SWITCH, short: "h" };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: config,
      strict: true,
      allowPositionals: positionals,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const raws: Record<string, unknown>[] = specs.map(() => ({}));
  const labels: Record<string, string>[] = specs.map(() => ({}));
  for (const w of written) {
    const [first, ...others] = w.long;
    labels[w.spec][w.key] = w.short ? `-${w.short}/--${first}` : `--${first}`;
    for (const name of [first, ...others]) {
      const value = (parsed.values as Record<string, unknown>)[name];
      if (value === undefined) continue;
      const before = raws[w.spec][w.key];
      raws[w.spec][w.key] = Array.isArray(before) ? [...before, ...(value as unknown[])] : value;
    }
  }
  if (help && (parsed.values as Record<string, unknown>).help) return "help";
  const results = groups.map((g, i) =>
    parseValues(g, raws[i], (key) => key === "" ? "options" : labels[i][key] ?? `'${key}'`)
  );
  return { results: results as Parsed<G>["results"], positionals: parsed.positionals };
}

/** What parseGroups returns: each group's settings, and the positional arguments. */
export interface Parsed<G extends Options<Spec, unknown>[]> {
  results: { [I in keyof G]: Result<G[I]> };
  positionals: string[];
}

const HELP_SWITCH = { type: "boolean", multiple: false } as const;

/** `-h/--help` (offered by parse and parseGroups with `help: true`). */
export const HELP_ROW: HelpRow = {
  left: "-h/--help",
  text: "Show this help and exit.",
  long: "help",
};

/**
 * Parses a command line against one spec; UsageError names the flag. With
 * `help: true`, -h/--help is offered and "help" returned when given.
 */
export function parse<S extends Spec, R>(
  opts: Options<S, R>,
  argv: string[],
  how: { positionals?: boolean; help: true },
): { values: R; positionals: string[] } | "help";
export function parse<S extends Spec, R>(
  opts: Options<S, R>,
  argv: string[],
  how?: { positionals?: boolean },
): { values: R; positionals: string[] };
export function parse<S extends Spec, R>(
  opts: Options<S, R>,
  argv: string[],
  how: { positionals?: boolean; help?: boolean } = {},
): { values: R; positionals: string[] } | "help" {
  const parsed = parseGroups([opts], argv, how as { positionals?: boolean; help: true });
  if (parsed === "help") return "help";
  return { values: parsed.results[0] as R, positionals: parsed.positionals };
}

/** The config-file keys of a spec. */
export function configKeys(spec: Spec): string[] {
  return Object.entries(spec).filter(([, o]) => !o.flagOnly).map(([key]) => key);
}

/**
 * Validates one object of a config file against a spec. `where` is the
 * object's place in the file (`checks[0].http`): errors say `where.key: …`,
 * and a key the spec does not have is an error naming it.
 * `ignore` lists keys that belong to someone else at the same level.
 */
export function parseConfig<S extends Spec, R>(
  opts: Options<S, R>,
  input: unknown,
  where: string,
  ignore: string[] = [],
  /** How to name a key, when not `where.key` (a key set elsewhere in the file). */
  name?: Namer,
): R {
  const at = (key: string) => (key === "" ? where || "config" : where ? `${where}.${key}` : key);
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    throw new UsageError(`${where || "config"}: expected a mapping of keys to values`);
  }
  const keys = configKeys(opts.spec);
  const unknown = Object.keys(input).filter((k) => !keys.includes(k) && !ignore.includes(k));
  if (unknown.length) {
    throw new UsageError(
      `${where || "config"}: unknown key${unknown.length > 1 ? "s" : ""} ` +
        `${unknown.map((k) => `'${k}'`).join(", ")} (known: ${keys.join(", ")})`,
    );
  }
  const raw = Object.fromEntries(
    Object.entries(input).filter(([k, v]) =>
      keys.includes(k) && (v !== null || opts.spec[k].nullable)
    ),
  );
  return parseValues(opts, raw, name ?? at);
}

/** One --help row (see lib/help.ts). */
export interface HelpRow {
  /** `-p/--port PORT, --alias` */
  left: string;
  /** the help, with the default */
  text: string;
  long: string;
}

/** The --help rows of `specs` parsed together (as parseGroups reads them), by group. */
export function helpRows(specs: Spec[]): HelpRow[][] {
  const rows: HelpRow[][] = specs.map(() => []);
  for (const w of spellings(specs)) {
    const o = w.option;
    const [first, ...others] = w.long;
    const names = [
      w.short ? `-${w.short}/--${first}` : `--${first}`,
      ...others.map((a) => `--${a}`),
    ]
      .join(", ");
    const left = o.takes === "switch" ? names : `${names} ${o.metavar ?? "VALUE"}`;
    const shown = o.defaultText ??
      (o.default === undefined || o.takes !== "value" ? undefined : String(o.default));
    const text = o.required ? `${o.help} Required.` : o.help;
    rows[w.spec].push({ left, text: shown ? `${text} Default: ${shown}` : text, long: first });
  }
  return rows;
}

// Parsers of common values: each takes what the user wrote and returns the
// value, or throws an Error saying what is wrong.

/** Text as written (a number in a file is taken as its digits). */
export function text(raw: unknown): string {
  if (typeof raw === "string") return raw;
  if (typeof raw === "number" && Number.isFinite(raw)) return String(raw);
  throw new Error(`expected text, got ${describe(raw)}`);
}

/** Text that is not blank, trimmed. */
export function nonEmpty(raw: unknown): string {
  const t = text(raw).trim();
  if (t === "") throw new Error("must not be empty");
  return t;
}

/** true/false (a file may also say "true"/"false"). */
export function boolean(raw: unknown): boolean {
  if (typeof raw === "boolean") return raw;
  if (raw === "true" || raw === "false") return raw === "true";
  throw new Error(`expected true or false, got ${describe(raw)}`);
}

/** One of `choices`. */
export function choice<C extends string>(...choices: C[]): (raw: unknown) => C {
  return (raw) => {
    const t = text(raw).trim();
    if (!(choices as string[]).includes(t)) {
      throw new Error(`expected one of ${choices.join(", ")}, got '${t}'`);
    }
    return t as C;
  };
}

/** A number written as a number or as text. */
export function number(raw: unknown, what = "a number"): number {
  const n = typeof raw === "number"
    ? raw
    : typeof raw === "string" && raw.trim() !== ""
    ? Number(raw.trim())
    : NaN;
  if (!Number.isFinite(n)) throw new Error(`expected ${what}, got ${describe(raw)}`);
  return n;
}

/**
 * Seconds, fractions allowed, at most MAX_SECONDS (7 days). Without `min`:
 * greater than 0 and at least MIN_SECONDS (a timeout); with it: at least `min`.
 */
export function seconds(min?: number): (raw: unknown) => number {
  return (raw) => {
    const n = number(raw, "a number of seconds");
    if (min !== undefined && n < min) {
      throw new Error(`expected a number of seconds of at least ${min}, got '${n}'`);
    }
    if (min === undefined && n <= 0) throw new Error("must be greater than 0");
    if (min === undefined && n < MIN_SECONDS) {
      throw new Error(`must be at least ${MIN_SECONDS} (1 ms, the timers' resolution), got '${n}'`);
    }
    if (n > MAX_SECONDS) {
      throw new Error(`must be at most ${MAX_SECONDS} seconds (7 days), got '${n}'`);
    }
    return n;
  };
}

/** A whole number from `min` (0 by default) to MAX_COUNT. */
export function count(min = 0): (raw: unknown) => number {
  return (raw) => {
    const n = number(raw, "a whole number");
    if (!Number.isInteger(n) || n < 0) throw new Error("must be a whole number of 0 or more");
    if (n < min) throw new Error(`must be ${min} or more`);
    if (n > MAX_COUNT) throw new Error(`must be at most ${MAX_COUNT}, got '${n}'`);
    return n;
  };
}

/** How a raw value reads in a message. */
function describe(raw: unknown): string {
  if (typeof raw === "string") return `'${raw}'`;
  if (Array.isArray(raw)) return "a list";
  if (raw !== null && typeof raw === "object") return "a mapping";
  return String(raw);
}
