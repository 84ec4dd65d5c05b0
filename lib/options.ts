/**
 * Option values shared by check kinds: schema pieces that accept both
 * command-line strings and config-file JSON values, and the mapping from a
 * schema error back to the flag the user typed.
 */
import { X509Certificate } from "node:crypto";
import { z } from "zod";
import type { OptionSpec } from "./check.ts";
import { MAX_COUNT, MAX_SECONDS, MIN_SECONDS } from "./limits.ts";
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

/** A whole number from `min` (0 by default) to MAX_COUNT. */
export function wholeNumber(min = 0) {
  return numeric("a whole number").superRefine((n, ctx) => {
    const message = !Number.isInteger(n) || n < 0
      ? "must be a whole number of 0 or more"
      : n < min
      ? `must be ${min} or more`
      : n > MAX_COUNT
      ? `must be at most ${MAX_COUNT}, got '${n}'`
      : undefined;
    if (message) ctx.addIssue({ code: "custom", message });
  });
}

/** A whole number >= 0 (at most MAX_COUNT) with a default. */
export function count(defaultValue: number) {
  return wholeNumber().default(defaultValue);
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

/** What is wrong with a host name or IP address to connect to, or undefined. */
export function hostProblem(host: string): string | undefined {
  let url: URL | undefined;
  try {
    url = new URL(`http://${host.includes(":") ? `[${host}]` : host}/`);
  } catch {
    // reported below
  }
  return url && url.pathname === "/" && !url.username && !url.port && !url.search && !url.hash
    ? undefined
    : `'${host}' is not a host name or IP address`;
}

/** Host name or address to connect to (no default). */
export const hostName = z.string().trim().min(1, "must not be empty").superRefine((h, ctx) => {
  const problem = hostProblem(h);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Host name or address to connect to, 127.0.0.1 by default. */
export const host = hostName.default("127.0.0.1");

/** An RFC 7230 token: what header names are made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * What is wrong with a request or response header, or undefined: the name
 * must be an RFC 7230 token, the value printable Latin-1 text without CR, LF
 * or NUL (what fetch and HTTP/1.1 can carry).
 */
export function headerProblem(name: string, value: string): string | undefined {
  if (!TOKEN.test(name)) {
    return `header name ${JSON.stringify(name)} is not an HTTP token ` +
      "(letters, digits and !#$%&'*+-.^_`|~; no spaces or colons)";
  }
  if (/[\r\n\0]/.test(value)) return `header ${name}: the value must not contain CR, LF or NUL`;
  if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
    return `header ${name}: the value must be printable Latin-1 text`;
  }
  try {
    new Headers([[name, value]]);
  } catch (e) {
    return `header ${name}: ${(e as Error).message}`;
  }
  return undefined;
}

/**
 * Reads a PEM file of CA certificates and builds the https client trusting
 * them. Throws an Error saying what is wrong: unreadable, no certificate in
 * it, or one that does not parse (an unusable CA file is a start-up error,
 * never a failed check at run time).
 */
export function caClient(path: string): Deno.HttpClient {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ??
    [];
  if (blocks.length === 0) {
    throw new Error(`${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  blocks.forEach((block, i) => {
    try {
      new X509Certificate(block);
    } catch (e) {
      throw new Error(`${path}: certificate ${i + 1} does not parse: ${(e as Error).message}`);
    }
  });
  try {
    return Deno.createHttpClient({ caCerts: [text] });
  } catch (e) {
    throw new Error(`${path}: not usable as CA certificates: ${(e as Error).message}`);
  }
}

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

/** -t/--timeout: seconds allowed for one attempt. */
export function timeoutOption(help: string, defaultSeconds: number): OptionSpec {
  return {
    key: "timeout",
    long: "timeout",
    short: "t",
    type: "string",
    metavar: "SECONDS",
    help,
    defaultText: String(defaultSeconds),
  };
}

/** -r/--num-retries: extra attempts after a failed one (the probe backs off between them). */
export function retriesOption(defaultRetries: number): OptionSpec {
  return {
    key: "num_retries",
    long: "num-retries",
    short: "r",
    type: "string",
    metavar: "N",
    help: "Extra attempts after a failed one, with a brief back-off.",
    defaultText: String(defaultRetries),
  };
}

/** Basic-auth flags: -U, and the password inline (-P), by env var name or from a file. */
export const CREDENTIAL_OPTIONS: OptionSpec[] = [
  {
    key: "username",
    long: "username",
    short: "U",
    type: "string",
    metavar: "USER",
    help: "Basic-auth user name.",
  },
  {
    key: "password",
    long: "password",
    short: "P",
    type: "string",
    metavar: "PASSWORD",
    help: "Basic-auth password (visible in ps; prefer --password-env or --password-file).",
  },
  {
    key: "password_env",
    long: "password-env",
    type: "string",
    metavar: "NAME",
    help: "Read the basic-auth password from environment variable NAME.",
  },
  {
    key: "password_file",
    long: "password-file",
    type: "string",
    metavar: "PATH",
    help: "Read the basic-auth password from a file (one trailing newline is dropped).",
  },
];

/** Schema keys of CREDENTIAL_OPTIONS; spread into a check's z.object. */
export const credentialsShape = {
  // RFC 7617: the user-id of basic auth cannot contain a colon
  username: z.string().refine((u) => !u.includes(":"), "must not contain ':' (basic auth)")
    .optional(),
  password: z.string().optional(),
  password_env: z.string().trim().min(1, "must not be empty").optional(),
  password_file: z.string().trim().min(1, "must not be empty").optional(),
};

/**
 * Resolves the credentials of `credentialsShape` at start-up (reading the
 * env var or file). Adds an issue naming the culprit key and returns
 * z.NEVER when the password cannot be had; undefined when none is given.
 */
export function resolveCredentials(
  o: { username?: string; password?: string; password_env?: string; password_file?: string },
  ctx: z.RefinementCtx,
): { username: string; password: string } | undefined | typeof z.NEVER {
  const secret = resolveSecret(
    { inline: o.password, env: o.password_env, file: o.password_file },
    { inline: "-P/--password", env: "--password-env", file: "--password-file" },
  );
  if (secret.error) {
    const key = { inline: "password", env: "password_env", file: "password_file" }[
      secret.error.source
    ];
    ctx.addIssue({ code: "custom", path: [key], message: secret.error.message });
    return z.NEVER;
  }
  if (o.username === undefined && secret.value === undefined) return undefined;
  return { username: o.username ?? "", password: secret.value ?? "" };
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
