/**
 * supervisord's process list as `serve` uses it: fetched on demand, shared
 * by concurrent requests and reused for a second, with a short timeout so a
 * wedged supervisord makes a probe fail, not hang. Also the liveness rule
 * built on it: every process selected by --group/--process is RUNNING.
 */
import { namespec, type ProcessInfo } from "./check.ts";
import { HealthCache } from "./health_cache.ts";
import type { ProcessSelector } from "./select.ts";
import { STATE_RUNNING, type SupervisorClient, toProcessInfo } from "./supervisor.ts";

/** How long one answer of supervisord is reused. */
export const PROCESS_LIST_TTL_MS = 1_000;
/** Time allowed for supervisord to answer getAllProcessInfo. */
export const PROCESS_LIST_TIMEOUT_MS = 3_000;

type Outcome = { processes: ProcessInfo[] } | { error: string };

export class ProcessList {
  readonly #cache = new HealthCache<Outcome>(() => PROCESS_LIST_TTL_MS);

  constructor(readonly client: SupervisorClient) {}

  /** The processes, or why supervisord could not tell (never rejects). */
  get(): Promise<Outcome> {
    return this.#cache.get("all", async () => {
      try {
        const list = await this.client.call(
          "supervisor.getAllProcessInfo",
          [],
          PROCESS_LIST_TIMEOUT_MS,
        ) as Record<string, unknown>[];
        return {
          processes: list.map(toProcessInfo),
        };
      } catch (e) {
        return { error: (e as Error).message };
      }
    });
  }
}

/**
 * Why the selected processes do not all run (undefined: they do). Each
 * selector must match at least one process.
 */
export function notRunning(
  processes: ProcessInfo[],
  selectors: ProcessSelector[],
): string | undefined {
  const problems: string[] = [];
  for (const selector of selectors) {
    const matched = processes.filter((p) => selector.matches(p));
    if (matched.length === 0) problems.push(`no process matches ${selector.describe()}`);
    for (const p of matched) {
      if (p.state !== STATE_RUNNING) problems.push(`${namespec(p)} is ${p.statename}`);
    }
  }
  return problems.length ? [...new Set(problems)].join(", ") : undefined;
}
