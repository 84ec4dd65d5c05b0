/**
 * Option values shared by check kinds: schema pieces that accept both
 * command-line strings and config-file JSON values, and the mapping from a
 * schema error back to the flag the user typed.
 */
import { z } from "zod";
import type { OptionSpec } from "./check.ts";
import { parsePortSpec, type PortSpec } from "./ports.ts";

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

/** Seconds, fractions allowed, greater than zero. */
export function seconds(defaultValue: number) {
  return numeric("a number of seconds")
    .refine((n) => n > 0, { message: "must be greater than 0" })
    .default(defaultValue);
}

/** A whole number >= 0. */
export function count(defaultValue: number) {
  return numeric("a whole number")
    .refine((n) => Number.isInteger(n) && n >= 0, {
      message: "must be a whole number of 0 or more",
    })
    .default(defaultValue);
}

/** `-p 8080` or `-p ".+_(\d+)"`. */
export const portSpec = z.union([z.number(), z.string()]).transform(
  (value, ctx): PortSpec => {
    try {
      return parsePortSpec(value);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  },
);

/** Host name or address to connect to. */
export const host = z.string().trim().min(1, "must not be empty").default("127.0.0.1");

/**
 * A secret given inline, by environment variable name, or by file path. The
 * env and file forms keep it out of `ps` and of supervisord's config.
 */
export interface SecretSources {
  inline?: string;
  env?: string;
  file?: string;
}

/**
 * Resolves a secret at start-up. On error, `source` says which form was at
 * fault so the message can name that flag or key.
 */
export function resolveSecret(
  sources: SecretSources,
  labels: Record<keyof SecretSources, string>,
): { value?: string; error?: { source: keyof SecretSources; message: string } } {
  const given = (Object.keys(sources) as (keyof SecretSources)[])
    .filter((k) => sources[k] !== undefined);
  if (given.length > 1) {
    return {
      error: {
        source: given[1],
        message: `give only one of ${Object.values(labels).join(", ")}`,
      },
    };
  }
  if (sources.env !== undefined) {
    const value = Deno.env.get(sources.env);
    if (value === undefined) {
      return {
        error: { source: "env", message: `environment variable ${sources.env} is not set` },
      };
    }
    return { value };
  }
  if (sources.file !== undefined) {
    try {
      return { value: Deno.readTextFileSync(sources.file).replace(/\r?\n$/, "") };
    } catch (e) {
      return {
        error: { source: "file", message: `cannot read ${sources.file}: ${(e as Error).message}` },
      };
    }
  }
  return { value: sources.inline };
}

/** `-p/--port` for messages. */
export function flagLabel(spec: OptionSpec): string {
  return spec.short ? `-${spec.short}/--${spec.long}` : `--${spec.long}`;
}

/**
 * Turns a schema error into one line per problem, naming the flag (when the
 * options came from the command line) or the key (from a config file).
 */
export function describeIssues(
  error: z.ZodError,
  specs: OptionSpec[],
  raw: Record<string, unknown>,
  naming: "flag" | "key" = "flag",
): string[] {
  return error.issues.map((issue) => {
    const key = String(issue.path[0] ?? "");
    const spec = specs.find((s) => s.key === key);
    const label = !key ? "options" : naming === "flag" && spec ? flagLabel(spec) : `'${key}'`;
    const missing = issue.path.length === 1 && raw[key] === undefined &&
      (issue.code === "invalid_type" || issue.code === "invalid_union");
    const message = missing ? "is required" : issue.message;
    return `${label}: ${message}`;
  });
}
