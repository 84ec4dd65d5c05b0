/**
 * Checks from a configuration object, the `complex` format of the original:
 * `{"memory": {"cumulative": true, "max_rss": 4194304}, "http": {"port": 8090, "url": "/ping"}}`
 * Each key names a check kind, its value that check's options under the
 * original's key names. Every check's own option declarations validate its part, so an
 * error names the culprit as `http.port` or `memory.max_rss`.
 */
import type { CheckDefinition, ConfiguredCheck } from "./check.ts";
import { ConfigFileError, UsageError } from "./errors.ts";
import { readSmallFile } from "./bounded_read.ts";
import { parseConfig } from "./option.ts";

/**
 * Validates a complex config against the given check kinds: each kind's
 * options by its own declaration. `source` names where it came from in
 * messages (`-c/--check-config`, `--config /etc/x.yaml`); `where` is the
 * object's place in that file (`checks[0]` in a run config), the start of
 * every key path; `entry` names the object in messages about it as a whole.
 * UsageError listing every problem.
 */
export function checksFromConfig(
  config: unknown,
  kinds: CheckDefinition[],
  source: string,
  where = "",
  entry = where,
): ConfiguredCheck[] {
  const about = `${source}: ${entry ? `${entry}: ` : ""}`;
  const names = kinds.map((k) => k.name);
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new UsageError(
      `${about}expected an object naming check kinds (${names.join(", ")}), got ${
        Array.isArray(config) ? "a list" : JSON.stringify(config)
      }`,
    );
  }
  const given = Object.keys(config);
  const unknown = given.filter((k) => !names.includes(k));
  if (unknown.length > 0) {
    throw new UsageError(
      `${about}unknown key${unknown.length > 1 ? "s" : ""} ${
        unknown.map((k) => `'${k}'`).join(", ")
      } (check kinds: ${names.join(", ")})`,
    );
  }
  if (given.length === 0) {
    throw new UsageError(`${about}names no check; use one or more of ${names.join(", ")}`);
  }
  const problems: string[] = [];
  const checks: ConfiguredCheck[] = [];
  for (const definition of kinds.filter((k) => given.includes(k.name))) {
    const at = where ? `${where}.${definition.name}` : definition.name;
    try {
      const value = (config as Record<string, unknown>)[definition.name];
      checks.push({ definition, options: parseConfig(definition.options, value, at) });
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      problems.push(e.message);
    }
  }
  if (problems.length > 0) throw new UsageError(`${source}: ${problems.join("; ")}`);
  return checks;
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
  try {
    return readSmallFile(path, CONFIG_FILE_LIMIT);
  } catch (e) {
    throw new UsageError(`${source}: ${(e as Error).message}`);
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
  const { parse: parseYaml } = await import("npm:yaml@2.9.1");
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
