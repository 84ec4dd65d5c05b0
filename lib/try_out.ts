/**
 * Trying a listener before deploying it: --once runs one round of every
 * check set now and prints the verdicts (lib/once.ts); --validate prints
 * what each check set would do, without asking supervisord.
 */
import type { ConfiguredCheck } from "./check.ts";
import type { ListenerSettings } from "./cli.ts";
import type { LogFormat, Logger } from "./log.ts";
import { Notifier } from "./notify.ts";
import { renderOnce } from "./once.ts";
import type { Runner } from "./runner.ts";

/** One round of each runner, at once; prints the verdicts; resolves to the exit code. */
export async function runOnce(runners: Runner[], format: LogFormat): Promise<number> {
  const started = performance.now();
  const rounds = await Promise.all(runners.map(async (runner) => {
    const report = await runner.once();
    return {
      check: runner.checkName,
      error: report.error,
      nothingSelected: report.nothingSelected ? runner.selection : undefined,
      processes: report.processes.map((p) => ({ ...p, check: runner.checkName })),
    };
  }));
  const outcome = renderOnce(rounds, (performance.now() - started) / 1000, format);
  await Deno.stdout.write(new TextEncoder().encode(outcome.output));
  await Promise.all(runners.map((r) => r.stop()));
  return outcome.code;
}

const times = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/**
 * One line on what a check set does: checks (or `summary`, what a shared
 * probe checks: httpok's GET), selection, timing, policy, notifications.
 */
export function describeJob(
  settings: ListenerSettings,
  checks: ConfiguredCheck[],
  logger: Logger,
  summary?: string,
): string {
  const { policy } = settings;
  const parts = [
    `${summary ?? checks.map((c) => c.definition.name).join(" + ")} on ` +
    settings.selector.describe(),
    settings.interval === undefined ? "on every TICK event" : `every ${settings.interval}s`,
    `restart after ${times(policy.failureThreshold, "failed round")} in a row`,
  ];
  if (policy.successThreshold > 1) {
    parts.push(`${times(policy.successThreshold, "pass")} in a row end a failure streak`);
  }
  if (settings.startGrace > 0) parts.push(`not judged in the first ${settings.startGrace}s`);
  if (policy.maxRestarts !== undefined) {
    parts.push(
      `at most ${times(policy.maxRestarts, "restart")} per process in ${policy.restartWindow}s`,
    );
  }
  if (settings.maxParallelRestarts !== undefined) {
    parts.push(`at most ${settings.maxParallelRestarts} restarting per group at once`);
  }
  if (settings.revive) parts.push("FATAL and failed EXITED processes started again");
  if (settings.dryRun) parts.push("DRY RUN (nothing is restarted)");
  const notifier = new Notifier(settings.notify, logger);
  if (notifier.enabled) parts.push(`notifying ${notifier.describe()}`);
  return `${settings.checkName}: ${parts.join(", ")}`;
}

/** --validate's output: one line per check set, then the verdict. */
export function describeJobs(
  jobs: { settings: ListenerSettings; checks: ConfiguredCheck[]; summary?: string }[],
  logger: Logger,
): string {
  const lines = jobs.map(({ settings, checks, summary }) =>
    describeJob(settings, checks, logger, summary)
  );
  return [...lines, `OK: ${times(jobs.length, "check set")}, valid`].join("\n");
}
