/**
 * Restarting a process through supervisord, safely: only a process that is
 * still RUNNING with the pid that failed its check is touched (re-read
 * right before acting), then stopProcess and startProcess, each step's
 * fault reported by name.
 */
import { namespec, type ProcessInfo } from "./check.ts";
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
  try {
    await client.stopProcess(spec, true);
    steps.push("stopped");
  } catch (e) {
    if (e instanceof SupervisorUnavailable) {
      return { outcome: "failed", detail: `stop: ${e.message}` };
    }
    // NOT_RUNNING: it died meanwhile. Anything else: try the start anyway,
    // as the original does; the start's answer tells what state it is in.
    steps.push(`stop failed (${faultText(e)})`);
  }
  try {
    await client.startProcess(spec, true);
  } catch (e) {
    steps.push(`start failed (${faultText(e)})`);
    return { outcome: "failed", detail: steps.join(", ") };
  }
  steps.push("started");
  return {
    outcome: "restarted",
    detail: steps.join(", "),
    newPid: await pidAfterStart(client, spec),
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
