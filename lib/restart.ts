/**
 * Restarting a process through supervisord, safely: only a process still
 * RUNNING with the pid that failed its check is touched (re-read right
 * before acting), then stopProcess and startProcess, each step's fault
 * reported by name. The one restart path for every listener: RestartHooks
 * adapt it (httpok's gcore and --restart-command), the finisher completes it
 * if the listener dies, and every outcome is counted here for /metrics.
 */
import { namespec, type ProcessInfo } from "./check.ts";
import { listenerMetrics, type RestartCount } from "./metrics.ts";
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
  | "failed"
  /** the listener is stopping: its finisher process completes the restart */
  | "handed-over";

export interface RestartResult {
  outcome: RestartOutcome;
  detail: string;
  /** pid after the restart, when it came back RUNNING */
  newPid?: number;
  /** it was stopped by a signal (state T) and was sent SIGCONT to act on the stop */
  resumed?: boolean;
  /** what RestartHooks.before said (a core dump's output) */
  before?: string;
}

/**
 * How a listener adapts the careful restart (httpok: a core dump first,
 * --restart-command instead of stop and start). Both run only once the
 * process has been re-read RUNNING with the pid that failed.
 */
export interface RestartHooks {
  /** Runs before the stop; what it says goes into RestartResult.before. */
  before?(process: ProcessInfo): Promise<string>;
  /** Restarts it another way than stopProcess/startProcess, held by the finisher all the same. */
  instead?(process: ProcessInfo): Promise<{ ok: boolean; detail: string }>;
  /** How a dry run says what the hooks would add (" after a core dump (gcore not run)"). */
  dryRun?: string;
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

/**
 * Counts a restart's outcome for `owner` (the check entry, httpok's name):
 * restartProcess counts every outcome once per request
 * (supervisor_checks_restarts_total); the listeners count here the restarts
 * they decide against (dry run, budget spent). A restart handed to the
 * finisher counts as handed-over, and no listener counts it again.
 */
export function countRestart(
  owner: string,
  process: Pick<ProcessInfo, "group" | "name">,
  outcome: RestartCount,
) {
  listenerMetrics.restarts.inc({ check: owner, group: process.group, name: process.name, outcome });
}

/** Counts the result as it reaches the caller. */
function counted(
  owner: string,
  process: ProcessInfo,
  result: Promise<RestartResult>,
): Promise<RestartResult> {
  return result.then((r) => {
    countRestart(owner, process, r.outcome);
    return r;
  });
}

/**
 * What restarts need of the finisher (lib/finisher.ts): told before a stop,
 * told after the start. Declared here so that this module does not import it.
 */
export interface Finisher {
  readonly pid?: number;
  /** false: it could not take the restart (the stop must not go ahead). */
  begin(spec: string, pid: number, check: string): Promise<boolean>;
  end(spec: string): Promise<void>;
}

/** The finisher that guards restarts in this OS process, once a listener has set one. */
let finisher: Finisher | undefined;

export function useFinisher(f: Finisher | undefined) {
  finisher = f;
}

interface InFlight {
  /** The check (run --config entry, httpok name) that started it. */
  owner: string;
  done: Promise<RestartResult>;
  /** true once the finisher holds it (the listener need not wait for it); false if never. */
  held: Promise<boolean>;
}

/** Restarts under way in this OS process, by namespec, whichever check started them. */
const inFlight = new Map<string, InFlight>();

export interface RestartOptions {
  /** Who asks, for the log line of a second check joining a restart under way. */
  owner?: string;
  /**
   * The listener stopping: a restart its finisher holds then resolves at once
   * as "handed-over" instead of waiting for the stop and the start.
   */
  signal?: AbortSignal;
  /** where /proc is read (tests: a missing one) */
  procRoot?: string;
  hooks?: RestartHooks;
}

/**
 * Restarts `failed` if it is still RUNNING with the same pid. Restarts are
 * tracked for the whole OS process, whoever asks: a restart of the same
 * process already under way (another entry of run --config) is joined and
 * resolves when that one ends, as "skipped". Once a listener has set a
 * Finisher, the restart is handed to it before its stop, so the start
 * happens even if the listener is stopped or killed meanwhile.
 */
export function restartProcess(
  client: SupervisorClient,
  failed: ProcessInfo,
  { owner = "another check", signal, procRoot = PROC_ROOT, hooks }: RestartOptions = {},
): Promise<RestartResult> {
  const spec = namespec(failed);
  const running = inFlight.get(spec);
  if (running !== undefined) {
    return counted(
      owner,
      failed,
      untilHandedOver(running, signal).then((r) => ({
        outcome: r.outcome === "handed-over" ? r.outcome : "skipped",
        detail: `already being restarted by ${running.owner} (${r.outcome}: ${r.detail})`,
      })),
    );
  }
  let markHeld!: (held: boolean) => void;
  const held = new Promise<boolean>((resolve) => markHeld = resolve);
  const done = stopAndStart(client, failed, owner, procRoot, markHeld, hooks).finally(() => {
    markHeld(false);
    inFlight.delete(spec);
  });
  const entry = { owner, done, held };
  inFlight.set(spec, entry);
  return counted(owner, failed, untilHandedOver(entry, signal));
}

/** The restart's result, or "handed-over" as soon as `signal` aborts while the finisher holds it. */
function untilHandedOver(entry: InFlight, signal?: AbortSignal): Promise<RestartResult> {
  if (signal === undefined) return entry.done;
  return new Promise((resolve) => {
    const handOver = () =>
      entry.held.then((held) => {
        if (!held) return;
        resolve({
          outcome: "handed-over",
          detail: `the listener is stopping: its finisher (pid ${finisher?.pid ?? "?"}) ` +
            "starts it again once it has stopped",
        });
      });
    if (signal.aborted) handOver();
    else signal.addEventListener("abort", handOver, { once: true });
    entry.done.then(resolve).finally(() => signal.removeEventListener("abort", handOver));
  });
}

async function stopAndStart(
  client: SupervisorClient,
  failed: ProcessInfo,
  owner: string,
  procRoot: string,
  markHeld: (held: boolean) => void,
  hooks: RestartHooks = {},
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

  const before = await hooks.before?.(current);
  // from here on the process may be left stopped: the finisher must know before the stop
  const holder = finisher;
  const held = await holder?.begin(spec, current.pid, owner) ?? false;
  markHeld(held);
  try {
    const result = hooks.instead
      ? await hooks.instead(current).then(({ ok, detail }): RestartResult => ({
        outcome: ok ? "restarted" : "failed",
        detail,
      }))
      : await stopThenStart(client, spec, current.pid, procRoot);
    return before === undefined ? result : { ...result, before };
  } finally {
    if (held) await holder?.end(spec);
  }
}

async function stopThenStart(
  client: SupervisorClient,
  spec: string,
  pid: number,
  procRoot: string,
): Promise<RestartResult> {
  const steps: string[] = [];
  // the stop's outcome is captured at once: a fast fault must not be an unhandled rejection
  const stopping = client.stopProcess(spec, true).then(
    () => undefined,
    (e: unknown) => ({ error: e }),
  );
  const resumed = await resumeIfStopped(pid, procRoot);
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

/** A stopped process's state in words: `EXITED with status 3`, `FATAL`. */
export function stateText(p: ProcessInfo): string {
  return p.statename === "EXITED" ? `EXITED with status ${p.exitstatus}` : p.statename;
}

/** States `--revive` starts again: given up (FATAL) or exited with a failure status. */
export function needsRevival(p: ProcessInfo): boolean {
  return p.statename === "FATAL" || (p.statename === "EXITED" && (p.exitstatus ?? 0) !== 0);
}

/**
 * Starts a process supervisord gave up on (--revive), if it is still in
 * that state when re-read; `owner` (who asks) labels the count.
 */
export function reviveProcess(
  client: SupervisorClient,
  seen: ProcessInfo,
  owner = "revive",
): Promise<RestartResult> {
  return counted(owner, seen, startAgain(client, seen));
}

async function startAgain(client: SupervisorClient, seen: ProcessInfo): Promise<RestartResult> {
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
