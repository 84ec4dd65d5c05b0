/**
 * Options shared by check kinds (declared once, see lib/option.ts): the port
 * spec, the host, -t/--timeout, -r/--num-retries, basic-auth credentials,
 * and the helpers that read what they name: secrets, CA files, headers.
 */
import { X509Certificate } from "node:crypto";
import {
  count,
  type Namer,
  nonEmpty,
  type Option,
  option,
  OptionError,
  seconds,
  text,
} from "./option.ts";
import { parsePortSpec, type PortSpec } from "./ports.ts";
import { readSmallFile, smallFileProblem } from "./bounded_read.ts";

/** Largest secret file read (a password, a URL, headers): a few are enough. */
export const SECRET_FILE_LIMIT = 64 * 1024;
/** Largest CA bundle read (the system's whole bundle is about 200 KB). */
export const CA_FILE_LIMIT = 1024 * 1024;

/** `-p 8080` or `-p ".+_(\d+)"`. */
export function portSpec(raw: unknown): PortSpec {
  if (typeof raw !== "number" && typeof raw !== "string") {
    throw new Error("expected a port number or a regular expression");
  }
  return parsePortSpec(raw);
}

/** -p/--port as the network checks declare it; `more` ends its help. */
export function portOption(more: string): Option<PortSpec | undefined>;
export function portOption(more: string, required: true): Option<PortSpec>;
export function portOption(more: string, required = false): Option<PortSpec | undefined> {
  return option({
    short: "p",
    metavar: "PORT",
    help: "Port: an integer, or a regex with one capture group applied to the process " +
      `name (".+_(\\d+)"). ${more}`.trimEnd(),
    parse: portSpec,
    required,
  });
}

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

/** A host name or address to connect to. */
export function host(raw: unknown): string {
  const h = nonEmpty(raw);
  const problem = hostProblem(h);
  if (problem) throw new Error(problem);
  return h;
}

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
    text = readSmallFile(path, CA_FILE_LIMIT);
  } catch (e) {
    throw new Error(smallFileProblem(path, e));
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
      const text = readSmallFile(sources.file, SECRET_FILE_LIMIT);
      return { value: text.replace(/\r?\n$/, "") };
    } catch (e) {
      return { error: { source: "file", message: smallFileProblem(sources.file, e) } };
    }
  }
  return { value: sources.inline };
}

/**
 * Resolves a secret given by one of the options at `keys` (inline, env var
 * name, file path); OptionError names the culprit.
 */
export function secretFrom(
  sources: SecretSources,
  keys: Partial<Record<keyof SecretSources, string>>,
  name: Namer,
): string | undefined {
  const label = (source: keyof SecretSources) => keys[source] ? name(keys[source]) : source;
  const { value, error } = resolveSecret(sources, {
    inline: label("inline"),
    env: label("env"),
    file: label("file"),
  });
  if (error) throw new OptionError(keys[error.source] ?? "", error.message);
  return value;
}

/** -t/--timeout: seconds allowed for one attempt. */
export function timeoutOption(help: string, defaultSeconds: number) {
  return option({
    short: "t",
    metavar: "SECONDS",
    help,
    parse: seconds(),
    default: defaultSeconds,
  });
}

/** -r/--num-retries: extra attempts after a failed one (the probe backs off between them). */
export function retriesOption(defaultRetries: number) {
  return option({
    short: "r",
    metavar: "N",
    help: "Extra attempts after a failed one, with a brief back-off.",
    parse: count(),
    default: defaultRetries,
  });
}

/** Basic-auth options: -U, and the password inline (-P), by env var name or from a file. */
export const CREDENTIALS = {
  username: option({
    short: "U",
    metavar: "USER",
    help: "Basic-auth user name.",
    parse: (raw) => {
      const user = text(raw);
      // RFC 7617: the user-id of basic auth cannot contain a colon
      if (user.includes(":")) throw new Error("must not contain ':' (basic auth)");
      return user;
    },
  }),
  password: option({
    short: "P",
    metavar: "PASSWORD",
    help: "Basic-auth password (visible in ps; prefer --password-env or --password-file).",
    parse: text,
  }),
  password_env: option({
    metavar: "NAME",
    help: "Read the basic-auth password from environment variable NAME.",
    parse: nonEmpty,
  }),
  password_file: option({
    metavar: "PATH",
    help: "Read the basic-auth password from a file (one trailing newline is dropped).",
    parse: nonEmpty,
  }),
};

/**
 * The credentials of CREDENTIALS, read at start-up (the env var or file);
 * undefined when none is given. OptionError names the culprit.
 */
export function resolveCredentials(
  o: { username?: string; password?: string; password_env?: string; password_file?: string },
  name: Namer,
): { username: string; password: string } | undefined {
  const password = secretFrom(
    { inline: o.password, env: o.password_env, file: o.password_file },
    { inline: "password", env: "password_env", file: "password_file" },
    name,
  );
  if (o.username === undefined && password === undefined) return undefined;
  return { username: o.username ?? "", password: password ?? "" };
}
