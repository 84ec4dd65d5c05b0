/**
 * Checks from a configuration object, the `complex` format of the original:
 * `{"memory": {"cumulative": true, "max_rss": 4194304}, "http": {"port": 8090, "url": "/ping"}}`
 * Each key names a check kind, its value that check's options under the
 * original's key names. Every check's own schema validates its part, so an
 * error names the culprit as `http.port` or `memory.max_rss`.
 */
import { z } from "zod";
import type { CheckDefinition, ConfiguredCheck } from "./check.ts";
import { ConfigFileError, UsageError } from "./errors.ts";
import { formatBytes } from "./bounded_read.ts";

/**
 * One line for a schema issue of a config file: where (the dotted key path,
 * `reportedAt`, by default the issue's own path), then the problem, with a
 * missing key said as "is required" and unknown keys named. `input` is what
 * the schema that raised the issue was given.
 */
export function describeConfigIssue(
  issue: z.core.$ZodIssue,
  input: unknown,
  reportedAt: PropertyKey[] = issue.path,
): string {
  let value: unknown = input;
  for (const key of issue.path) value = (value as Record<PropertyKey, unknown> | null)?.[key];
  const path = reportedAt.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    return `${path ? `${path}: ` : ""}unknown key${issue.keys.length > 1 ? "s" : ""} ${
      issue.keys.map((k) => `'${k}'`).join(", ")
    }`;
  }
  const missing = value === undefined &&
    (issue.code === "invalid_type" || issue.code === "invalid_union");
  return `${path || "config"}: ${missing ? "is required" : issue.message}`;
}

/**
 * Validates a complex config against the given check kinds. `source` names
 * where it came from in messages (`-c/--check-config`, `--config /etc/x.yaml`).
 */
export function checksFromConfig(
  config: unknown,
  kinds: CheckDefinition[],
  source: string,
): ConfiguredCheck[] {
  const schema = z.strictObject(
    Object.fromEntries(kinds.map((k) => [k.name, k.schema.optional()])),
  ).refine((c) => Object.values(c).some((v) => v !== undefined), {
    message: `names no check; use one or more of ${kinds.map((k) => k.name).join(", ")}`,
  });
  const result = schema.safeParse(config);
  if (!result.success) {
    let issues = result.error.issues;
    // an unknown top-level key says enough; "names no check" would only repeat it
    if (issues.some((i) => i.code === "unrecognized_keys" && i.path.length === 0)) {
      issues = issues.filter((i) => i.code !== "custom" || i.path.length > 0);
    }
    throw new UsageError(
      `${source}: ${issues.map((i) => describeConfigIssue(i, config)).join("; ")}`,
    );
  }
  const parsed = result.data as Record<string, unknown>;
  return kinds
    .filter((k) => parsed[k.name] !== undefined)
    .map((definition) => ({ definition, options: parsed[definition.name] }));
}

/** Parses the text of -c/--check-config (JSON). */
export function parseJsonConfig(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
}

/** Largest --config file read; a larger one is refused at start-up. */
export const CONFIG_FILE_LIMIT = 1024 * 1024;

/** The text of a regular file of at most CONFIG_FILE_LIMIT bytes; UsageError otherwise. */
function readBoundedText(path: string, source: string): string {
  const tooLarge = () =>
    new UsageError(`${source}: larger than ${formatBytes(CONFIG_FILE_LIMIT)}, the most read`);
  let file: Deno.FsFile;
  try {
    // stat before open: opening a FIFO would wait for a writer
    if (!Deno.statSync(path).isFile) throw new UsageError(`${source}: not a regular file`);
    file = Deno.openSync(path);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${source}: cannot read: ${(e as Error).message}`);
  }
  try {
    if (file.statSync().size > CONFIG_FILE_LIMIT) throw tooLarge();
    const bytes = new Uint8Array(CONFIG_FILE_LIMIT + 1);
    let size = 0;
    for (;;) {
      const n = file.readSync(bytes.subarray(size));
      if (n === null) break;
      size += n;
      if (size > CONFIG_FILE_LIMIT) throw tooLarge(); // it grew meanwhile
    }
    return new TextDecoder().decode(bytes.subarray(0, size));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`${source}: cannot read: ${(e as Error).message}`);
  } finally {
    file.close();
  }
}

/**
 * Reads a --config file: JSON when it ends in .json, YAML otherwise. Only a
 * regular file of at most CONFIG_FILE_LIMIT bytes is read. The YAML parser is
 * loaded here, on first use: listeners without a config file never pay for it.
 */
export async function readConfigFile(path: string, source = `--config ${path}`): Promise<unknown> {
  const text = readBoundedText(path, source);
  if (path.endsWith(".json")) return parseJsonConfig(text, source);
  const { parse: parseYaml } = await import("yaml");
  try {
    return parseYaml(text);
  } catch (e) {
    // the yaml package says where (`at line 3, column 7:`) and quotes the line
    // under it with a caret: keep all of it, the quote indented
    const [first, ...frame] = (e as Error).message.trimEnd().split("\n");
    const quoted = frame.filter((l, i) => l.trim() !== "" || i > 0 && frame[i - 1].trim() !== "");
    throw new UsageError(
      [`${source}: not valid YAML: ${first}`, ...quoted.map((l) => `    ${l}`)].join("\n"),
    );
  }
}

/**
 * The docs section that documents each kind of config file, named by
 * every error in such a file (see ConfigFileError). Pointers are GitHub's
 * heading anchors; tests/integration/cli_test.ts checks they exist.
 */
export const CONFIG_REFERENCE = {
  complex: "docs/configuration.md#complex-config",
  run: "docs/configuration.md#run-config",
  serve: "docs/configuration.md#serve-config",
  /** A file whose kind is not known yet (validate, before parsing). */
  any: "docs/configuration.md#config-files",
} as const;

/** Runs `load`; a UsageError it throws becomes a ConfigFileError pointing to `kind`'s reference. */
export async function withConfigReference<T>(
  kind: keyof typeof CONFIG_REFERENCE,
  load: () => T | Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (e) {
    if (e instanceof UsageError && !(e instanceof ConfigFileError)) {
      throw new ConfigFileError(e.message, CONFIG_REFERENCE[kind]);
    }
    throw e;
  }
}
