/**
 * The environment dump behind `serve`'s GET /environment: what runs where
 * (os, process, runtime), the serve config, and custom sections, with
 * secrets masked.
 *
 * Masking is lib/redact.ts's maskDeep: secret-named keys and variables
 * hide their whole value, and every string has its credential-looking parts
 * masked (URL passwords, DSN keys, tokens, `-p`/`--password=` in commands).
 */
import { argv } from "node:process";
import { maskDeep } from "./redact.ts";

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
  return maskDeep(dump) as Record<string, unknown>;
}
