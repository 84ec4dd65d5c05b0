/**
 * The contract between a check and the machinery that runs it.
 *
 * A check is a prober: given one process, its validated options and a
 * context, it returns a verdict. It knows nothing about supervisord's
 * protocol or about restarts; deciding what to do with a verdict is the
 * runner's job (lib/runner.ts).
 */
import type { z } from "zod";

/** The part of supervisord's process info a check may look at. */
export interface ProcessInfo {
  name: string;
  group: string;
  pid: number;
  /** supervisord state code (20 = RUNNING). */
  state: number;
  statename: string;
  /** Unix time the process was started. */
  start: number;
  /** Exit status of the last run (meaningful in EXITED). */
  exitstatus?: number;
}

/** `group:name`, the namespec supervisord's API takes. */
export function namespec(p: Pick<ProcessInfo, "group" | "name">): string {
  return `${p.group}:${p.name}`;
}

/**
 * healthy: it passed. unhealthy: it failed and may be restarted.
 * unknown: the check could not judge (bad configuration for this process,
 * unreadable /proc, the check itself threw); never leads to a restart.
 */
export type VerdictStatus = "healthy" | "unhealthy" | "unknown";

export interface Verdict {
  status: VerdictStatus;
  message: string;
}

export const healthy = (message: string): Verdict => ({ status: "healthy", message });
export const unhealthy = (message: string): Verdict => ({ status: "unhealthy", message });
export const unknown = (message: string): Verdict => ({ status: "unknown", message });

/**
 * Thrown when a check cannot be configured for a process (e.g. no port can
 * be derived from its name). The runner turns it into an `unknown` verdict.
 */
export class CheckConfigError extends Error {
  override name = "CheckConfigError";
}

export interface CheckContext {
  /** Aborted when the listener shuts down; checks pass it to their I/O. */
  signal: AbortSignal;
  /** 1 for the first try, 2 for the first retry, ... */
  attempt: number;
  /**
   * State this check keeps for this process from round to round (e.g. the
   * last CPU-time sample). Keyed by `group:name`, so it survives a restart:
   * compare the pid you stored with `process.pid` where that matters.
   */
  state: Map<string, unknown>;
}

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

/**
 * A check kind. `schema` validates and completes the raw option values
 * (strings from the command line, or JSON values from a config file) into
 * the options `run` receives.
 */
export interface CheckDefinition<O = unknown> {
  name: string;
  description: string;
  options: OptionSpec[];
  schema: z.ZodType<O>;
  /** Extra attempts after a failed one (the original's --num-retries). */
  retries(options: O): number;
  run(process: ProcessInfo, options: O, ctx: CheckContext): Promise<Verdict>;
}

/** A check kind bound to validated options: what the runner executes. */
export interface ConfiguredCheck {
  // deno-lint-ignore no-explicit-any
  definition: CheckDefinition<any>;
  options: unknown;
}
