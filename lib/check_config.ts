/**
 * Checks from a configuration object, the `complex` format of the original:
 * `{"memory": {"cumulative": true, "max_rss": 4194304}, "http": {"port": 8090, "url": "/ping"}}`
 * Each key names a check kind, its value that check's options under the
 * original's key names. Every check's own schema validates its part, so an
 * error names the culprit as `http.port` or `memory.max_rss`.
 */
import { z } from "zod";
import type { CheckDefinition, ConfiguredCheck } from "./check.ts";
import { UsageError } from "./errors.ts";

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

/**
 * Reads a --config file: JSON when it ends in .json, YAML otherwise. The YAML
 * parser is loaded here, on first use: listeners without a config file never
 * pay for it.
 */
export async function readConfigFile(path: string, source = `--config ${path}`): Promise<unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new UsageError(`${source}: cannot read: ${(e as Error).message}`);
  }
  if (path.endsWith(".json")) return parseJsonConfig(text, source);
  const { parse: parseYaml } = await import("yaml");
  try {
    return parseYaml(text);
  } catch (e) {
    throw new UsageError(`${source}: not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
}
