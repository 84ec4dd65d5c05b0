/**
 * The environment dump behind `serve`'s GET /environment: what runs where
 * (os, process, runtime), the serve config, and custom sections, with
 * secrets masked.
 *
 * Masking: the value of every key (at any depth, arrays included) and
 * every environment variable whose name contains `key`, `token`, `pass`,
 * `secret`, `auth`, `credential` or `cookie` (any case) becomes "********".
 * Inside every string value, the password of a `scheme://user:password@host`
 * URL and the value of a query parameter with such a name (`?token=…`) are
 * masked too: a DATABASE_URL, a ready URL in argv.
 */
import { argv } from "node:process";

export const MASK = "********";

const SECRET_WORDS = "key|token|pass|secret|auth|credential|cookie";
const SECRET_NAME = new RegExp(SECRET_WORDS, "i");
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):[^\s/?#@]*@/gi;
/** `?token=VALUE`; a colon ending the value (`…?token=x: HTTP 200`) stays. */
const SECRET_PARAM = new RegExp(
  `([?&][^=&#\\s]*(?:${SECRET_WORDS})[^=&#\\s]*=)[^&#\\s]*?(:?(?=[&#\\s]|$))`,
  "gi",
);

/** Whether a key or variable name looks like it holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Masks secrets inside a string: `https://u:p@h/?token=t&page=2` →
 * `https://u:********@h/?token=********&page=2`.
 */
export function maskSecretsInText(text: string): string {
  return text.replace(URL_PASSWORD, `$1:${MASK}@`).replace(SECRET_PARAM, `$1${MASK}$2`);
}

/** A deep copy of `value` with secrets masked (see the module doc). */
export function maskSecrets(value: unknown): unknown {
  if (typeof value === "string") return maskSecretsInText(value);
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map((
        [k, v],
      ) => [k, isSecretName(k) ? MASK : maskSecrets(v)]),
    );
  }
  return value;
}

/** Which sections GET /environment shows. */
export interface EnvironmentOptions {
  os: boolean;
  process: boolean;
  runtime: boolean;
  config: boolean;
  /** Extra sections, by name, shown as given. */
  sections: Record<string, unknown>;
}

/** The built-in section names; custom sections may not reuse them. */
export const BUILTIN_SECTIONS = ["os", "process", "runtime", "config"] as const;

function osSection(): Record<string, unknown> {
  return {
    platform: Deno.build.os,
    arch: Deno.build.arch,
    release: Deno.osRelease(),
    hostname: Deno.hostname(),
    cpus: navigator.hardwareConcurrency,
    uptime_seconds: Deno.osUptime(),
    loadavg: Deno.loadavg(),
    memory: Deno.systemMemoryInfo(),
  };
}

function processSection(): Record<string, unknown> {
  return {
    pid: Deno.pid,
    ppid: Deno.ppid,
    argv: [...argv],
    cwd: Deno.cwd(),
    exec_path: Deno.execPath(),
    uid: Deno.uid(),
    gid: Deno.gid(),
    uptime_seconds: Math.round(performance.now()) / 1000,
    memory: Deno.memoryUsage(),
    environment: Deno.env.toObject(),
  };
}

function runtimeSection(): Record<string, unknown> {
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    target: Deno.build.target,
  };
}

/** The dump, secrets masked: the enabled built-in sections, then the custom ones. */
export function environmentDump(
  options: EnvironmentOptions,
  config: unknown,
): Record<string, unknown> {
  const dump: Record<string, unknown> = {};
  if (options.os) dump.os = osSection();
  if (options.process) dump.process = processSection();
  if (options.runtime) dump.runtime = runtimeSection();
  if (options.config) dump.config = config;
  Object.assign(dump, options.sections);
  return maskSecrets(dump) as Record<string, unknown>;
}
