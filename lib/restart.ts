/**
 * Restarting a process through supervisord, safely: only a process that is
 * still RUNNING with the pid that failed its check is touched (re-read
 * right before acting), then stopProcess and startProcess, each step's
 * fault reported by name.
 */
import { namespec, type ProcessInfo } from "./check.ts";
import { PROC_ROOT, readStat } from "./proc.ts";
import {
  STATE_RUNNING,
  type SupervisorClient,
  SupervisorFault,
  SupervisorUnavailable,
} from "./supervisor.ts";

export type RestartOutcome =
  /** stopped and started again */
  | "restarted"
  /** left alone: it changed since it was checked */
  | "skipped"
  /** a step failed; `detail` says which and why */
  | "failed";

export interface RestartResult {
  outcome: RestartOutcome;
  detail: string;
  /** pid after the restart, when it came back RUNNING */
  newPid?: number;
  /** it was stopped by a signal (state T) and was sent SIGCONT to act on the stop */
  resumed?: boolean;
}

/**
 * A process stopped by a signal (state T: SIGSTOP, job control) cannot act
 * on supervisord's stop signal, so supervisord would wait out its
 * stopwaitsecs (10 s by default) and SIGKILL it. Once the stop has been
 * requested, resume it so it can shut down at once, gracefully. Needs
 * /proc and permission to signal the process; without them, nothing
 * changes (supervisord still SIGKILLs it in the end).
 */
async function resumeIfStopped(pid: number, procRoot: string): Promise<boolean> {
  const stat = await readStat(pid, procRoot);
  if (stat?.state !== "T") return false;
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

function faultText(e: unknown): string {
  if (e instanceof SupervisorFault) {
    // supervisord's fault strings usually start with the name already ("BAD_NAME: x")
    return e.faultString.startsWith(e.faultName)
      ? e.faultString
      : `${e.faultName}: ${e.faultString}`;
  }
  return (e as Error)?.message ?? String(e);
}

/**
 * The process as supervisord sees it right now, or the result to report
 * when it cannot be read: skipped when supervisord no longer knows it,
 * failed when supervisord cannot be asked.
 */
async function reread(
  client: SupervisorClient,
  spec: string,
): Promise<ProcessInfo | RestartResult> {
  try {
    return await client.getProcessInfo(spec);
  } catch (e) {
    if (e instanceof SupervisorFault) {
      return { outcome: "skipped", detail: `re-reading ${spec} failed (${faultText(e)})` };
    }
    return { outcome: "failed", detail: faultText(e) };
  }
}

/** The pid after a start, for the log; undefined when it cannot be read. */
async function pidAfterStart(client: SupervisorClient, spec: string): Promise<number | undefined> {
  try {
    return (await client.getProcessInfo(spec)).pid;
  } catch {
    return undefined;
  }
}

export async function restartProcess(
  client: SupervisorClient,
  failed: ProcessInfo,
  /** where /proc is read (tests: a missing one) */
  procRoot = PROC_ROOT,
): Promise<RestartResult> {
  const spec = namespec(failed);
  const current = await reread(client, spec);
  if ("outcome" in current) return current;
  if (current.state !== STATE_RUNNING) {
    return {
      outcome: "skipped",
      detail: `now ${current.statename}, not RUNNING: left to supervisord`,
    };
  }
  if (current.pid !== failed.pid) {
    return {
      outcome: "skipped",
      detail: `pid changed from ${failed.pid} to ${current.pid} since the check: already restarted`,
    };
  }

  const steps: string[] = [];
  // the stop's outcome is captured at once: a fast fault must not be an unhandled rejection
  const stopping = client.stopProcess(spec, true).then(
    () => undefined,
    (e: unknown) => ({ error: e }),
  );
  const resumed = await resumeIfStopped(current.pid, procRoot);
  const stopFailure = await stopping;
  if (stopFailure === undefined) {
    steps.push("stopped");
  } else if (stopFailure.error instanceof SupervisorUnavailable) {
    return { outcome: "failed", detail: `stop: ${stopFailure.error.message}`, resumed };
  } else {
    // NOT_RUNNING: it died meanwhile. Anything else: try the start anyway,
    // as the original does; the start's answer tells what state it is in.
    steps.push(`stop failed (${faultText(stopFailure.error)})`);
  }
  try {
    await client.startProcess(spec, true);
  } catch (e) {
    steps.push(`start failed (${faultText(e)})`);
    return { outcome: "failed", detail: steps.join(", "), resumed };
  }
  steps.push("started");
  return {
    outcome: "restarted",
    detail: steps.join(", "),
    newPid: await pidAfterStart(client, spec),
    resumed,
  };
}

/** States `--revive` starts again: given up (FATAL) or exited with a failure status. */
export function needsRevival(p: ProcessInfo): boolean {
  return p.statename === "FATAL" || (p.statename === "EXITED" && (p.exitstatus ?? 0) !== 0);
}

/**
 * Starts a process supervisord gave up on (--revive), if it is still in
 * that state when re-read.
 */
export async function reviveProcess(
  client: SupervisorClient,
  seen: ProcessInfo,
): Promise<RestartResult> {
  const spec = namespec(seen);
  const current = await reread(client, spec);
  if ("outcome" in current) return current;
  if (!needsRevival(current)) {
    return { outcome: "skipped", detail: `now ${current.statename}: left to supervisord` };
  }
  try {
    await client.startProcess(spec, true);
  } catch (e) {
    return { outcome: "failed", detail: `start failed (${faultText(e)})` };
  }
  return {
    outcome: "restarted",
    detail: `started from ${current.statename}`,
    newPid: await pidAfterStart(client, spec),
  };
}
