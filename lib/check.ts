/**
 * The contract between a check and the machinery that runs it.
 *
 * A check is a prober: given one process, its validated options and a
 * context, it returns a verdict. It knows nothing about supervisord's
 * protocol or about restarts; deciding what to do with a verdict is the
 * runner's job (lib/runner.ts).
 */
import { type Options, options, type Spec } from "./option.ts";

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

/**
 * A check kind: its own options, declared once (lib/option.ts), from which
 * come its flags, its config-file keys, their --help and their validation.
 */
export interface CheckDefinition<O = unknown> {
  name: string;
  description: string;
  /** The check's own options, declared once (lib/option.ts); finish() returns what run receives. */
  options: Options<Spec, O>;
  /** Extra attempts after a failed one (the original's --num-retries); none when absent. */
  retries?(options: O): number;
  run(process: ProcessInfo, options: O, ctx: CheckContext): Promise<Verdict>;
}

/** What defineCheck takes: only `name` and `run` are needed. */
export interface CheckDeclaration<O> {
  name: string;
  /** One sentence for --help; the name when absent. */
  description?: string;
  /** The check's options (lib/option.ts); none when absent. */
  options?: Options<Spec, O>;
  retries?(options: O): number;
  /** true: healthy, false: unhealthy; or a Verdict. Sync or async; a throw is `unknown`. */
  run(
    process: ProcessInfo,
    options: O,
    ctx: CheckContext,
  ): boolean | Verdict | Promise<boolean | Verdict>;
}

/**
 * A check kind from a function, as the original's `BaseCheck.__call__`:
 *
 *   const alive = defineCheck({ name: "alive", run: (p) => p.pid > 0 });
 */
export function defineCheck<O = Record<never, never>>(d: CheckDeclaration<O>): CheckDefinition<O> {
  return {
    name: d.name,
    description: d.description ?? d.name,
    options: d.options ?? (options({}) as unknown as Options<Spec, O>),
    ...(d.retries ? { retries: d.retries } : {}),
    async run(process, o, ctx) {
      const result = await d.run(process, o, ctx);
      // anything else is for the probe to judge (lib/probe.ts asVerdict: unknown)
      if (typeof result !== "boolean") return result;
      return result ? healthy(`${d.name} check passed`) : unhealthy(`${d.name} check failed`);
    },
  };
}

/** A check kind bound to validated options: what the runner executes. */
export interface ConfiguredCheck {
  // deno-lint-ignore no-explicit-any
  definition: CheckDefinition<any>;
  options: unknown;
}
